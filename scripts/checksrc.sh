#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Source rules that clang-format cannot check (style.md §12): banned functions, raw allocators,
# printing and exit outside cli/tests/bench, // comments, tabs, trailing spaces, SPDX lines.
set -u
cd "$(dirname "$0")/.."
fail=0
say() { echo "checksrc: $*"; fail=1; }
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')
for f in $files; do
  head -3 "$f" | grep -q 'SPDX-License-Identifier' || say "$f: missing SPDX line"
  grep -nP '\t' "$f" | head -1 | sed "s|^|$f:|;s|$| (tab)|" | grep . && fail=1
  grep -nP '[ \t]+$' "$f" | head -1 | sed "s|^|$f:|;s|$| (trailing space)|" | grep . && fail=1
  # // comments (ignore '://' inside strings such as URLs)
  grep -nP '(^|[^:"])//' "$f" | grep -vP '"[^"]*//[^"]*"' | head -1 | sed "s|^|$f:|;s|$| (// comment)|" | grep . && fail=1
  grep -nwP '(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|gets|atoi|atol|atof|alloca|gettimeofday)\s*\(' "$f" |
    head -1 | sed "s|^|$f:|;s|$| (banned function)|" | grep . && fail=1
  case "$f" in
    src/common/xalloc.c) ;;
    *) grep -nP '(?<![a-z_])(malloc|calloc|realloc|strdup|strndup)\s*\(' "$f" | head -1 |
         sed "s|^|$f:|;s|$| (raw allocator; use xalloc)|" | grep . && fail=1 ;;
  esac
  case "$f" in
    src/cli/*|src/common/xalloc.c|tests/*|bench/*) ;;
    *) grep -nP '(?<![a-z_.>])(printf|puts|perror|exit)\s*\(|\b(stdout|stderr)\b' "$f" | head -1 |
         sed "s|^|$f:|;s|$| (printing/exit outside cli)|" | grep . && fail=1 ;;
  esac
done
[ "$fail" -eq 0 ] && echo "checksrc: ok"
exit "$fail"
