/* SPDX-License-Identifier: Apache-2.0 */
/* The one request plan reader (see planrow.h). */
#include "common/planrow.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

/* The arrival names of the format (loadgen/arrival.c maps them to its schedules). */
static const char *const arrivals[] = { "plan", "constant", "poisson", "gamma", "closed" };

void planrow_reader_init(struct planrow_reader *rd, const struct planrow_opts *o)
{
    *rd = (struct planrow_reader){ .ids = json_object() };
    if (o)
        rd->opts = *o;
}

void planrow_reader_fini(struct planrow_reader *rd)
{
    json_decref(rd->header);
    json_decref(rd->ids);
    rd->header = rd->ids = NULL;
}

int planrow_phase_index(const struct planrow_reader *rd, const char *name)
{
    for (size_t i = 0; i < rd->n_phases; i++)
        if (!strcmp(rd->phases[i].name, name))
            return (int)i;
    return -1;
}

static int add_phase(struct planrow_reader *rd, const char *name)
{
    if (rd->n_phases >= PLANROW_MAX_PHASES)
        return -EMSGSIZE;
    if (strlen(name) >= PLANROW_PHASE_NAME_MAX || !name[0])
        return -EINVAL;
    struct planrow_phase *ph = &rd->phases[rd->n_phases];
    *ph = (struct planrow_phase){ 0 };
    snprintf(ph->name, sizeof(ph->name), "%s", name);
    return (int)rd->n_phases++;
}

static int field_u64(const json_t *o, const char *key, uint64_t max, uint64_t *ret, bool *ret_set,
                     struct diag *d, unsigned line)
{
    json_t *v = json_object_get(o, key);
    if (ret_set)
        *ret_set = false;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) <= (double)max &&
        floor(json_real_value(v)) == json_real_value(v)) {
        *ret = (uint64_t)json_real_value(v);
    } else if (!json_is_integer(v) || json_integer_value(v) < 0 ||
               (uint64_t)json_integer_value(v) > max) {
        return diag_set(d, -EINVAL, line, 0,
                        "field \"%s\": expected an integer in [0, %" PRIu64 "]", key, max);
    } else {
        *ret = (uint64_t)json_integer_value(v);
    }
    if (ret_set)
        *ret_set = true;
    return 0;
}

/* A string field that may also be given as a number, copied into out (PLANROW_ID_MAX bytes);
 * "" if absent or null. */
static int field_id(const json_t *o, const char *key, char *out, struct diag *d, unsigned line)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0 || json_string_length(v) >= PLANROW_ID_MAX ||
            strlen(json_string_value(v)) != json_string_length(v))
            return diag_set(d, -EINVAL, line, 0, "field \"%s\": empty, too long (max %u) or NUL",
                            key, PLANROW_ID_MAX - 1);
        /* ids go into an HTTP header: no control characters */
        for (const char *s = json_string_value(v); *s; s++)
            if ((unsigned char)*s < 0x20 || *s == 0x7f)
                return diag_set(d, -EINVAL, line, 0, "field \"%s\": control character", key);
        snprintf(out, PLANROW_ID_MAX, "%s", json_string_value(v));
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(out, PLANROW_ID_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    return diag_set(d, -EINVAL, line, 0, "field \"%s\": expected a string", key);
}

/* The numbers of header phase i (its name already added as q). */
static int header_phase(json_t *ph, size_t i, struct planrow_phase *q, struct diag *d,
                        unsigned line)
{
    const char *arr = jsonx_str(ph, "arrival", NULL);
    if (arr) {
        size_t k = 0;
        while (k < sizeof(arrivals) / sizeof(arrivals[0]) && strcmp(arr, arrivals[k]))
            k++;
        if (k == sizeof(arrivals) / sizeof(arrivals[0]))
            return diag_set(d, -EINVAL, line, 0,
                            "field \"phases[%zu].arrival\": expected constant, poisson, gamma or "
                            "closed",
                            i);
        snprintf(q->arrival, sizeof(q->arrival), "%s", arr);
    }
    json_t *rate = json_object_get(ph, "rate_per_s");
    if (rate && !json_is_null(rate)) {
        if (!json_is_number(rate) || json_number_value(rate) < 0)
            return diag_set(d, -EINVAL, line, 0,
                            "field \"phases[%zu].rate_per_s\": expected a number >= 0", i);
        q->rate_per_s = json_number_value(rate);
    }
    json_t *burst = json_object_get(ph, "burstiness");
    if (json_is_number(burst))
        q->burstiness = json_number_value(burst);
    static const char *const keys[] = { "concurrency", "max_concurrency", "duration_ns",
                                        "requests" };
    uint64_t *dst[] = { &q->concurrency, &q->max_concurrency, &q->duration_ns, &q->requests };
    for (size_t k = 0; k < 4; k++) {
        int rc = field_u64(ph, keys[k], INT64_MAX, dst[k], NULL, d, line);
        if (rc < 0)
            return diag_set(d, rc, line, 0, "field \"phases[%zu].%s\": expected an integer >= 0", i,
                            keys[k]);
    }
    return 0;
}

