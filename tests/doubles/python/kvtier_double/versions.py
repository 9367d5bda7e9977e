# SPDX-License-Identifier: Apache-2.0
"""Versions the double's environment reports, from the *.dist-info directories next to the
packages (tests/doubles/python), exactly as importlib.metadata reads a real installation."""
import importlib.metadata


def dist_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
