# SPDX-License-Identifier: Apache-2.0
"""Double of `python3 -m dynamo.trtllm` (kvtier tests only).

Options, defaults and refusals follow ai-dynamo/dynamo
components/src/dynamo/trtllm/utils/trtllm_utils.py, cmd_line_args() of the ai-dynamo 0.7.x
line (argparse; --store-kv {etcd,file,mem} from DYN_STORE_KV, --request-plane
{nats,http,tcp} from DYN_REQUEST_PLANE, default nats); BuildConfig defaults of TensorRT-LLM
1.0 (max_batch_size 2048, max_num_tokens 8192, max_seq_len None, max_beam_width 1). The
extra-engine-args YAML is merged and validated as TRT-LLM's LLM API does
(kvtier_double/llm_args.py). Then, instead of loading a model, it registers in the discovery
store and execs `kvtier serve` with the worker's environment (DYN_KVBM_* included).
"""
import argparse
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request

from dynamo.trtllm import __version__
from kvtier_double import common, llm_args

DYN_NAMESPACE = os.environ.get("DYN_NAMESPACE", "dynamo")
DEFAULT_ENDPOINT = f"dyn://{DYN_NAMESPACE}.tensorrt_llm.generate"
DEFAULT_PREFILL_ENDPOINT = f"dyn://{DYN_NAMESPACE}.prefill.generate"
DEFAULT_ENCODE_ENDPOINT = f"dyn://{DYN_NAMESPACE}.tensorrt_llm_encode.generate"
DEFAULT_MODEL_PATH = "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
MODES = ["prefill_and_decode", "prefill", "decode", "encode"]
# dynamo._core.get_tool_parser_names() / get_reasoning_parser_names() of the same line
TOOL_PARSERS = ["hermes", "nemotron_deci", "llama3_json", "mistral", "phi4", "pythonic",
                "harmony", "deepseek_v3_1", "default"]
REASONING_PARSERS = ["deepseek_r1", "basic", "gpt_oss", "qwen3", "nemotron_deci", "kimi",
                     "step3", "mistral", "granite"]
KVBM_CONNECTOR_MODULE = "kvbm.trtllm_integration.connector"


def parse_args(argv):
    p = argparse.ArgumentParser(description="TensorRT-LLM server integrated with Dynamo LLM.")
    p.add_argument("--version", action="version", version=f"Dynamo Backend TRTLLM {__version__}")
    p.add_argument("--endpoint", type=str, default="")
    p.add_argument("--model-path", type=str, default=DEFAULT_MODEL_PATH)
    p.add_argument("--served-model-name", type=str, default="")
    p.add_argument("--tensor-parallel-size", type=int, default=1)
    p.add_argument("--pipeline-parallel-size", type=int, default=None)
    p.add_argument("--expert-parallel-size", type=int, default=None)
    p.add_argument("--kv-block-size", type=int, default=32)
    p.add_argument("--migration-limit", type=int, default=0)
    p.add_argument("--gpus-per-node", type=int, default=None)
    p.add_argument("--max-batch-size", type=int, default=2048)
    p.add_argument("--max-num-tokens", type=int, default=8192)
    p.add_argument("--max-seq-len", type=int, default=None)
    p.add_argument("--max-beam-width", type=int, default=1)
    p.add_argument("--free-gpu-memory-fraction", type=float, default=None)
    p.add_argument("--extra-engine-args", type=str, default="")
    p.add_argument("--override-engine-args", type=str, default="")
    p.add_argument("--publish-events-and-metrics", action="store_true")
    p.add_argument("--disaggregation-mode", type=str, default="prefill_and_decode",
                   choices=MODES)
    p.add_argument("--use-nixl-connect", type=bool, default=False)
    p.add_argument("--modality", type=str, default="text", choices=["text", "multimodal"])
    p.add_argument("--encode-endpoint", type=str, default="")
    p.add_argument("--allowed-local-media-path", type=str, default="")
    p.add_argument("--max-file-size-mb", type=int, default=50)
    p.add_argument("--dyn-tool-call-parser", type=str, default=None, choices=TOOL_PARSERS)
    p.add_argument("--dyn-reasoning-parser", type=str, default=None, choices=REASONING_PARSERS)
    p.add_argument("--dump-config-to", type=str, default=None)
    p.add_argument("--custom-jinja-template", type=str, default=None)
    p.add_argument("--store-kv", type=str, choices=["etcd", "file", "mem"],
                   default=os.environ.get("DYN_STORE_KV", "etcd"))
    p.add_argument("--request-plane", type=str, choices=["nats", "http", "tcp"],
                   default=os.environ.get("DYN_REQUEST_PLANE", "nats"))
    return p.parse_args(argv)