static int parse_header(struct planrow_reader *rd, json_t *h, struct diag *d, unsigned line)
{
    if (rd->header)
        return diag_set(d, -EINVAL, line, 0, "a second kvtier.plan header");
    const char *ep = jsonx_str(h, "endpoint", NULL);
    if (ep && !strcmp(ep, "chat"))
        rd->endpoint = PLANROW_ENDPOINT_CHAT;
    else if (ep && !strcmp(ep, "completions"))
        rd->endpoint = PLANROW_ENDPOINT_COMPLETIONS;
    else if (ep)
        return diag_set(d, -EINVAL, line, 0, "field \"endpoint\": expected chat or completions");
    json_t *phases = json_object_get(h, "phases");
    if (phases && !json_is_array(phases))
        return diag_set(d, -EINVAL, line, 0, "field \"phases\": expected an array");
    if (rd->opts.need_header && json_array_size(phases) == 0)
        return diag_set(d, -EINVAL, line, 0, "field \"phases\": the header must list the phases");
    size_t i;
    json_t *ph;
    json_array_foreach (phases, i, ph) {
        const char *name = json_is_object(ph) ? jsonx_str(ph, "name", NULL) : NULL;
        if (!name)
            return diag_set(d, -EINVAL, line, 0, "field \"phases[%zu].name\": missing", i);
        if (planrow_phase_index(rd, name) >= 0)
            return diag_set(d, -EINVAL, line, 0, "field \"phases[%zu].name\": duplicate \"%s\"", i,
                            name);
        int idx = add_phase(rd, name);
        if (idx < 0)
            return diag_set(d, idx, line, 0, "field \"phases[%zu].name\": bad or too many", i);
        int rc = header_phase(ph, i, &rd->phases[idx], d, line);
        if (rc < 0)
            return rc;
    }
    rd->header = json_incref(h);
    return 0;
}

/* The phase index of a request line: its "phase" (default "main"), added unless the header
 * lists the phases. Returns the index or -EINVAL (d says why). */
static int request_phase(struct planrow_reader *rd, const json_t *o, struct diag *d, unsigned line)
{
    const char *phase = "main";
    const json_t *pv = json_object_get(o, "phase");
    if (pv && !json_is_null(pv)) {
        if (!json_is_string(pv))
            return diag_set(d, -EINVAL, line, 0, "field \"phase\": expected a string");
        phase = json_string_value(pv);
    }
    int pi = planrow_phase_index(rd, phase);
    if (pi >= 0)
        return pi;
    if (rd->header && json_array_size(json_object_get(rd->header, "phases")) > 0)
        return diag_set(d, -EINVAL, line, 0,
                        "field \"phase\": \"%.60s\" is not a phase of the header", phase);
    pi = add_phase(rd, phase);
    if (pi < 0)
        return diag_set(d, -EINVAL, line, 0, "field \"phase\": bad name or too many phases");
    return pi;
}

/* Checks a request's content: messages (objects with a role), prompt (a string) or
 * prompt_token_ids (integers >= 0). Each is set borrowed from o, or NULL when absent or null. */
