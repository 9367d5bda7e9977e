/* SPDX-License-Identifier: Apache-2.0 */
/* Plans end to end through the library: byte-identical for the same inputs; shared prefixes
 * share exactly their blocks after the chat template and tokenization (checked through the
 * engine's path: chat_render + tokenizer_encode + blockhash_chain); reuse opportunity; pressure
 * arithmetic against the capacities; Dataset L refused for short engines; malformed profiles
 * named by file, line and field; Mooncake import and export round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "tokenizer/blockhash.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"
#include "workload/mooncake.h"
#include "workload/workload.h"

static char tmpdir[256];
static const char *profiles;

static int setup(void **state)
{
    (void)state;
    profiles = getenv("KVTIER_PROFILES");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kvtier-test-workload-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const struct workload_capacity small_cap = { .g1_blocks = 600,
                                                    .g2_blocks = 400,
                                                    .g3_blocks = 8000 };

static int plan(const char *wl, const char *ds, const char *model, uint64_t seed,
                const struct workload_options *o, const char *out, json_t **h, struct diag *d)
{
    return workload_plan_write(profiles, wl, ds, model, seed, &small_cap, o, out, h, d);
}

static json_t *load_lines(const char *path)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(fileio_read_all(path, 1u << 30, &b), 0);
    json_t *arr = json_array();
    const char *p = buf_str(&b);
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (nl == p) { /* blank line */
            p++;
            continue;
        }
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        assert_non_null(o);
        json_array_append_new(arr, o);
        p = nl + 1;
    }
    buf_fini(&b);
    return arr;
}

static void test_determinism(void **state)
{
    (void)state;
    if (!profiles)
        skip();
    struct workload_options o;
    workload_options_init(&o);
    char a[300], b[300], c[300];
    snprintf(a, sizeof(a), "%s/a.jsonl", tmpdir);
    snprintf(b, sizeof(b), "%s/b.jsonl", tmpdir);
    snprintf(c, sizeof(c), "%s/c.jsonl", tmpdir);
    json_t *h = NULL;
    struct diag d = { 0 };
    static const char *wls[] = { "A", "B", "C", "D" };
    for (int i = 0; i < 4; i++) {
        if (plan(wls[i], "S", "tiny", 7, &o, a, &h, &d) != 0)
            fail_msg("%s: %s", wls[i], d.msg);
        json_decref(h);
        assert_int_equal(plan(wls[i], "S", "tiny", 7, &o, b, &h, &d), 0);
        json_decref(h);
        assert_int_equal(plan(wls[i], "S", "tiny", 8, &o, c, &h, &d), 0);
        json_decref(h);
        struct buf x, y, z;
        buf_init(&x, 0);
        buf_init(&y, 0);
        buf_init(&z, 0);
        fileio_read_all(a, 1u << 30, &x);
        fileio_read_all(b, 1u << 30, &y);
        fileio_read_all(c, 1u << 30, &z);
        assert_int_equal(x.len, y.len);
        assert_memory_equal(x.data, y.data, x.len);
        assert_true(x.len != z.len || memcmp(x.data, z.data, x.len) != 0);
        buf_fini(&x);
        buf_fini(&y);
        buf_fini(&z);
    }
}

static size_t common_blocks(const json_t *a, const json_t *b)
{
    size_t n = 0;
    while (n < json_array_size(a) && n < json_array_size(b) &&
           json_integer_value(json_array_get(a, n)) == json_integer_value(json_array_get(b, n)))
        n++;
    return n;
}

/* The engine's path: render the messages with the model's template, encode, hash blocks. */
static void engine_check(const struct tokenizer *t, enum chat_template tpl, const json_t *r)
{
    struct buf text;
    buf_init(&text, 0);
    assert_int_equal(chat_render(tpl, json_object_get(r, "messages"), true, &text, NULL), 0);
    struct token_ids v = { 0 };
    assert_int_equal(tokenizer_encode(t, buf_str(&text), text.len, true, &v), 0);
    assert_int_equal(v.len, json_integer_value(json_object_get(r, "input_tokens")));
    size_t nb = v.len / 32;
    uint64_t *hs = test_calloc(nb + 1, sizeof(*hs));
    blockhash_chain(v.ids, v.len, 32, hs, nb);
    const json_t *ha = json_object_get(r, "hash_ids");
    assert_int_equal(json_array_size(ha), nb);
    for (size_t i = 0; i < nb; i++)
        assert_int_equal((uint64_t)json_integer_value(json_array_get(ha, i)), hs[i]);
    test_free(hs);
    tokenizer_ids_fini(&v);
    buf_fini(&text);
}

