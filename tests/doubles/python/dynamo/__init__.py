# SPDX-License-Identifier: Apache-2.0
"""kvtier test double of the `dynamo` package (see kvtier_double/__init__.py)."""
