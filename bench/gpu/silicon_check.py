# SPDX-License-Identifier: Apache-2.0
"""Real-silicon check of kvtier's step-cost model (issue 17, item 3).

Runs a Llama-3.1-8B-shaped transformer (32 layers, hidden 4096, 32 q / 8 KV heads, head dim 128,
FFN 14336, vocab 128256) with random bf16 weights on one CUDA GPU and measures:
  * prefill time for ISL 512..32k at batch 1 and a few batch sizes (causal SDPA),
  * decode step time for batch 1..32 at several context lengths (eager and CUDA graph),
  * host<->GPU copy rates of the KV it produces (pinned and pageable memory, whole and per block),
  * disk->host and host->disk rates of a KV-sized file (O_DIRECT where the file system allows).
Writes one JSON file (argument 1, default $OUT/silicon.json) and prints a short table. It is run
by hand on a GPU machine; CI never runs it. Needs PyTorch >= 2.5 (enable_gqa).
"""
import json
import mmap
import os
import statistics
import sys
import threading
import time

import torch
import torch.nn.functional as F

LAYERS, HIDDEN, QH, KVH, HD, FFN, VOCAB = 32, 4096, 32, 8, 128, 14336, 128256
DT = torch.bfloat16
KV_BYTES_PER_TOKEN = 2 * LAYERS * KVH * HD * 2  # K and V, all layers, bf16
RES = {"schema_version": 1, "what": "real silicon: PyTorch on a GPU, not the emulation"}


def log(*a):
    print(*a, flush=True)


def save(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(RES, f, indent=1)
    os.replace(tmp, path)


class Model:
    """Random-weight decoder of the 8B shape; forward() returns logits of the last position."""

    def __init__(self, dev):
        g = torch.Generator(device=dev).manual_seed(1)

        def w(*shape):
            t = torch.empty(*shape, device=dev, dtype=DT)
            return t.normal_(0, 0.02, generator=g)

        self.emb = w(VOCAB, HIDDEN)
        self.head = w(VOCAB, HIDDEN)
        self.layers = []
        for _ in range(LAYERS):
            self.layers.append({
                "qkv": w((QH + 2 * KVH) * HD, HIDDEN),
                "o": w(HIDDEN, QH * HD),
                "gu": w(2 * FFN, HIDDEN),
                "down": w(HIDDEN, FFN),
                "n1": torch.ones(HIDDEN, device=dev, dtype=DT),
                "n2": torch.ones(HIDDEN, device=dev, dtype=DT),
            })
        inv = 1.0 / (500000.0 ** (torch.arange(0, HD, 2, device=dev, dtype=torch.float32) / HD))
        self.inv_freq = inv
        self.params = sum(t.numel() for L in self.layers for t in L.values()) + 2 * VOCAB * HIDDEN

    def rope(self, x, pos):
        f = torch.outer(pos.float(), self.inv_freq)
        cos, sin = f.cos().to(DT)[:, None, :], f.sin().to(DT)[:, None, :]
        x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)

    def forward(self, ids, pos, kv=None, ctx=0, store=None):
        """ids [B, T]; kv: list of (K, V) caches [B, KVH, ctx, HD] read for decode; store:
        list to receive each layer's new (K, V) (prefill)."""
        B, T = ids.shape
        x = self.emb[ids]
        for i, L in enumerate(self.layers):
            h = F.rms_norm(x, (HIDDEN,), L["n1"], 1e-5)
            qkv = h @ L["qkv"].t()
            q, k, v = qkv.split([QH * HD, KVH * HD, KVH * HD], dim=-1)
            q = self.rope(q.view(B, T, QH, HD), pos).transpose(1, 2)
            k = self.rope(k.view(B, T, KVH, HD), pos).transpose(1, 2)
            v = v.view(B, T, KVH, HD).transpose(1, 2)
            if store is not None:
                store.append((k, v))
            if kv is None:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            else:
                kc, vc = kv[i]
                kc[:, :, ctx - 1:ctx] = k
                vc[:, :, ctx - 1:ctx] = v
                a = F.scaled_dot_product_attention(q, kc, vc, enable_gqa=True)
            x = x + a.transpose(1, 2).reshape(B, T, QH * HD) @ L["o"].t()
            h = F.rms_norm(x, (HIDDEN,), L["n2"], 1e-5)
            gu = h @ L["gu"].t()
            gate, up = gu.chunk(2, dim=-1)
            x = x + (F.silu(gate) * up) @ L["down"].t()
        return x[:, -1] @ self.head.t()


def timed(fn, warm, reps):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) / 1e3)
    return statistics.median(ts), ts