static int request_content(json_t *o, struct planrow *r, bool need, struct diag *d, unsigned line)
{
    json_t *msgs = json_object_get(o, "messages");
    json_t *prompt = json_object_get(o, "prompt");
    json_t *ids = json_object_get(o, "prompt_token_ids");
    size_t i;
    json_t *v;
    r->messages = json_is_null(msgs) ? NULL : msgs;
    r->prompt = json_is_null(prompt) ? NULL : prompt;
    r->prompt_token_ids = json_is_null(ids) ? NULL : ids;
    msgs = r->messages;
    ids = r->prompt_token_ids;
    if (msgs && (!json_is_array(msgs) || json_array_size(msgs) == 0))
        return diag_set(d, -EINVAL, line, 0, "field \"messages\": expected a non-empty array");
    json_array_foreach (msgs, i, v) {
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "role")))
            return diag_set(d, -EINVAL, line, 0,
                            "field \"messages[%zu]\": expected an object with a string role", i);
    }
    if (r->prompt && !json_is_string(r->prompt))
        return diag_set(d, -EINVAL, line, 0, "field \"prompt\": expected a string");
    if (ids && (!json_is_array(ids) || json_array_size(ids) == 0))
        return diag_set(d, -EINVAL, line, 0,
                        "field \"prompt_token_ids\": expected a non-empty array");
    json_array_foreach (ids, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return diag_set(d, -EINVAL, line, 0,
                            "field \"prompt_token_ids[%zu]\": expected an integer >= 0", i);
    }
    if (need && !msgs && !r->prompt && !ids)
        return diag_set(d, -EINVAL, line, 0,
                        "no request content: expected \"messages\", \"prompt\" or "
                        "\"prompt_token_ids\"");
    return 0;
}

/* hash_ids: an array of integers >= 0 (absent or null = none). */
static int request_hashes(json_t *o, struct planrow *r, bool need, struct diag *d, unsigned line)
{
    json_t *hs = json_object_get(o, "hash_ids");
    if (!hs || json_is_null(hs)) {
        if (need)
            return diag_set(d, -EINVAL, line, 0, "field \"hash_ids\": missing");
        return 0;
    }
    if (!json_is_array(hs))
        return diag_set(d, -EINVAL, line, 0, "field \"hash_ids\": expected an array");
    if (json_array_size(hs) > PLANROW_HASH_IDS_MAX)
        return diag_set(d, -EMSGSIZE, line, 0, "field \"hash_ids\": more than %u",
                        PLANROW_HASH_IDS_MAX);
    r->n_hash_ids = (uint32_t)json_array_size(hs);
    r->hash_ids = xmalloc(((size_t)r->n_hash_ids + 1) * sizeof(*r->hash_ids));
    for (uint32_t k = 0; k < r->n_hash_ids; k++) {
        json_t *e = json_array_get(hs, k);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return diag_set(d, -EINVAL, line, 0, "field \"hash_ids[%u]\": expected an integer >= 0",
                            k);
        r->hash_ids[k] = (uint64_t)json_integer_value(e);
    }
    return 0;
}

/* The scalar fields of a request line. */
static int request_fields(const json_t *o, struct planrow *r, bool replay, struct diag *d,
                          unsigned line)
{
    int rc = field_id(o, "session_id", r->session_id, d, line);
    if (rc < 0)
        return rc;
    uint64_t turn = 0, off = 0;
    bool off_set = false;
    if ((rc = field_u64(o, "turn", UINT32_MAX, &turn, NULL, d, line)) < 0 ||
        (rc = field_u64(o, "t_offset_ns", INT64_MAX, &off, &off_set, d, line)) < 0 ||
        (rc = field_u64(o, "think_time_ns", INT64_MAX, &r->think_time_ns, NULL, d, line)) < 0 ||
        (rc = field_u64(o, "input_tokens", PLANROW_TOKENS_MAX, &r->input_tokens, NULL, d, line)) <
            0 ||
        (rc = field_u64(o, "output_tokens", PLANROW_TOKENS_MAX, &r->output_tokens, NULL, d, line)) <
            0)
        return rc;
    r->turn = (uint32_t)turn;
    r->t_offset_ns = off_set ? (int64_t)off : -1;
    if (replay && (r->input_tokens == 0 || r->output_tokens == 0))
        return diag_set(
            d, -EINVAL, line, 0, "field \"%s\": expected an integer in [1, %u] (a replay needs it)",
            r->input_tokens == 0 ? "input_tokens" : "output_tokens", PLANROW_TOKENS_MAX);
    json_t *carry = json_object_get(o, "carry_history");
    if (carry && !json_is_boolean(carry) && !json_is_null(carry))
        return diag_set(d, -EINVAL, line, 0, "field \"carry_history\": expected true or false");
    r->carry_history = json_is_true(carry);
    return 0;
}

