# SPDX-License-Identifier: Apache-2.0
"""Discovery store, planes and a YAML reader shared by the frontend and worker doubles."""
import json
import os
import socket
import sys
import tempfile
import urllib.parse


def die(msg, code=1):
    """Exit as the real process does on a runtime error: message on stderr, non-zero code."""
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.exit(code)


def store_root():
    """--store-kv file: DYN_FILE_KV, else $TMPDIR/dynamo_store_kv (Rust's temp_dir())."""
    root = os.environ.get("DYN_FILE_KV")
    if not root:
        root = os.path.join(os.environ.get("TMPDIR") or tempfile.gettempdir(), "dynamo_store_kv")
    return root


def _reachable(url, default_port):
    u = urllib.parse.urlparse(url if "://" in url else "tcp://" + url)
    host, port = u.hostname or "localhost", u.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def check_planes(store_kv, request_plane):
    """The distributed runtime connects to its discovery store and request plane at start;
    etcd and NATS that do not answer are fatal, as in DistributedRuntime::from_settings."""
    if store_kv == "etcd":
        eps = os.environ.get("ETCD_ENDPOINTS", "http://localhost:2379").split(",")[0]
        if not _reachable(eps, 2379):
            die(f"Error: Unable to create DistributedRuntime: etcd connection failed: "
                f"unable to connect to {eps} (is etcd running? --store-kv file needs none)")
    if request_plane == "nats":
        nats = os.environ.get("NATS_SERVER", "nats://localhost:4222")
        if not _reachable(nats, 4222):
            die(f"Error: Unable to create DistributedRuntime: Failed to connect to NATS "
                f"server {nats} (--request-plane nats is the default; pass "
                f"--request-plane tcp to run without NATS)")


def register(store_kv, namespace, component, endpoint, record):
    """Writes the worker's model card where the frontend watches; returns its path."""
    if store_kv != "file":
        return None
    d = os.path.join(store_root(), "v1", "mdc", namespace, component, endpoint)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{record['pid']}.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.replace(tmp, path)
    return path


def discover(store_kv, namespace=None):
    """Model cards the frontend can see: only through a shared file store across processes."""
    if store_kv != "file":
        return []
    base = os.path.join(store_root(), "v1", "mdc")
    out = []
    for dirpath, _, files in os.walk(base):
        rel = os.path.relpath(dirpath, base).split(os.sep)
        if namespace and rel and rel[0] != namespace:
            continue
        for fn in files:
            if not fn.endswith(".json"):
                continue
            try:
                with open(os.path.join(dirpath, fn)) as f:
                    rec = json.load(f)
            except (OSError, ValueError):
                continue
            pid = rec.get("pid", 0)
            try:
                os.kill(pid, 0)
            except OSError:
                continue
            out.append(rec)
    return out


class YamlError(ValueError):
    pass


def _scalar(text, where):
    t = text.strip()
    if t in ("", "~", "null", "Null", "NULL"):
        return None
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if t[0] in "\"'":
        if len(t) < 2 or t[-1] != t[0]:
            raise YamlError(f"{where}: unterminated quoted scalar")
        body = t[1:-1]
        return json.loads('"' + body + '"') if t[0] == '"' else body.replace("''", "'")
    if t[0] == "[" and t[-1] == "]":
        inner = t[1:-1].strip()
        return [] if not inner else [_scalar(x, where) for x in inner.split(",")]
    if t[0] == "{" and t[-1] == "}":
        if t[1:-1].strip():
            raise YamlError(f"{where}: non-empty flow mappings are outside this reader")
        return {}
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


def load_yaml(path):
    """Block-style YAML (mappings, sequences of scalars, scalars): what yaml.safe_load gives
    for the engine-args documents kvtier and people write. Anything else is an error naming
    the line, rather than a silent misreading."""
    with open(path) as f:
        lines = f.read().splitlines()
    root = {}
    stack = [(-1, root)]
    for n, raw in enumerate(lines, 1):
        where = f"{path}:{n}"
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise YamlError(f"{where}: tab in indentation")
        ind = len(line) - len(line.lstrip())
        body = line.strip()
        while stack and ind <= stack[-1][0]:
            stack.pop()
        parent = stack[-1][1]
        if body.startswith("- "):
            if not isinstance(parent, list):
                raise YamlError(f"{where}: sequence item where a mapping key was expected")
            parent.append(_scalar(body[2:], where))
            continue
        if ":" not in body:
            raise YamlError(f"{where}: expected 'key: value'")
        key, _, val = body.partition(":")
        key = key.strip().strip("\"'")
        if not isinstance(parent, dict):
            raise YamlError(f"{where}: mapping key inside a sequence")
        if key in parent:
            raise YamlError(f"{where}: duplicate key '{key}'")
        if val.strip():
            parent[key] = _scalar(val, where)
            continue
        # a nested block: a mapping, or a sequence when the next content line starts "- "
        nxt = next((x for x in lines[n:] if x.strip() and not x.lstrip().startswith("#")), "")
        child = [] if nxt.strip().startswith("- ") and (len(nxt) - len(nxt.lstrip())) >= ind else {}
        if not (len(nxt) - len(nxt.lstrip()) > ind or (isinstance(child, list) and nxt)):
            parent[key] = None
            continue
        parent[key] = child
        stack.append((ind, child))
    return root