/* The Llama 3.1/3.3 profiles plan chat prompts with the llama31 template: with the exact
 * tokenizer every request's input_tokens is the engine's count of its rendered messages. */
static void test_llama31_profiles(void **state)
{
    (void)state;
    const char *fx = getenv("KVTIER_FIXTURES");
    if (!profiles || !fx)
        skip();
    char tok[512], out[300];
    snprintf(tok, sizeof(tok), "%s/engine/tokenizer.json", fx);
    struct tokenizer *t = NULL;
    assert_int_equal(tokenizer_new_from_file(tok, &t, NULL), 0);
    static const char *const models[] = { "llama8b_fp8", "llama8b_bf16", "llama33_70b_nvfp4",
                                          "llama33_70b_nvfp4_ctx32k" };
    for (size_t m = 0; m < 4; m++) {
        struct workload_options o;
        workload_options_init(&o);
        o.tokenizer_path = tok;
        o.max_requests = 2;
        snprintf(out, sizeof(out), "%s/l31-%zu.jsonl", tmpdir, m);
        json_t *h = NULL;
        struct diag d = { 0 };
        assert_int_equal(plan("A", "S", models[m], 1, &o, out, &h, &d), 0);
        assert_string_equal(jsonx_str(h, "chat_template", ""), "llama31");
        assert_string_equal(jsonx_str(h, "endpoint", ""), "chat");
        json_t *rs = load_lines(out);
        assert_true(json_array_size(rs) > 2);
        for (size_t i = 1; i < 3; i++)
            engine_check(t, CHAT_TEMPLATE_LLAMA31, json_array_get(rs, i));
        json_decref(rs);
        json_decref(h);
    }
    tokenizer_free(t);
}

static void test_alignment_and_reuse(void **state)
{
    (void)state;
    if (!profiles)
        skip();
    struct workload_options o;
    workload_options_init(&o);
    char a[300];
    snprintf(a, sizeof(a), "%s/align.jsonl", tmpdir);
    json_t *h = NULL;
    struct diag d = { 0 };
    assert_int_equal(plan("A", "S", "tiny", 3, &o, a, &h, &d), 0);
    json_t *rs = load_lines(a);
    struct tokenizer *t = tokenizer_new_approx(32000); /* tiny's vocabulary */
    /* A/S: system 1024 + repository context 5120 tokens = 192 shared blocks per project */
    size_t checked = 0, i;
    json_t *r;
    json_array_foreach (rs, i, r) {
        if (i == 0)
            continue;
        engine_check(t, CHAT_TEMPLATE_LLAMA3, r);
        if (strcmp(jsonx_str(r, "phase", ""), "replay") != 0)
            continue;
        for (size_t k = 1; k < json_array_size(rs); k++) {
            json_t *w = json_array_get(rs, k);
            if (strcmp(jsonx_str(w, "phase", ""), "warmup") != 0 ||
                strcmp(jsonx_str(w, "group", ""), jsonx_str(r, "group", "")) != 0)
                continue;
            assert_int_equal(
                common_blocks(json_object_get(w, "hash_ids"), json_object_get(r, "hash_ids")), 192);
            assert_string_equal(jsonx_str(w, "prefix_hash", ""), jsonx_str(r, "prefix_hash", ""));
            assert_int_equal(jsonx_u64(r, "reuse_opportunity_tokens", 0), 192 * 32);
            checked++;
        }
        /* different projects share only the 32 blocks of the system prompt */
        json_t *other = json_array_get(rs, 1);
        if (strcmp(jsonx_str(other, "group", ""), jsonx_str(r, "group", "")) != 0)
            assert_int_equal(
                common_blocks(json_object_get(other, "hash_ids"), json_object_get(r, "hash_ids")),
                32);
    }
    assert_true(checked >= 6);
    /* the header's per-phase opportunity is the sum of the requests' */
    json_t *opp = json_object_get(h, "reuse_opportunity_tokens");
    uint64_t sum = 0;
    json_array_foreach (rs, i, r) {
        if (i && !strcmp(jsonx_str(r, "phase", ""), "replay"))
            sum += jsonx_u64(r, "reuse_opportunity_tokens", 0);
    }
    assert_int_equal(jsonx_u64(opp, "replay", 1), sum);
    assert_true(sum > 0);
    /* pressure: unique working set above G1+G2 and within G3 */
    json_t *pr = json_object_get(h, "pressure");
    assert_true(jsonx_u64(pr, "unique_blocks", 0) > 1000);
    assert_true(jsonx_u64(pr, "unique_blocks", 0) <= 8000);
    assert_true(jsonx_bool(pr, "exceeds_g1_g2", false));
    assert_true(jsonx_bool(pr, "fits_g3", false));
    assert_true(jsonx_bool(pr, "feasible", false));
    assert_int_equal(jsonx_u64(json_object_get(h, "capacity"), "bytes_per_block", 0), 262144);
    assert_string_equal(jsonx_str(h, "tokenizer", ""), "approx");
    tokenizer_free(t);
    json_decref(rs);
    json_decref(h);
}