static int parse_request(struct planrow_reader *rd, json_t *o, planrow_fn fn, void *arg,
                         struct diag *d, unsigned line)
{
    struct planrow r = { .t_offset_ns = -1 };
    int rc = field_id(o, "id", r.id, d, line);
    if (rc < 0)
        goto out;
    if (!r.id[0]) {
        rc = diag_set(d, -EINVAL, line, 0, "field \"id\": missing");
        goto out;
    }
    json_t *seen = json_object_get(rd->ids, r.id);
    if (seen) {
        rc = diag_set(d, -EINVAL, line, 0, "field \"id\": \"%.60s\" repeats the id of line %lld",
                      r.id, (long long)json_integer_value(seen));
        goto out;
    }
    if (rd->opts.need_header && !rd->header) {
        rc = diag_set(d, -EINVAL, line, 0, "a request before the kvtier.plan header");
        goto out;
    }
    rc = request_phase(rd, o, d, line);
    if (rc < 0)
        goto out;
    r.phase = (uint32_t)rc;
    if ((rc = request_fields(o, &r, rd->opts.need_replay, d, line)) < 0 ||
        (rc = request_hashes(o, &r, rd->opts.need_replay, d, line)) < 0 ||
        (rc = request_content(o, &r, rd->opts.need_body, d, line)) < 0)
        goto out;
    if (rd->n_requests >= PLANROW_MAX_REQUESTS) {
        rc = diag_set(d, -EMSGSIZE, line, 0, "more than %u requests", PLANROW_MAX_REQUESTS);
        goto out;
    }
    json_object_set_new(rd->ids, r.id, json_integer(line));
    rd->n_requests++;
    rc = fn(arg, &r, line, d);
out:
    free(r.hash_ids);
    return rc < 0 ? rc : 0;
}

/* One non-blank line: a header or a request. */
static int read_line(struct planrow_reader *rd, const char *s, size_t n, planrow_fn fn, void *arg,
                     struct diag *d, unsigned line)
{
    json_error_t jerr;
    json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return diag_set(d, -EINVAL, line, (unsigned)jerr.column, "not JSON: %s", jerr.text);
    int rc = 0;
    json_t *kind = json_object_get(o, "kind");
    if (!json_is_object(o))
        rc = diag_set(d, -EINVAL, line, 0, "expected a JSON object");
    else if (kind && json_is_string(kind) && !strcmp(json_string_value(kind), "kvtier.plan"))
        rc = parse_header(rd, o, d, line);
    else if (!kind)
        rc = parse_request(rd, o, fn, arg, d, line);
    /* other headers are skipped */
    json_decref(o);
    return rc;
}

int planrow_read(struct planrow_reader *rd, const char *text, size_t len, const char *name,
                 planrow_fn fn, void *arg, struct diag *d)
{
    unsigned line = 0;
    size_t pos = 0;
    diag_file(d, name);
    while (pos < len) {
        line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > PLANROW_LINE_MAX_BYTES)
            return diag_set(d, -EMSGSIZE, line, 0, "line longer than %u bytes",
                            PLANROW_LINE_MAX_BYTES);
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
            k++;
        if (k == n)
            continue; /* blank line */
        int rc = read_line(rd, s, n, fn, arg, d, line);
        if (rc < 0)
            return rc;
    }
    if (rd->n_requests == 0)
        return diag_set(d, -EINVAL, 0, 0, "no requests");
    return 0;
}

int planrow_load_text(const char *path, struct buf *out, struct diag *d)
{
    buf_init(out, PLANROW_FILE_MAX_BYTES);
    int rc = fileio_read_all(path, PLANROW_FILE_MAX_BYTES, out);
    if (rc < 0) {
        diag_file(d, path);
        return diag_set(d, rc, 0, 0, "cannot read: %s", strerror(-rc));
    }
    return 0;
}
