#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The key structure of a bundle's manifest.json, summary.json and verdict.json against a
# checked-in skeleton (issue 12: bundles written before and after a refactor are the same apart
# from timestamps and measured values). For each listed container (a dotted path, '*' for every
# key of a map such as the phases) the set of its keys is compared; values, and containers whose
# keys depend on the machine or on the verdict (host, OS figures, reason-code details), are not.
# Usage: bundle_structure.py BUNDLE_DIR SKELETON.json [--write]
import json
import sys

CONTAINERS = {
    "manifest.json": ["", "tool", "stack", "model", "model.engine_provenance", "mode", "storage",
                      "workload", "capacity", "repeat", "preparation",
                      "preparation.disk_cache_dir", "preparation.page_cache"],
    "summary.json": ["", "phases.*", "phases.*.kvbm", "phases.*.reuse"],
    "verdict.json": ["", "chain", "evidence", "evidence.health", "evidence.config",
                     "evidence.capacity", "evidence.phases.*", "evidence.phases.*.kvbm",
                     "evidence.phases.*.reuse", "evidence.smart", "evidence.repeats"],
}


def select(doc, parts):
    if not parts:
        return [doc]
    head, rest = parts[0], parts[1:]
    if not isinstance(doc, dict):
        return []
    if head == "*":
        return [x for v in doc.values() for x in select(v, rest)]
    return select(doc[head], rest) if head in doc else []


def skeleton(bundle):
    out = {}
    for name, containers in CONTAINERS.items():
        doc = json.load(open(f"{bundle}/{name}"))
        for c in containers:
            keys = set()
            for obj in select(doc, c.split(".") if c else []):
                if isinstance(obj, dict):
                    keys |= set(obj)
            out[f"{name}:{c}"] = sorted(keys)
    return out


def main():
    bundle, fixture = sys.argv[1], sys.argv[2]
    got = skeleton(bundle)
    if "--write" in sys.argv[3:]:
        json.dump(got, open(fixture, "w"), indent=1, sort_keys=True)
        open(fixture, "a").write("\n")
        return 0
    want = json.load(open(fixture))
    bad = 0
    for k in sorted(set(want) | set(got)):
        w, g = set(want.get(k, [])), set(got.get(k, []))
        if w != g:
            bad += 1
            print(f"{k}: missing {sorted(w - g)}, unexpected {sorted(g - w)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
