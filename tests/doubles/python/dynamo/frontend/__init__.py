# SPDX-License-Identifier: Apache-2.0
"""Double of dynamo.frontend; the version is the ai-dynamo distribution's (dist-info)."""
from kvtier_double.versions import dist_version

__version__ = dist_version("ai-dynamo")
