#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Source rules that clang-format cannot check (style.md §12): banned functions, raw allocators,
# printing and exit outside cli/tests/bench, // comments, tabs, trailing spaces, SPDX lines, and
# the include DAG between components.
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
# The include DAG of docs/architecture.md: a component includes only the ones listed for it
# (a component not listed yet is only checked for cycles).
python3 - $(git ls-files 'src/*.c' 'src/*.h') <<'PY' || fail=1
import re, sys
allowed = {
    'common': set(), 'tokenizer': {'common'}, 'workload': {'tokenizer', 'common'},
    'loadgen': {'common'}, 'observe': {'common'}, 'probe': {'observe', 'common'},
    'stack': {'common'}, 'analysis': {'common'}, 'report': {'analysis', 'common'},
    'engine': {'tokenizer', 'common'}, 'twin': {'engine', 'common'},
    'run': {'workload', 'loadgen', 'observe', 'stack', 'analysis', 'report', 'common'},
}
edges, bad = {}, 0
for f in sys.argv[1:]:
    comp = f.split('/')[1]
    if comp == 'cli':
        continue
    for n, line in enumerate(open(f, encoding='utf-8', errors='replace'), 1):
        m = re.match(r'#include "([a-z_]+)/', line)
        if not m or m.group(1) == comp:
            continue
        dep = m.group(1)
        edges.setdefault(comp, set()).add(dep)
        if comp in allowed and dep not in allowed[comp]:
            print(f'checksrc: {f}:{n}: {comp} may not include {dep} (docs/architecture.md)')
            bad = 1
def cycle(node, path):
    for d in edges.get(node, ()):
        if d in path:
            return path[path.index(d):] + [d]
        c = cycle(d, path + [d])
        if c:
            return c
    return None
for c in sorted(edges):
    cyc = cycle(c, [c])
    if cyc:
        print('checksrc: include cycle: ' + ' -> '.join(cyc))
        bad = 1
        break
sys.exit(bad)
PY
[ "$fail" -eq 0 ] && echo "checksrc: ok"
exit "$fail"