static void test_sessions(void **state)
{
    (void)state;
    if (!profiles)
        skip();
    struct workload_options o;
    workload_options_init(&o);
    char a[300];
    snprintf(a, sizeof(a), "%s/b.jsonl", tmpdir);
    json_t *h = NULL;
    struct diag d = { 0 };
    assert_int_equal(plan("B", "S", "tiny", 3, &o, a, &h, &d), 0);
    json_t *rs = load_lines(a);
    /* each later turn extends the previous turn's prompt: all its full blocks are reused */
    size_t i, later = 0;
    json_t *r;
    json_array_foreach (rs, i, r) {
        if (!i || jsonx_u64(r, "turn", 0) == 0)
            continue;
        const char *sid = jsonx_str(r, "session_id", NULL);
        assert_non_null(sid);
        json_t *prev = NULL;
        for (size_t k = i - 1; k > 0 && !prev; k--) {
            json_t *p = json_array_get(rs, k);
            if (!strcmp(jsonx_str(p, "session_id", ""), sid) &&
                jsonx_u64(p, "turn", 0) + 1 == jsonx_u64(r, "turn", 0))
                prev = p;
        }
        assert_non_null(prev);
        size_t pb = json_array_size(json_object_get(prev, "hash_ids"));
        assert_int_equal(
            common_blocks(json_object_get(prev, "hash_ids"), json_object_get(r, "hash_ids")), pb);
        assert_true(jsonx_u64(r, "reuse_opportunity_tokens", 0) >= pb * 32);
        if (json_is_null(json_object_get(r, "t_offset_ns")))
            assert_true(jsonx_u64(r, "think_time_ns", 0) >= 3000000000ull);
        later++;
    }
    assert_true(later > 10);
    json_decref(rs);
    json_decref(h);
}

/* skip_steady (kvtier bundle --steady no): the plan has no steady phase and no steady request;
 * the phases before it are the same requests as with it. */
