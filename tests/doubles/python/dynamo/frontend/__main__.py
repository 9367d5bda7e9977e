# SPDX-License-Identifier: Apache-2.0
"""Double of `python3 -m dynamo.frontend` (kvtier tests only).

Options, defaults and refusals follow ai-dynamo/dynamo components/src/dynamo/frontend/main.py,
parse_args() of the ai-dynamo 0.7.x line (argparse; env defaults DYN_KV_CACHE_BLOCK_SIZE,
DYN_HTTP_HOST 0.0.0.0, DYN_HTTP_PORT 8000, DYN_ROUTER_MODE round-robin, DYN_NAMESPACE,
DYN_STORE_KV etcd, DYN_REQUEST_PLANE nats; --tls-cert-path and --tls-key-path together).
It serves the OpenAI API on --http-host:--http-port: /health, /v1/models (the models workers
registered in the discovery store), /metrics (the worker's dynamo_frontend_* page, as the
real frontend's own metrics carry the same names) and /v1/completions and
/v1/chat/completions proxied, streamed, to the registered worker.
"""
import argparse
import http.client
import http.server
import json
import os
import pathlib
import signal
import sys
import urllib.parse

from dynamo.frontend import __version__
from kvtier_double import common


def validate_model_name(value):
    if not value or len(value.strip()) == 0:
        raise argparse.ArgumentTypeError(f"model-name must be a non-empty string, got: {value}")
    return value.strip()


def validate_model_path(value):
    if not os.path.isdir(value):
        raise argparse.ArgumentTypeError(
            f"model-path must be a valid directory on disk, got: {value}")
    return value


def parse_args(argv):
    e = os.environ
    p = argparse.ArgumentParser(description="Dynamo Frontend: HTTP+Pre-processor+Router",
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--version", action="version", version=f"Dynamo Frontend {__version__}")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("--kv-cache-block-size", type=int, default=e.get("DYN_KV_CACHE_BLOCK_SIZE"))
    p.add_argument("--http-host", type=str, default=e.get("DYN_HTTP_HOST", "0.0.0.0"))
    p.add_argument("--http-port", type=int, default=int(e.get("DYN_HTTP_PORT", "8000")))
    p.add_argument("--tls-cert-path", type=pathlib.Path, default=None)
    p.add_argument("--tls-key-path", type=pathlib.Path, default=None)
    p.add_argument("--router-mode", type=str, choices=["round-robin", "random", "kv"],
                   default=e.get("DYN_ROUTER_MODE", "round-robin"))
    p.add_argument("--kv-overlap-score-weight", type=float,
                   default=float(e.get("DYN_KV_OVERLAP_SCORE_WEIGHT", "1.0")))
    p.add_argument("--router-temperature", type=float,
                   default=float(e.get("DYN_ROUTER_TEMPERATURE", "0.0")))
    p.add_argument("--no-kv-events", action="store_false", dest="use_kv_events",
                   default=e.get("DYN_KV_EVENTS", "true").lower() != "false")
    p.add_argument("--namespace", type=str, default=e.get("DYN_NAMESPACE"))
    p.add_argument("--router-replica-sync", action="store_true", default=False)
    p.add_argument("--router-snapshot-threshold", type=int, default=1000000)
    p.add_argument("--router-reset-states", action="store_true", default=False)
    p.add_argument("--no-track-active-blocks", action="store_false",
                   dest="router_track_active_blocks", default=True)
    p.add_argument("--enforce-disagg", action="store_true", default=False)
    p.add_argument("--busy-threshold", type=float, default=None)
    p.add_argument("--model-name", type=validate_model_name)
    p.add_argument("--model-path", type=validate_model_path)
    p.add_argument("--metrics-prefix", type=str, default=None)
    p.add_argument("--kserve-grpc-server", action="store_true", default=False)
    p.add_argument("--dump-config-to", type=str, default=None)
    p.add_argument("--custom-backend-metrics-endpoint", type=str,
                   default=e.get("CUSTOM_BACKEND_ENDPOINT", "nim.backend.runtime_stats"))
    p.add_argument("--custom-backend-metrics-polling-interval", type=float,
                   default=float(e.get("CUSTOM_BACKEND_METRICS_POLLING_INTERVAL", "0")))
    p.add_argument("--store-kv", type=str, choices=["etcd", "file", "mem"],
                   default=e.get("DYN_STORE_KV", "etcd"))
    p.add_argument("--request-plane", type=str, choices=["nats", "http", "tcp"],
                   default=e.get("DYN_REQUEST_PLANE", "nats"))
    f = p.parse_args(argv)
    if bool(f.tls_cert_path) ^ bool(f.tls_key_path):
        p.error("--tls-cert-path and --tls-key-path must be provided together")
    if f.custom_backend_metrics_polling_interval < 0:
        p.error("--custom-backend-metrics-polling-interval must be >= 0 (0=disabled)")
    return f


FLAGS = None


def workers():
    return common.discover(FLAGS.store_kv, FLAGS.namespace)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _upstream(self, w, method, path, body=None, headers=None):
        u = urllib.parse.urlparse(w["url"])
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        c.request(method, path, body=body, headers=headers or {})
        return c, c.getresponse()

    def do_GET(self):
        ws = workers()
        if self.path in ("/health", "/live"):
            return self._json(200, {"status": "healthy",
                                    "instances": [w["endpoint"] for w in ws]})
        if self.path == "/v1/models":
            seen, data = set(), []
            for w in ws:
                if w["model"] not in seen:
                    seen.add(w["model"])
                    data.append({"id": w["model"], "object": "object", "created": 0,
                                 "owned_by": "nvidia"})
            return self._json(200, {"object": "list", "data": data})
        if self.path == "/metrics":
            body = b""
            if ws:
                c, r = self._upstream(ws[0], "GET", "/metrics")
                body = r.read()
                c.close()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        return self._json(404, {"error": "Not Found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            return self._json(404, {"error": "Not Found"})
        try:
            model = json.loads(body).get("model")
        except ValueError:
            return self._json(400, {"error": "Failed to parse the request body as JSON"})
        ws = [w for w in workers() if w["model"] == model]
        if not ws:
            return self._json(404, {"message": f"Model not found: {model}", "type": "Not Found",
                                    "code": 404})
        c, r = self._upstream(ws[0], "POST", self.path, body,
                              {"Content-Type": "application/json"})
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                chunk = r.read1(65536)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            c.close()
        return None


def main():
    global FLAGS
    FLAGS = parse_args(sys.argv[1:])
    if FLAGS.dump_config_to:
        with open(FLAGS.dump_config_to, "w") as f:
            json.dump(vars(FLAGS), f, default=str)
    if FLAGS.metrics_prefix and FLAGS.metrics_prefix.strip() not in ("", "dynamo_frontend"):
        common.die("kvtier double: --metrics-prefix other than dynamo_frontend would rename "
                   "every frontend metric kvtier reads; the double does not emulate it")
    common.check_planes(FLAGS.store_kv, FLAGS.request_plane)
    if FLAGS.interactive or FLAGS.kserve_grpc_server or FLAGS.tls_cert_path:
        common.die("kvtier double: only the plain HTTP frontend is emulated")
    srv = http.server.ThreadingHTTPServer((FLAGS.http_host, FLAGS.http_port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write(f"dynamo.frontend double {__version__} on "
                     f"{FLAGS.http_host}:{FLAGS.http_port} store={FLAGS.store_kv}\n")
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