def parse_endpoint(ep):
    parts = ep.replace("dyn://", "", 1).split(".")
    if len(parts) != 3:
        raise ValueError(f"Invalid endpoint format: '{ep}'. Expected "
                         "'dyn://namespace.component.endpoint' or 'namespace.component.endpoint'.")
    return parts


def model_dir(path):
    """A local checkpoint directory, or a Hub id resolved in the local HF cache (the double
    has no network: a download is reported as the failure it would be offline)."""
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "config.json")):
            common.die(f"OSError: {path} does not appear to have a file named config.json")
        return path
    hub = os.path.join(os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")),
                       "hub", "models--" + path.replace("/", "--"), "snapshots")
    snaps = sorted(os.listdir(hub)) if os.path.isdir(hub) else []
    for s in snaps:
        if os.path.isfile(os.path.join(hub, s, "config.json")):
            return os.path.join(hub, s)
    common.die(f"OSError: We couldn't connect to 'https://huggingface.co' to load the files, "
               f"and couldn't find them in the cached files for '{path}' (checked {hub}).")


def engine_args(a):
    """The argument mapping the worker builds, then the YAML merged over it (top-level keys
    replace) and the override string deep-merged, as the Dynamo worker does."""
    m = {"model": a.model_path, "tensor_parallel_size": a.tensor_parallel_size,
         "pipeline_parallel_size": a.pipeline_parallel_size or 1,
         "moe_expert_parallel_size": a.expert_parallel_size, "backend": "pytorch",
         "skip_tokenizer_init": True, "max_batch_size": a.max_batch_size,
         "max_num_tokens": a.max_num_tokens, "max_seq_len": a.max_seq_len,
         "max_beam_width": a.max_beam_width,
         "kv_cache_config": {"free_gpu_memory_fraction": a.free_gpu_memory_fraction or 0.9}}
    if a.gpus_per_node is not None:
        m["gpus_per_node"] = a.gpus_per_node
    if a.extra_engine_args:
        try:
            doc = common.load_yaml(a.extra_engine_args)
        except OSError as e:
            common.die(f"FileNotFoundError: {e}")
        except common.YamlError as e:
            common.die(f"yaml.scanner.ScannerError: {e}")
        if not isinstance(doc, dict):
            common.die(f"ValueError: {a.extra_engine_args} is not a mapping")
        m.update(doc)
    if a.override_engine_args:
        try:
            ov = json.loads(a.override_engine_args)
        except ValueError as e:
            common.die(f"ValueError: Invalid JSON in --override-engine-args: {e}")
        _deep_update(m, ov)
    errs = llm_args.validate(m)
    if errs:
        common.die("pydantic_core._pydantic_core.ValidationError: " + llm_args.format_errors(errs))
    return m


def _deep_update(t, s):
    for k, v in s.items():
        if isinstance(v, dict) and isinstance(t.get(k), dict):
            _deep_update(t[k], v)
        else:
            t[k] = v


def kvbm_check(m):
    """With the KVBM connector the leader needs a host or disk tier (kvbm.md §2)."""
    c = m.get("kv_connector_config")
    if not c:
        return False
    if c.get("connector_module") != KVBM_CONNECTOR_MODULE:
        common.die(f"ModuleNotFoundError: No module named '{c.get('connector_module')}'")
    env = os.environ
    if not any(env.get(v) for v in ("DYN_KVBM_CPU_CACHE_GB", "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS",
                                       "DYN_KVBM_DISK_CACHE_GB",
                                       "DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS")):
        common.die("RuntimeError: KVBM connector configured but neither DYN_KVBM_CPU_CACHE_GB "
                   "nor DYN_KVBM_DISK_CACHE_GB is set")
    return True


def kvbm_log_lines(metrics_port, page_size, model_dir):
    """The two lines the real KVBM worker logs at start-up (kvbm.md section 6: "Initializing
    KvbmWorker with params: ..." and "Inferred layout: ..."), with the numbers of the engine
    behind this double: its device blocks and bytes per block from its metrics page, the layer
    count from the checkpoint's config.json, outer_dim 2 (K and V)."""
    page = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
    vals = {}
    for line in page.read().decode().splitlines():
        name, _, v = line.partition(" ")
        if name in ("kvtier_engine_g1_capacity_blocks", "kvtier_engine_bytes_per_block"):
            vals[name] = int(float(v))
    with open(os.path.join(model_dir, "config.json")) as f:
        layers = int(json.load(f).get("num_hidden_layers", 1))
    bpb = vals["kvtier_engine_bytes_per_block"]
    width = 2 if bpb % (layers * 2 * page_size * 2) == 0 else 1
    inner = bpb // (layers * 2 * page_size * width)
    return (f"Initializing KvbmWorker with params: num_device_blocks="
            f"{vals['kvtier_engine_g1_capacity_blocks']}, page_size={page_size}, "
            f"dtype_width_bytes={width}\n"
            f"Inferred layout: num_layers={layers}, outer_dim=2, page_size={page_size}, "
            f"inner_dim={inner}\n")


