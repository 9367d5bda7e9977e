/* SPDX-License-Identifier: Apache-2.0 */
/* Record and profile-export serialisation, per-request metrics (see loadrec.h). */
#include "loadgen/loadrec.h"

#include <math.h>
#include <string.h>

static const char *const error_names[LOADREC_ERROR__COUNT] = {
    [LOADREC_OK] = NULL,
    [LOADREC_CONNECT] = "connect",
    [LOADREC_TIMEOUT] = "timeout",
    [LOADREC_HTTP_4XX] = "http_4xx",
    [LOADREC_HTTP_5XX] = "http_5xx",
    [LOADREC_STREAM_ERROR] = "stream_error",
    [LOADREC_CANCELLED] = "cancelled",
    [LOADREC_REFUSED] = "refused",
};

const char *loadrec_error_name(enum loadrec_error e)
{
    return (unsigned)e < LOADREC_ERROR__COUNT ? error_names[e] : "unknown";
}

static json_t *t_or_null(uint64_t t)
{
    return t ? json_integer((json_int_t)t) : json_null();
}

static json_t *i_or_null(int64_t v)
{
    return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

static double diff_ms(uint64_t a, uint64_t b)
{
    if (!a || !b)
        return NAN;
    return ((double)a - (double)b) / 1e6;
}

double loadrec_ttft_ms(const struct loadrec *r)
{
    return diff_ms(r->t_first_token_ns, r->t_intended_ns);
}

double loadrec_ttft_sent_ms(const struct loadrec *r)
{
    return diff_ms(r->t_first_token_ns, r->t_sent_ns);
}

double loadrec_ttfc_ms(const struct loadrec *r)
{
    return diff_ms(r->t_first_content_ns, r->t_intended_ns);
}

double loadrec_e2e_ms(const struct loadrec *r)
{
    return diff_ms(r->t_last_token_ns, r->t_intended_ns);
}

double loadrec_lag_ms(const struct loadrec *r)
{
    return diff_ms(r->t_sent_ns, r->t_intended_ns);
}

double loadrec_send_lag_ms(const struct loadrec *r)
{
    uint64_t from = r->t_slot_ns > r->t_intended_ns ? r->t_slot_ns : r->t_intended_ns;
    if (!r->t_intended_ns)
        from = 0;
    return diff_ms(r->t_sent_ns, from);
}

uint64_t loadrec_output_tokens(const struct loadrec *r)
{
    return r->completion_tokens >= 0 ? (uint64_t)r->completion_tokens : r->client_tokens;
}

double loadrec_tpot_ms(const struct loadrec *r)
{
    uint64_t n = loadrec_output_tokens(r);
    if (n < 2 || !r->t_first_token_ns || !r->t_last_token_ns)
        return NAN;
    return diff_ms(r->t_last_token_ns, r->t_first_token_ns) / (double)(n - 1);
}

json_t *loadrec_json(const struct loadrec *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "phase", json_string(r->phase));
    json_object_set_new(o, "session_id", r->session_id ? json_string(r->session_id) : json_null());
    json_object_set_new(o, "turn", json_integer(r->turn));
    json_object_set_new(o, "t_intended_ns", t_or_null(r->t_intended_ns));
    json_object_set_new(o, "t_sent_ns", t_or_null(r->t_sent_ns));
    json_object_set_new(o, "t_slot_ns", t_or_null(r->t_slot_ns));
    json_object_set_new(o, "t_first_byte_ns", t_or_null(r->t_first_byte_ns));
    json_object_set_new(o, "t_first_token_ns", t_or_null(r->t_first_token_ns));
    json_object_set_new(o, "t_first_content_ns", t_or_null(r->t_first_content_ns));
    json_object_set_new(o, "t_last_token_ns", t_or_null(r->t_last_token_ns));
    json_object_set_new(o, "t_end_ns", t_or_null(r->t_end_ns));
    json_object_set_new(o, "prompt_tokens", i_or_null(r->prompt_tokens));
    json_object_set_new(o, "completion_tokens", i_or_null(r->completion_tokens));
    json_object_set_new(o, "cached_tokens", i_or_null(r->cached_tokens));
    json_object_set_new(o, "plan_input_tokens", i_or_null(r->plan_input_tokens));
    json_object_set_new(o, "http_status",
                        r->http_status ? json_integer(r->http_status) : json_null());
    const char *e = loadrec_error_name(r->error);
    json_object_set_new(o, "error", e ? json_string(e) : json_null());
    /* additions beyond §6 */
    json_object_set_new(o, "plan_output_tokens", i_or_null(r->plan_output_tokens));
    json_object_set_new(o, "client_tokens", json_integer((json_int_t)r->client_tokens));
    json_object_set_new(o, "connect_ns", json_integer((json_int_t)r->connect_ns));
    if (r->error_detail[0])
        json_object_set_new(o, "error_detail", json_string(r->error_detail));
    if (r->retry_after_s >= 0)
        json_object_set_new(o, "retry_after_s", json_integer(r->retry_after_s));
    /* compact per-chunk gaps: gap before each token-bearing chunk after the first (ns), and
     * the tokens that chunk carried; tokens omitted when every chunk carried one */
    json_t *g = json_array();
    bool all_one = true;
    for (size_t i = 0; i < r->n_gaps; i++) {
        json_array_append_new(g, json_integer((json_int_t)r->gaps_ns[i]));
        if (r->gap_tokens[i] != 1)
            all_one = false;
    }
    json_object_set_new(o, "chunk_gaps_ns", g);
    if (!all_one) {
        json_t *t = json_array();
        for (size_t i = 0; i < r->n_gaps; i++)
            json_array_append_new(t, json_integer(r->gap_tokens[i]));
        json_object_set_new(o, "chunk_tokens", t);
    }
    return o;
}

