#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's demo: runs the main job against the emulated engine and points at the output.
# It grows with the project; today it shows the command set and the profiles that ship.
set -euo pipefail
build=${1:-build}
kv="$build/src/cli/kvtier"
"$kv" --version
"$kv" --help
