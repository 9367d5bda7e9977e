# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of kvtier's contract doubles of the Dynamo + TRT-LLM command lines.

Test-only code (tests/doubles): the e2e scripts put tests/doubles/python on PYTHONPATH and
tests/doubles/bin on PATH; nothing in the product refers to it.

Which published source each double follows (the option lists, defaults and errors):
  * dynamo.frontend: ai-dynamo/dynamo components/src/dynamo/frontend/main.py, the argparse
    version of the --store-kv / --request-plane {nats,http,tcp} line (ai-dynamo 0.7.x, the
    Dynamo that tensorrtllm-runtime 0.7/1.0 images ship before the ArgGroup rewrite that
    renamed --store-kv to --discovery-backend).
  * dynamo.trtllm: ai-dynamo/dynamo components/src/dynamo/trtllm/utils/trtllm_utils.py
    (cmd_line_args) of the same line; BuildConfig defaults from TensorRT-LLM 1.0.
  * extra-engine-args keys: NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py (1.0/1.1
    line): BaseLlmArgs + TorchLlmArgs, KvCacheConfig, KvCacheConnectorConfig,
    CudaGraphConfig; every model there is a StrictBaseModel (pydantic extra="forbid"), so an
    unknown key is a validation error.
The environment variables follow the same files: DYN_* defaults read by argparse, DYN_FILE_KV
and $TMPDIR/dynamo_store_kv for --store-kv file, NATS_SERVER / ETCD_ENDPOINTS for the
planes, DYN_KVBM_* for KVBM (kvbm.md).

What the doubles do instead of serving a model: the worker execs `kvtier serve` (the emulated
engine) with the same DYN_KVBM_* environment, so its pid, /proc/PID/environ and /proc/PID/io
are the serving process's, as with the real worker; the frontend proxies the OpenAI API to
the worker it discovers through the file store, on the same port, with the same metric names.
"""