def ceilings(dev):
    n = 8192
    a = torch.randn(n, n, device=dev, dtype=DT)
    b = torch.randn(n, n, device=dev, dtype=DT)
    t, _ = timed(lambda: a @ b, 3, 10)
    src = torch.empty(2 << 30, device=dev, dtype=torch.uint8).random_(0, 255)
    dst = torch.empty_like(src)
    tc, _ = timed(lambda: dst.copy_(src), 3, 10)
    RES["ceilings"] = {"bf16_gemm_8192_flops_per_s": 2 * n ** 3 / t,
                       "d2d_copy_bytes_per_s_read_plus_write": 2 * src.numel() / tc}
    del a, b, src, dst
    log("ceilings:", RES["ceilings"])


def prefill(m, dev):
    out = []
    cases = [(1, s) for s in (512, 1024, 2048, 4096, 8192, 16384, 32768)]
    cases += [(b, 2048) for b in (2, 4, 8, 16)] + [(b, 512) for b in (4, 16, 32)]
    for B, S in cases:
        ids = torch.randint(0, VOCAB, (B, S), device=dev)
        pos = torch.arange(S, device=dev)
        reps = 3 if B * S >= 16384 else 6
        with torch.no_grad():
            t, ts = timed(lambda: m.forward(ids, pos), 1, reps)
        out.append({"batch": B, "isl": S, "seconds": t, "all": ts, "tokens_per_s": B * S / t})
        log(f"prefill B={B:2d} ISL={S:6d}: {t * 1e3:9.2f} ms  {B * S / t:9.0f} tok/s")
        RES["prefill"] = out
    torch.cuda.empty_cache()


def decode(m, dev):
    out = []
    for ctx in (1024, 4096, 16384, 32768):
        for B in (1, 2, 4, 8, 16, 32):
            if B * ctx > 262144:
                continue
            kv = [(torch.randn(B, KVH, ctx, HD, device=dev, dtype=DT),
                   torch.randn(B, KVH, ctx, HD, device=dev, dtype=DT)) for _ in range(LAYERS)]
            kv_read = sum(k.numel() + v.numel() for k, v in kv) * 2
            ids = torch.randint(0, VOCAB, (B, 1), device=dev)
            pos = torch.tensor([ctx - 1], device=dev)
            row = {"batch": B, "context": ctx, "kv_bytes_read": kv_read}
            with torch.no_grad():
                row["eager_s"], _ = timed(lambda: m.forward(ids, pos, kv, ctx), 2, 8)
                try:
                    s = torch.cuda.Stream()
                    s.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(s):
                        for _ in range(2):
                            m.forward(ids, pos, kv, ctx)
                    torch.cuda.current_stream().wait_stream(s)
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g):
                        m.forward(ids, pos, kv, ctx)
                    row["graph_s"], _ = timed(g.replay, 3, 20)
                    del g
                except Exception as e:  # noqa: BLE001 - record why and keep measuring
                    row["graph_error"] = repr(e)[:200]
            out.append(row)
            log(f"decode B={B:2d} ctx={ctx:6d}: eager {row['eager_s'] * 1e3:8.2f} ms"
                f"  graph {row.get('graph_s', float('nan')) * 1e3:8.2f} ms")
            RES["decode"] = out
            del kv
            torch.cuda.empty_cache()


