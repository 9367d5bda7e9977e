#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A small JSON Schema checker for the subset docs/*.schema.json use: type (with lists), required,
# properties, additionalProperties (schema or bool), items, enum, const, minimum, minItems,
# minLength, $ref to #/$defs. Usage: schema_check.py SCHEMA FILE... ; exit 1 with the path of the
# first violation.
import json
import sys

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def is_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def check(v, s, root, path):
    if "$ref" in s:
        ref = s["$ref"]
        assert ref.startswith("#/$defs/"), ref
        s = root["$defs"][ref[len("#/$defs/"):]]
    t = s.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(is_type(v, x) for x in ts):
            raise ValueError(f"{path}: expected {t}, got {type(v).__name__}")
    if "const" in s and v != s["const"]:
        raise ValueError(f"{path}: expected {s['const']!r}")
    if "enum" in s and v not in s["enum"]:
        raise ValueError(f"{path}: {v!r} not in {s['enum']}")
    if "minimum" in s and is_type(v, "number") and v < s["minimum"]:
        raise ValueError(f"{path}: {v} < {s['minimum']}")
    if "minLength" in s and isinstance(v, str) and len(v) < s["minLength"]:
        raise ValueError(f"{path}: too short")
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                raise ValueError(f"{path}: missing required key '{k}'")
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props:
                check(x, props[k], root, f"{path}.{k}")
            elif isinstance(s.get("additionalProperties"), dict):
                check(x, s["additionalProperties"], root, f"{path}.{k}")
            elif s.get("additionalProperties") is False:
                raise ValueError(f"{path}: unexpected key '{k}'")
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            raise ValueError(f"{path}: fewer than {s['minItems']} items")
        if "items" in s:
            for i, x in enumerate(v):
                check(x, s["items"], root, f"{path}[{i}]")


def main():
    schema = json.load(open(sys.argv[1]))
    for f in sys.argv[2:]:
        try:
            check(json.load(open(f)), schema, schema, "$")
        except ValueError as e:
            print(f"{f}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