static void test_skip_steady(void **state)
{
    (void)state;
    if (!profiles)
        skip();
    struct workload_options o;
    workload_options_init(&o);
    o.max_requests = 10;
    char a[300], b[300];
    snprintf(a, sizeof(a), "%s/with.jsonl", tmpdir);
    snprintf(b, sizeof(b), "%s/without.jsonl", tmpdir);
    json_t *ha = NULL, *hb = NULL;
    struct diag d = { 0 };
    assert_int_equal(plan("A", "S", "tiny", 1, &o, a, &ha, &d), 0);
    o.skip_steady = true;
    assert_int_equal(plan("A", "S", "tiny", 1, &o, b, &hb, &d), 0);
    json_t *ra = load_lines(a), *rb = load_lines(b);
    size_t i, steady_a = 0, steady_b = 0, nb = json_array_size(rb);
    json_t *r;
    json_array_foreach (ra, i, r)
        steady_a += i && !strcmp(jsonx_str(r, "phase", ""), "steady");
    json_array_foreach (rb, i, r) {
        steady_b += i && !strcmp(jsonx_str(r, "phase", ""), "steady");
        if (i)
            assert_string_equal(jsonx_str(r, "id", ""),
                                jsonx_str(json_array_get(ra, i), "id", "?"));
    }
    assert_true(steady_a > 0);
    assert_int_equal(steady_b, 0);
    assert_int_equal(json_array_size(ra) - steady_a, nb);
    json_t *ph;
    json_array_foreach (json_object_get(hb, "phases"), i, ph)
        assert_string_not_equal(jsonx_str(ph, "name", ""), "steady");
    json_decref(ra);
    json_decref(rb);
    json_decref(ha);
    json_decref(hb);
}

static void test_refusals(void **state)
{
    (void)state;
    if (!profiles)
        skip();
    struct workload_options o;
    workload_options_init(&o);
    char a[300], dir[300], cmd[2400];
    snprintf(a, sizeof(a), "%s/x.jsonl", tmpdir);
    json_t *h = NULL;
    struct diag d = { 0 };
    assert_int_equal(plan("C", "L", "llama8b_fp8", 1, &o, a, &h, &d), -EINVAL);
    assert_non_null(strstr(d.msg, "max_sequence_length >= 32768"));
    d = (struct diag){ 0 };
    assert_int_equal(plan("Z", "S", "tiny", 1, &o, a, &h, &d), -ENOENT);
    d = (struct diag){ 0 };
    assert_int_equal(plan("A", "M", "tiny", 1, &o, a, &h, &d), -EINVAL);
    /* malformed profile: file, line and field */
    snprintf(dir, sizeof(dir), "%s/profiles", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/workloads && ln -sfn %s/models %s/models && sed "
             "'s/groups: 6/groups: six/' %s/workloads/A.yaml > %s/workloads/A.yaml",
             dir, profiles, dir, profiles, dir);
    assert_int_equal(system(cmd), 0);
    d = (struct diag){ 0 };
    assert_int_equal(workload_plan_write(dir, "A", "S", "tiny", 1, &small_cap, &o, a, &h, &d),
                     -EINVAL);
    assert_non_null(strstr(d.file, "workloads/A.yaml"));
    assert_non_null(strstr(d.msg, "datasets.S.classes[0].groups"));
    assert_true(d.line > 10);
    /* the loser must not have replaced an earlier plan: no partial file */
    assert_int_equal(access(a, F_OK), -1);
}

