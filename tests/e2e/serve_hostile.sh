#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile clients against `kvtier serve` (issue 11 item 10): a legal 30 MiB `[{},{},...]` body is
# refused at once (Content-Length over the body limit a context can need), the same sent
# chunked is read, dropped and refused, a body under the byte limit with a huge number of JSON
# values is refused before it becomes a document tree; meanwhile a stream in progress keeps its
# pace (its largest inter-token gap against its own median gap measured in the same run) and
# the server's memory comes back. Stalled and trickling uploads and idle connections are
# closed; over-long URLs and headers get 414 and 431 with OpenAI error bodies.
source "$(dirname "$0")/serve_lib.sh"

start_server -- --g1-blocks 4096 --idle-timeout 1s --upload-timeout 1s
python3 - "$PORT" "$SERVER_PID" <<'EOF' || fail "hostile-client checks failed (see above)"
import json, socket, statistics, sys, threading, time

port, pid = int(sys.argv[1]), int(sys.argv[2])
failed = []

def check(cond, what):
    print(("ok - " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failed.append(what)

def rss_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def response(s):
    """Reads one response until the connection closes or the body is complete."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length" and len(body) >= int(v):
                    return data
    return data

def status_of(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0

def openai_error(data):
    body = data.partition(b"\r\n\r\n")[2]
    try:
        e = json.loads(body)["error"]
        return isinstance(e["message"], str) and isinstance(e["type"], str)
    except (ValueError, KeyError, TypeError):
        return False

# a stream in progress: arrival time of every token event
stamps = []
def stream():
    s = connect()
    body = json.dumps({"model": "tiny", "prompt": "keep the pace", "max_tokens": 400,
                       "ignore_eos": True, "stream": True}).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            if b'"text":" ' in ev:
                stamps.append(now)
            if b"[DONE]" in ev:
                s.close()
                return
    s.close()

t = threading.Thread(target=stream)
t.start()
while len(stamps) < 40 and t.is_alive():
    time.sleep(0.01)
rss0 = rss_mib()
t_hostile0 = time.monotonic()

# 1. 30 MiB [{},{},...] with Content-Length: refused before the body is read
big = b"[" + b"{}," * (10 << 20) + b"{}]"
s = connect()
t0 = time.monotonic()
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(big))
try:
    s.sendall(big)
except (BrokenPipeError, ConnectionResetError):
    pass
r = response(s)
dt = time.monotonic() - t0
s.close()
check(status_of(r) == 413 and openai_error(r), f"30 MiB body: HTTP {status_of(r)} with an OpenAI error body")
check(dt < 3.0, f"30 MiB body refused in {dt:.2f} s")

# 2. the same, chunked (no Content-Length): read, dropped, refused
s = connect()
t0 = time.monotonic()
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n")
try:
    for i in range(0, len(big), 1 << 20):
        part = big[i:i + (1 << 20)]
        s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
    s.sendall(b"0\r\n\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass
r = response(s)
dt = time.monotonic() - t0
s.close()
check(status_of(r) == 413 and openai_error(r), f"30 MiB chunked body: HTTP {status_of(r)}, OpenAI error body, {dt:.2f} s")

# 3. under the byte limit but a huge number of JSON values: refused before parsing
body = b'{"model":"tiny","prompt":"x","metadata":[' + b"{}," * 400000 + b"{}]}"
s = connect()
t0 = time.monotonic()
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
r = response(s)
dt = time.monotonic() - t0
s.close()
check(status_of(r) == 413 and b"JSON values" in r, f"{len(body) >> 10} KiB of 400k values: HTTP {status_of(r)} in {dt:.2f} s")
t_hostile1 = time.monotonic()
rss1 = rss_mib()

t.join(60)
check(not t.is_alive() and len(stamps) == 400, f"the stream finished with all its tokens ({len(stamps)})")
gaps = [b - a for a, b in zip(stamps, stamps[1:])]
before = [g for a, g in zip(stamps, gaps) if a < t_hostile0]
during = [g for a, g in zip(stamps, gaps) if t_hostile0 <= a <= t_hostile1]
med = statistics.median(before)
worst = max(during) if during else 0
check(len(during) >= 5, f"{len(during)} token gaps fell inside the {t_hostile1 - t_hostile0:.2f} s of hostile bodies")
check(worst < 5 * med + 0.5, f"stream kept its pace: largest gap {worst * 1000:.0f} ms during the hostile bodies, median {med * 1000:.1f} ms before")
check(rss1 < rss0 + 64, f"memory: RSS {rss0:.0f} MiB before, {rss1:.0f} MiB after the hostile bodies")

# 4. a stalled upload is closed (idle timeout 1 s), a trickling one too (upload timeout 1 s)
def closed_after(send_more):
    s = connect()
    s.settimeout(10)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"model\"")
    t0 = time.monotonic()
    closed = False
    while time.monotonic() - t0 < 8:
        try:
            if send_more:
                s.sendall(b" ")
                time.sleep(0.2)
                s.settimeout(0.01)
            data = s.recv(4096)
            if not data:
                closed = True
                break
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
    s.close()
    return closed, time.monotonic() - t0

c, dt = closed_after(False)
check(c and dt < 4, f"stalled upload closed after {dt:.1f} s")
c, dt = closed_after(True)
check(c and dt < 4, f"trickling upload closed after {dt:.1f} s")
s = connect()
s.settimeout(10)
t0 = time.monotonic()
c = s.recv(1) == b""
check(c and time.monotonic() - t0 < 4, f"idle connection closed after {time.monotonic() - t0:.1f} s")
s.close()

# 5. over-long URL and headers: 414 and 431 with OpenAI error bodies
s = connect()
s.sendall(b"GET /v1/models?" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
r = response(s)
s.close()
check(status_of(r) == 414 and openai_error(r), f"10 KB URL: HTTP {status_of(r)} with an OpenAI error body")
s = connect()
s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n")
r = response(s)
s.close()
check(status_of(r) == 431 and openai_error(r), f"20 KB header: HTTP {status_of(r)} with an OpenAI error body")
sys.exit(1 if failed else 0)
EOF
# still serving
[ "$(complete_ids 1 64 3 | json_int completion_tokens)" = 3 ] || fail "engine stopped serving after hostile clients"
stop_server
ok "hostile clients bounded; the engine keeps serving"