def copies(m, dev):
    S = 8192
    store = []
    with torch.no_grad():
        m.forward(torch.randint(0, VOCAB, (1, S), device=dev), torch.arange(S, device=dev),
                  store=store)
    # one contiguous KV buffer of everything the prefill produced: [layers, 2, S, KVH*HD]
    kv = torch.stack([torch.stack((k[0].transpose(0, 1).reshape(S, -1),
                                   v[0].transpose(0, 1).reshape(S, -1))) for k, v in store])
    del store
    nbytes = kv.numel() * 2
    res = {"kv_tokens": S, "kv_bytes": nbytes, "kv_bytes_per_token": nbytes / S}
    pinned = torch.empty(kv.shape, dtype=DT, pin_memory=True)
    pageable = torch.empty(kv.shape, dtype=DT)
    for name, host in (("pinned", pinned), ("pageable", pageable)):
        t, _ = timed(lambda: host.copy_(kv, non_blocking=True), 1, 5)
        res[f"d2h_{name}_bytes_per_s"] = nbytes / t
        t, _ = timed(lambda: kv.copy_(host, non_blocking=True), 1, 5)
        res[f"h2d_{name}_bytes_per_s"] = nbytes / t
    # per 32-token block in a block-major layout (one 4 MiB block = all layers of 32 tokens)
    blk = kv.view(LAYERS, 2, S // 32, 32, -1).permute(2, 0, 1, 3, 4).contiguous()
    hb = torch.empty(blk.shape, dtype=DT, pin_memory=True)
    nb = blk.shape[0]

    def per_block_d2h():
        for i in range(nb):
            hb[i].copy_(blk[i], non_blocking=True)

    def per_block_h2d():
        for i in range(nb):
            blk[i].copy_(hb[i], non_blocking=True)
    t, _ = timed(per_block_d2h, 1, 5)
    res["d2h_pinned_per_block_bytes_per_s"] = nbytes / t
    t, _ = timed(per_block_h2d, 1, 5)
    res["h2d_pinned_per_block_bytes_per_s"] = nbytes / t
    res["block_bytes"] = nbytes // nb
    RES["copies"] = res
    log("copies:", {k: (f"{v / 1e9:.2f} GB/s" if k.endswith("per_s") else v) for k, v in res.items()})
    return hb.view(-1).view(torch.uint8).numpy()


def disk(kvbytes, dirpath):
    """Writes then reads a file of the KV bytes repeated to 8 GiB, 4 MiB blocks, O_DIRECT."""
    res = {"dir": dirpath}
    blk = 4 << 20
    total = 8 << 30
    path = os.path.join(dirpath, "kvtier-silicon.bin")
    buf = mmap.mmap(-1, blk)
    buf[:] = bytes(kvbytes[:blk])
    flags = os.O_RDWR | os.O_CREAT
    try:
        fd = os.open(path, flags | os.O_DIRECT, 0o600)
        res["o_direct"] = True
    except OSError as e:
        fd = os.open(path, flags, 0o600)
        res["o_direct"] = False
        res["o_direct_error"] = str(e)
    try:
        n = total // blk
        t0 = time.perf_counter()
        for i in range(n):
            os.pwritev(fd, [buf], i * blk)
        os.fsync(fd)
        res["write_bytes_per_s_qd1"] = total / (time.perf_counter() - t0)
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            res["dropped_caches"] = True
        except OSError:
            res["dropped_caches"] = False
        for qd in (1, 8, 32):
            bufs = [mmap.mmap(-1, blk) for _ in range(qd)]

            def worker(j):
                for i in range(j, n, qd):
                    os.preadv(fd, [bufs[j]], i * blk)
            ths = [threading.Thread(target=worker, args=(j,)) for j in range(qd)]
            t0 = time.perf_counter()
            for th in ths:
                th.start()
            for th in ths:
                th.join()
            res[f"read_bytes_per_s_qd{qd}"] = total / (time.perf_counter() - t0)
        res["file_bytes"] = total
        res["block_bytes"] = blk
    finally:
        os.close(fd)
        os.unlink(path)
    try:
        res["mounts"] = [ln for ln in open("/proc/mounts") if " / " in ln or dirpath in ln][:4]
    except OSError:
        pass
    RES["disk"] = res
    log("disk:", {k: (f"{v / 1e9:.2f} GB/s" if k.endswith("per_s") else v) for k, v in res.items()})


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("OUT", "."),
                                                               "silicon.json")
    dev = torch.device("cuda")
    p = torch.cuda.get_device_properties(dev)
    RES["device"] = {"name": p.name, "sms": p.multi_processor_count, "memory_bytes": p.total_memory,
                     "torch": torch.__version__, "cuda": torch.version.cuda}
    RES["model"] = {"layers": LAYERS, "hidden": HIDDEN, "q_heads": QH, "kv_heads": KVH,
                    "head_dim": HD, "ffn": FFN, "vocab": VOCAB, "dtype": "bf16",
                    "kv_bytes_per_token": KV_BYTES_PER_TOKEN}
    log("device:", RES["device"])
    steps = [("ceilings", lambda: ceilings(dev))]
    m = Model(dev)
    RES["model"]["params"] = m.params
    steps += [("prefill", lambda: prefill(m, dev)), ("decode", lambda: decode(m, dev))]
    kvbytes = None
    for name, fn in steps:
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a failed section must not lose the others
            RES.setdefault("errors", {})[name] = repr(e)[:400]
            log(name, "failed:", e)
        log(f"[{name}: {time.perf_counter() - t0:.1f} s]")
        save(path)
    try:
        kvbytes = copies(m, dev)
    except Exception as e:  # noqa: BLE001
        RES.setdefault("errors", {})["copies"] = repr(e)[:400]
        log("copies failed:", e)
    save(path)
    del m
    torch.cuda.empty_cache()
    try:
        import numpy as np
        if kvbytes is None:
            kvbytes = np.random.default_rng(1).integers(0, 255, 4 << 20, dtype=np.uint8)
        disk(kvbytes, os.environ.get("DISK_DIR", "/var/tmp"))
    except Exception as e:  # noqa: BLE001
        RES.setdefault("errors", {})["disk"] = repr(e)[:400]
        log("disk failed:", e)
    save(path)
    log("wrote", path)


if __name__ == "__main__":
    main()
