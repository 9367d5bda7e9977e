# SPDX-License-Identifier: Apache-2.0
"""The extra-engine-args document checked as TRT-LLM's LLM API checks it.

Field names from NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py (1.0/1.1 line):
BaseLlmArgs and TorchLlmArgs (the pytorch backend the Dynamo worker uses), KvCacheConfig,
KvCacheConnectorConfig, CudaGraphConfig, SchedulerConfig. Every one is a StrictBaseModel
(model_config extra="forbid"): a key that is not a field is refused with pydantic's
"Extra inputs are not permitted". Dynamo's worker merges the YAML over its command-line
arguments with update_llm_args_with_extra_options (top-level keys replace) before
constructing the arguments, so the same refusal ends the worker at start.
"""

BASE_LLM_ARGS = {
    "model", "tokenizer", "tokenizer_mode", "skip_tokenizer_init", "trust_remote_code",
    "tensor_parallel_size", "dtype", "revision", "tokenizer_revision", "pipeline_parallel_size",
    "context_parallel_size", "gpus_per_node", "moe_cluster_parallel_size",
    "moe_tensor_parallel_size", "moe_expert_parallel_size", "enable_attention_dp",
    "enable_lm_head_tp_in_adp", "cp_config", "load_format",
    "fail_fast_on_attention_window_too_large", "enable_lora", "lora_config", "kv_cache_config",
    "enable_chunked_prefill", "guided_decoding_backend", "batched_logits_processor",
    "iter_stats_max_iterations", "request_stats_max_iterations", "peft_cache_config",
    "scheduler_config", "cache_transceiver_config", "sparse_attention_config",
    "speculative_config", "max_batch_size", "max_input_len", "max_seq_len", "max_beam_width",
    "max_num_tokens", "gather_generation_logits", "num_postprocess_workers",
    "postprocess_tokenizer_dir", "reasoning_parser", "decoding_config", "mpi_session",
    "backend", "return_perf_metrics", "orchestrator_type",
}
TORCH_LLM_ARGS = BASE_LLM_ARGS | {
    "build_config", "garbage_collection_gen0_threshold", "cuda_graph_config",
    "attention_dp_config", "disable_overlap_scheduler", "moe_config", "attn_backend",
    "sampler_type", "enable_iter_perf_stats", "enable_iter_req_stats", "print_iter_log",
    "perf_metrics_max_requests", "batch_wait_timeout_ms", "batch_wait_timeout_iters",
    "batch_wait_max_tokens_ratio", "torch_compile_config", "enable_autotuner",
    "enable_layerwise_nvtx_marker", "enable_min_latency", "stream_interval",
    "force_dynamic_quantization", "allreduce_strategy", "checkpoint_loader",
    "checkpoint_format", "kv_connector_config", "mm_encoder_only", "ray_worker_extension_cls",
}
KV_CACHE_CONFIG = {
    "enable_block_reuse", "max_tokens", "max_attention_window", "sink_token_length",
    "free_gpu_memory_fraction", "host_cache_size", "onboard_blocks", "cross_kv_cache_fraction",
    "secondary_offload_min_priority", "event_buffer_max_size",
    "attention_dp_events_gather_period_ms", "enable_partial_reuse", "copy_on_partial_reuse",
    "use_uvm", "max_gpu_total_bytes", "dtype", "mamba_ssm_cache_dtype", "tokens_per_block",
}
KV_CONNECTOR_CONFIG = {"connector_module", "connector_scheduler_class", "connector_worker_class"}
CUDA_GRAPH_CONFIG = {"batch_sizes", "max_batch_size", "enable_padding"}
SCHEDULER_CONFIG = {"capacity_scheduler_policy", "context_chunking_policy",
                    "dynamic_batch_config"}
NESTED = {
    "kv_cache_config": ("KvCacheConfig", KV_CACHE_CONFIG, set()),
    "kv_connector_config": ("KvCacheConnectorConfig", KV_CONNECTOR_CONFIG, KV_CONNECTOR_CONFIG),
    "cuda_graph_config": ("CudaGraphConfig", CUDA_GRAPH_CONFIG, set()),
    "scheduler_config": ("SchedulerConfig", SCHEDULER_CONFIG, set()),
}
INT_FIELDS = {"max_batch_size", "max_num_tokens", "max_seq_len", "max_input_len",
              "max_beam_width", "tensor_parallel_size", "pipeline_parallel_size"}
BOOL_FIELDS = {"enable_chunked_prefill", "disable_overlap_scheduler", "trust_remote_code"}


def validate(args):
    """Pydantic-style error list [(loc, msg, type)] for a merged argument mapping."""
    errs = []
    for k, v in args.items():
        if k not in TORCH_LLM_ARGS:
            errs.append((k, "Extra inputs are not permitted", "extra_forbidden"))
            continue
        if k in INT_FIELDS and v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            errs.append((k, "Input should be a valid integer", "int_type"))
        if k in BOOL_FIELDS and not isinstance(v, bool):
            errs.append((k, "Input should be a valid boolean", "bool_type"))
        if k in NESTED and v is not None:
            _, fields, required = NESTED[k]
            if not isinstance(v, dict):
                errs.append((k, "Input should be a valid dictionary", "model_type"))
                continue
            for sk in v:
                if sk not in fields:
                    errs.append((f"{k}.{sk}", "Extra inputs are not permitted",
                                 "extra_forbidden"))
            for sk in sorted(required - set(v)):
                errs.append((f"{k}.{sk}", "Field required", "missing"))
    kv = args.get("kv_cache_config") or {}
    f = kv.get("free_gpu_memory_fraction")
    if f is not None and not (isinstance(f, (int, float)) and 0 <= f <= 1):
        errs.append(("kv_cache_config.free_gpu_memory_fraction",
                     "Value error, kv_cache_config.free_gpu_memory_fraction must be a float "
                     "between 0 and 1", "value_error"))
    return errs


def format_errors(errs, model="TorchLlmArgs"):
    out = [f"{len(errs)} validation error{'s' if len(errs) != 1 else ''} for {model}"]
    for loc, msg, typ in errs:
        out.append(loc)
        out.append(f"  {msg} [type={typ}]")
    return "\n".join(out)