static void test_mooncake_round_trip(void **state)
{
    (void)state;
    if (!profiles)
        skip();
    char tr[300], pl[300], ex[300];
    snprintf(tr, sizeof(tr), "%s/trace.jsonl", tmpdir);
    snprintf(pl, sizeof(pl), "%s/trace-plan.jsonl", tmpdir);
    snprintf(ex, sizeof(ex), "%s/trace-out.jsonl", tmpdir);
    static const char trace[] =
        "{\"timestamp\": 0, \"input_length\": 128, \"output_length\": 10, \"hash_ids\": [0, 1, 2, "
        "3]}\n"
        "{\"timestamp\": 500, \"input_length\": 96, \"output_length\": 12, \"hash_ids\": [0, 1, "
        "4]}\n"
        "\n"
        "{\"timestamp\": 1200, \"input_length\": 40, \"output_length\": 5, \"hash_ids\": [5, "
        "6]}\n"
        "{\"timestamp\": 2000, \"input_length\": 130, \"output_length\": 9, \"hash_ids\": [0, 1, "
        "2, 3, 7]}\n";
    assert_int_equal(fileio_write_atomic(tr, trace, strlen(trace)), 0);
    struct workload_options o;
    workload_options_init(&o);
    o.trace_path = tr;
    o.trace_tokens_per_hash = 32;
    o.endpoint = WORKLOAD_ENDPOINT_COMPLETIONS;
    json_t *h = NULL;
    struct diag d = { 0 };
    if (plan("A", "S", "tiny", 1, &o, pl, &h, &d) != 0)
        fail_msg("%s", d.msg);
    assert_int_equal(jsonx_u64(h, "requests", 0), 4);
    /* row 2 reuses 2 blocks of row 1, row 4 all 4 of them. (The round trip is exact when
     * rows share only full blocks: a partial tail block has no KV identity.) */
    assert_int_equal(jsonx_u64(json_object_get(h, "reuse_opportunity_tokens"), "steady", 0),
                     (2 + 4) * 32);
    json_decref(h);
    assert_int_equal(mooncake_export(pl, ex, &d), 4);
    json_t *in = load_lines(tr), *out = load_lines(ex);
    assert_int_equal(json_array_size(in), json_array_size(out));
    for (size_t i = 0; i < json_array_size(in); i++) {
        json_t *a = json_array_get(in, i), *b = json_array_get(out, i);
        assert_int_equal(jsonx_u64(a, "input_length", 0), jsonx_u64(b, "input_length", 1));
        assert_int_equal(jsonx_u64(a, "output_length", 0), jsonx_u64(b, "output_length", 1));
        assert_int_equal(jsonx_u64(a, "timestamp", 0), jsonx_u64(b, "timestamp", 1));
        assert_true(json_equal(json_object_get(a, "hash_ids"), json_object_get(b, "hash_ids")));
    }
    json_decref(in);
    json_decref(out);
    /* a malformed row is named by file, line and field */
    static const char bad[] = "{\"input_length\": 10, \"output_length\": 1, \"hash_ids\": [0]}\n"
                              "{\"input_length\": 10, \"hash_ids\": [0]}\n";
    assert_int_equal(fileio_write_atomic(tr, bad, strlen(bad)), 0);
    d = (struct diag){ 0 };
    assert_int_equal(plan("A", "S", "tiny", 1, &o, pl, &h, &d), -EINVAL);
    assert_non_null(strstr(d.file, "trace.jsonl"));
    assert_int_equal(d.line, 2);
    assert_non_null(strstr(d.msg, "output_length"));
    /* a plan line that is not JSON: the export names file, line and the parser's message
     * (re-labelled by diag_set with the message itself as its argument) */
    static const char badplan[] =
        "{\"kind\":\"kvtier.plan\",\"tokens_per_block\":32}\n{\"id\": nope}\n";
    assert_int_equal(fileio_write_atomic(pl, badplan, strlen(badplan)), 0);
    d = (struct diag){ 0 };
    assert_int_equal(mooncake_export(pl, ex, &d), -EINVAL);
    assert_non_null(strstr(d.file, "trace-plan.jsonl"));
    assert_int_equal(d.line, 2);
    assert_true(strlen(d.msg) > 8);
    assert_null(strstr(d.msg, "%s"));
    /* writes that fail after their temp file exists (the output is a directory, so the rename
     * fails) name the output and remove the temp file */
    char outdir[300];
    snprintf(outdir, sizeof(outdir), "%s/out.d", tmpdir);
    assert_int_equal(mkdir(outdir, 0755), 0);
    assert_int_equal(fileio_write_atomic(tr, trace, strlen(trace)), 0);
    d = (struct diag){ 0 };
    assert_true(plan("A", "S", "tiny", 1, &o, outdir, &h, &d) < 0);
    assert_non_null(strstr(d.file, "out.d"));
    assert_non_null(strstr(d.msg, "cannot write the plan"));
    assert_int_equal(plan("A", "S", "tiny", 1, &o, pl, &h, &d), 0);
    json_decref(h);
    d = (struct diag){ 0 };
    assert_true(mooncake_export(pl, outdir, &d) < 0);
    assert_non_null(strstr(d.file, "out.d"));
    assert_non_null(strstr(d.msg, "cannot write"));
    assert_int_equal(rmdir(outdir), 0);
    /* failed writes and exports leave no temp file behind */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q '\\.tmp\\.'", tmpdir);
    assert_int_not_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_alignment_and_reuse),
        cmocka_unit_test(test_llama31_profiles),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_skip_steady),
        cmocka_unit_test(test_mooncake_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