static void metric(json_t *m, const char *tag, double v, const char *unit)
{
    if (isnan(v))
        return;
    json_object_set_new(m, tag, json_pack("{s:f, s:s}", "value", v, "unit", unit));
}

static json_t *wall(const struct loadrec *r, uint64_t t)
{
    if (!t)
        return json_null();
    return json_integer((json_int_t)(r->anchor_unix_ns + (t - r->anchor_mono_ns)));
}

json_t *loadrec_profile_json(const struct loadrec *r, uint64_t session_num)
{
    json_t *md = json_object();
    json_object_set_new(md, "session_num", json_integer((json_int_t)session_num));
    json_object_set_new(md, "x_request_id", json_string(r->id));
    json_object_set_new(md, "x_correlation_id", json_string(r->id));
    json_object_set_new(md, "conversation_id",
                        r->session_id ? json_string(r->session_id) : json_null());
    json_object_set_new(md, "turn_index", json_integer(r->turn));
    json_object_set_new(md, "request_start_ns", wall(r, r->t_sent_ns));
    json_object_set_new(md, "request_ack_ns", wall(r, r->t_first_byte_ns));
    json_object_set_new(md, "request_end_ns", wall(r, r->t_end_ns));
    json_object_set_new(md, "intended_start_ns", wall(r, r->t_intended_ns));
    json_object_set_new(md, "worker_id", json_string("kvtier-load-0"));
    json_object_set_new(md, "record_processor_id", json_string("kvtier-load-0"));
    bool warm = r->phase && !strcmp(r->phase, "warmup");
    json_object_set_new(md, "benchmark_phase", json_string(warm ? "warmup" : "profiling"));
    json_object_set_new(md, "kvtier_phase", json_string(r->phase));
    bool cancelled = r->error == LOADREC_CANCELLED;
    json_object_set_new(md, "was_cancelled", json_boolean(cancelled));
    json_object_set_new(md, "cancellation_time_ns", cancelled ? wall(r, r->t_end_ns) : json_null());

    json_t *m = json_object();
    metric(m, "time_to_first_token", diff_ms(r->t_first_token_ns, r->t_sent_ns), "ms");
    metric(m, "time_to_first_output_token", diff_ms(r->t_first_content_ns, r->t_sent_ns), "ms");
    metric(m, "request_latency", diff_ms(r->t_last_token_ns, r->t_sent_ns), "ms");
    metric(m, "stream_setup_latency", diff_ms(r->t_first_byte_ns, r->t_sent_ns), "ms");
    metric(m, "inter_token_latency", loadrec_tpot_ms(r), "ms");
    metric(m, "time_to_first_token_from_intended", loadrec_ttft_ms(r), "ms");
    metric(m, "request_latency_from_intended", loadrec_e2e_ms(r), "ms");
    metric(m, "client_lag", loadrec_lag_ms(r), "ms");
    metric(m, "send_lag", loadrec_send_lag_ms(r), "ms");
    if (r->error == LOADREC_OK) {
        metric(m, "output_sequence_length", (double)loadrec_output_tokens(r), "tokens");
        if (r->prompt_tokens >= 0)
            metric(m, "input_sequence_length", (double)r->prompt_tokens, "tokens");
        if (r->cached_tokens >= 0)
            metric(m, "usage_prompt_cache_read_tokens", (double)r->cached_tokens, "tokens");
    }
    if (r->n_gaps > 0) {
        json_t *icl = json_array();
        for (size_t i = 0; i < r->n_gaps; i++)
            json_array_append_new(icl, json_real((double)r->gaps_ns[i] / 1e6));
        json_object_set_new(m, "inter_chunk_latency",
                            json_pack("{s:o, s:s}", "value", icl, "unit", "ms"));
    }
    json_t *err = json_null();
    if (r->error != LOADREC_OK)
        err = json_pack("{s:I, s:s, s:s}", "code", (json_int_t)r->http_status, "type",
                        loadrec_error_name(r->error), "message", r->error_detail);
    return json_pack("{s:o, s:o, s:o}", "metadata", md, "metrics", m, "error", err);
}