def registrar(ready_file, card, serve_pid, kvbm_layout=None):
    """Child: waits for kvtier serve's ready file, publishes the model card with its URL and
    the effective engine configuration, logs KVBM's start-up lines when a KVBM connector is
    configured (kvbm_layout = (page_size, model_dir)), removes the card when the worker exits."""
    path = None
    while True:
        try:
            os.kill(serve_pid, 0)
        except OSError:
            break
        if path is None and os.path.exists(ready_file):
            try:
                with open(ready_file) as f:
                    rd = json.load(f)
                card["url"] = f"http://127.0.0.1:{rd['http_port']}"
                if kvbm_layout:
                    sys.stdout.write(kvbm_log_lines(rd["metrics_port"], *kvbm_layout))
                    sys.stdout.flush()
                    kvbm_layout = None
                path = common.register(card["store_kv"], card["namespace"], card["component"],
                                       card["endpoint"], card)
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.1)
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass
    os._exit(0)


def main():
    a = parse_args(sys.argv[1:])
    if a.endpoint == "":
        a.endpoint = {"encode": DEFAULT_ENCODE_ENDPOINT,
                      "prefill": DEFAULT_PREFILL_ENDPOINT}.get(a.disaggregation_mode,
                                                               DEFAULT_ENDPOINT)
    ns, comp, ep = parse_endpoint(a.endpoint)
    if a.custom_jinja_template:
        t = os.path.expandvars(os.path.expanduser(a.custom_jinja_template))
        if not os.path.isfile(t):
            raise FileNotFoundError(f"Custom Jinja template file not found: {t}")
    common.check_planes(a.store_kv, a.request_plane)
    mdir = model_dir(a.model_path)
    m = engine_args(a)
    kvbm = kvbm_check(m)
    served = a.served_model_name or a.model_path
    kv = m.get("kv_cache_config") or {}
    tpb = kv.get("tokens_per_block", 32)
    if tpb != a.kv_block_size:
        common.die(f"ValueError: --kv-block-size {a.kv_block_size} differs from "
                   f"kv_cache_config.tokens_per_block {tpb}")
    kvtier = os.environ.get("KVTIER_DOUBLE_KVTIER", "kvtier")
    state = tempfile.mkdtemp(prefix="dynamo-trtllm-double-")
    ready = os.path.join(state, "ready.json")
    effective = {"engine_args": m, "model_dir": mdir, "kvbm_connector": kvbm,
                 "kv_block_size": a.kv_block_size, "served_model_name": served,
                 "store_kv": a.store_kv, "request_plane": a.request_plane}
    if a.dump_config_to:
        with open(a.dump_config_to, "w") as f:
            json.dump(effective, f, indent=1, default=str)
    argv = [kvtier, "serve", "--host", "127.0.0.1", "--port", "0",
            "--metrics-port", os.environ.get("DYN_KVBM_METRICS_PORT", "6880") if kvbm else "0",
            "--model", os.environ.get("KVTIER_DOUBLE_MODEL", "tiny"),
            "--hardware", os.environ.get("KVTIER_DOUBLE_HARDWARE", "cpu_small"),
            "--served-model-name", served, "--ready-file", ready,
            "--max-num-tokens", str(m.get("max_num_tokens") or 8192),
            "--max-num-seqs", str(min(m.get("max_batch_size") or 2048, 65536))]
    if os.environ.get("KVTIER_DOUBLE_PROFILES"):
        argv += ["--profiles", os.environ["KVTIER_DOUBLE_PROFILES"]]
    if os.environ.get("KVTIER_DOUBLE_SPEEDUP"):
        argv += ["--speedup", os.environ["KVTIER_DOUBLE_SPEEDUP"]]
    tok = os.path.join(mdir, "tokenizer.json")
    if os.path.isfile(tok) and not os.environ.get("KVTIER_DOUBLE_IGNORE_TOKENIZER"):
        argv += ["--tokenizer", tok]  # the engine counts with the checkpoint's tokenizer
    if kv.get("max_tokens"):
        argv += ["--g1-blocks", str(max(1, int(kv["max_tokens"]) // tpb))]
    card = {"model": served, "pid": os.getpid(), "namespace": ns, "component": comp,
            "endpoint": ep, "store_kv": a.store_kv, "effective_config": effective,
            "max_seq_len": m.get("max_seq_len")}
    sys.stdout.write(f"dynamo.trtllm double {__version__}: engine args {json.dumps(m, default=str)}\n")
    sys.stdout.flush()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        registrar(ready, card, os.getppid(), (tpb, mdir) if kvbm else None)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
