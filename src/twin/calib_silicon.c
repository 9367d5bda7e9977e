/* SPDX-License-Identifier: Apache-2.0 */
/* Calibration against a real-silicon measurement, the reload-vs-recompute crossover and the
 * fitted profile's YAML (see calib.h). */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonx.h"
#include "common/xalloc.h"
#include "engine/cost.h"
#include "twin/calib.h"
#include "twin/fit.h"

#define CROSSOVER_MAX_TOKENS (1u << 20)

static const int sil_params[] = { CALIB_MFU,  CALIB_MBU,     CALIB_KV_READ,
                                  CALIB_STEP, CALIB_PER_SEQ, CALIB_ATTN_MFU };
#define SIL_N (sizeof(sil_params) / sizeof(sil_params[0]))

static double *sfield(struct hw_profile *h, int k)
{
    switch (k) {
    case CALIB_MFU:
        return &h->mfu_prefill;
    case CALIB_MBU:
        return &h->mbu_decode;
    case CALIB_KV_READ:
        return &h->kv_read_bytes_per_s;
    case CALIB_STEP:
        return &h->step_overhead_s;
    case CALIB_ATTN_MFU:
        return &h->attn_mfu;
    default:
        return &h->per_seq_overhead_s;
    }
}

static double row_time(const struct model_profile *m, const struct hw_profile *h,
                       const struct calib_row *row)
{
    struct cost_model cm;
    if (cost_model_init(&cm, m, h) < 0)
        return NAN;
    struct cost_step s = { 0 };
    for (unsigned b = 0; b < row->batch; b++) {
        if (row->decode)
            cost_step_add_decode(&cm, &s, row->tokens);
        else
            cost_step_add_prefill(&cm, &s, 0, row->tokens);
    }
    return (double)cost_step_ns(&cm, &s) / 1e9;
}

struct sctx {
    struct calib_silicon *r;
    const struct model_profile *m;
};

static void sapply(struct hw_profile *h, const double *x)
{
    for (size_t i = 0; i < SIL_N; i++) {
        double v = exp(x[i]);
        if (sil_params[i] == CALIB_MFU || sil_params[i] == CALIB_MBU ||
            sil_params[i] == CALIB_ATTN_MFU)
            v = fmin(v, 1.0);
        *sfield(h, sil_params[i]) = v;
    }
}

static double sobjective(const double *x, void *arg)
{
    struct sctx *cx = arg;
    struct hw_profile h = cx->r->fitted;
    sapply(&h, x);
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < cx->r->n_rows; i++) {
        const struct calib_row *row = &cx->r->rows[i];
        if (row->held_out)
            continue;
        double t = row_time(cx->m, &h, row);
        sum += pow(log(t / row->measured_s), 2);
        n++;
    }
    return n ? sum / (double)n : HUGE_VAL;
}

static int read_rows(const json_t *silicon, struct calib_silicon *r, struct diag *d)
{
    const json_t *pre = json_object_get(silicon, "prefill");
    const json_t *dec = json_object_get(silicon, "decode");
    if (!json_is_array(pre) || !json_is_array(dec))
        return diag_set(d, -EINVAL, 0, 0, "silicon JSON needs \"prefill\" and \"decode\" arrays");
    r->rows = xcalloc(json_array_size(pre) + json_array_size(dec) + 1, sizeof(*r->rows));
    size_t i;
    json_t *v;
    json_array_foreach (pre, i, v) {
        struct calib_row *row = &r->rows[r->n_rows];
        *row = (struct calib_row){ .batch = (unsigned)jsonx_u64(v, "batch", 0),
                                   .tokens = (unsigned)jsonx_u64(v, "isl", 0),
                                   .measured_s = jsonx_num(v, "seconds", NAN),
                                   .held_out = i % 2 == 1 };
        if (row->batch == 0 || row->tokens == 0 || !(row->measured_s > 0))
            return diag_set(d, -EINVAL, 0, 0, "prefill[%zu]: batch, isl, seconds needed", i);
        r->n_rows++;
    }
    json_array_foreach (dec, i, v) {
        struct calib_row *row = &r->rows[r->n_rows];
        double t = jsonx_num(v, "graph_s", NAN);
        if (!(t > 0))
            t = jsonx_num(v, "eager_s", NAN);
        *row = (struct calib_row){ .decode = true,
                                   .batch = (unsigned)jsonx_u64(v, "batch", 0),
                                   .tokens = (unsigned)jsonx_u64(v, "context", 0),
                                   .measured_s = t,
                                   .held_out = i % 2 == 1 };
        if (row->batch == 0 || row->tokens == 0 || !(row->measured_s > 0))
            return diag_set(d, -EINVAL, 0, 0, "decode[%zu]: batch, context, a time needed", i);
        r->n_rows++;
    }
    return 0;
}

/* Measured prefill time of n tokens at batch 1: least-squares a + b n + c n^2 over the rows. */
static bool quad_fit(const struct calib_silicon *r, double *coef)
{
    double A[3][4] = { { 0 } };
    size_t n = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct calib_row *row = &r->rows[i];
        if (row->decode || row->batch != 1)
            continue;
        double x[3] = { 1, row->tokens, (double)row->tokens * row->tokens };
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++)
                A[a][b] += x[a] * x[b];
            A[a][3] += x[a] * row->measured_s;
        }
        n++;
    }
    if (n < 3)
        return false;
    for (int c = 0; c < 3; c++) { /* Gauss-Jordan, the matrix is positive definite */
        for (int r2 = 0; r2 < 3; r2++) {
            if (r2 == c)
                continue;
            double f = A[r2][c] / A[c][c];
            for (int k = c; k < 4; k++)
                A[r2][k] -= f * A[c][k];
        }
    }
    for (int c = 0; c < 3; c++)
        coef[c] = A[c][3] / A[c][c];
    return true;
}

unsigned calib_crossover_model(const struct model_profile *m, const struct hw_profile *h,
                               double ssd_bps)
{
    double kvb = (double)profile_kv_bytes_per_token(m);
    struct calib_row q = { .batch = 1, .tokens = CALIB_CROSSOVER_QUERY };
    double tq = row_time(m, h, &q);
    for (double n = 32; n <= CROSSOVER_MAX_TOKENS; n = ceil(n * 1.02 / 32) * 32) {
        struct calib_row row = { .batch = 1, .tokens = (unsigned)n + CALIB_CROSSOVER_QUERY };
        if (n * kvb / ssd_bps < row_time(m, h, &row) - tq)
            return (unsigned)n;
    }
    return 0;
}

static void measured_crossover(const json_t *silicon, const struct model_profile *m,
                               struct calib_silicon *r)
{
    const json_t *disk = json_object_get(silicon, "disk");
    const char *keys[] = { "read_bytes_per_s_qd1", "read_bytes_per_s_qd8",
                           "read_bytes_per_s_qd32" };
    for (size_t i = 0; i < 3; i++)
        r->disk_read_bps = fmax(r->disk_read_bps, jsonx_num(disk, keys[i], 0));
    r->h2d_bps = jsonx_num(json_object_get(silicon, "copies"), "h2d_pinned_bytes_per_s", 0);
    r->ssd_bps[0] = r->disk_read_bps;
    r->ssd_bps[1] = 7e9;
    r->ssd_bps[2] = 14e9;
    double c[3];
    if (!quad_fit(r, c))
        return;
    double kvb = (double)profile_kv_bytes_per_token(m), q = CALIB_CROSSOVER_QUERY;
    for (int k = 0; k < 3; k++) {
        if (!(r->ssd_bps[k] > 0))
            continue;
        for (double n = 32; n <= CROSSOVER_MAX_TOKENS; n = ceil(n * 1.02 / 32) * 32) {
            double x = n + q, marginal = c[1] * n + c[2] * (x * x - q * q);
            if (n * kvb / r->ssd_bps[k] < marginal) {
                r->crossover_measured[k] = (unsigned)n;
                break;
            }
        }
    }
}

static double row_mape(const struct calib_silicon *r, bool held, bool after)
{
    double s = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct calib_row *row = &r->rows[i];
        if (held && !row->held_out)
            continue;
        s += fabs((after ? row->after_s : row->before_s) - row->measured_s) / row->measured_s;
        n++;
    }
    return n ? s / (double)n * 100 : NAN;
}

int calib_silicon_fit(const json_t *silicon, const struct model_profile *m,
                      const struct hw_profile *h, struct calib_silicon *r, struct diag *d)
{
    *r = (struct calib_silicon){ .fitted = *h };
    int rc = read_rows(silicon, r, d);
    if (rc < 0)
        return rc;
    struct cost_model cm;
    if (cost_model_init(&cm, m, h) < 0)
        return diag_set(d, -EINVAL, 0, 0, "hardware %s lacks a rate for model %s", h->name,
                        m->name);
    for (size_t i = 0; i < r->n_rows; i++)
        r->rows[i].before_s = row_time(m, h, &r->rows[i]);
    double x[SIL_N], step[SIL_N];
    if (!(r->fitted.attn_mfu > 0)) /* start attention at the GEMM fraction */
        r->fitted.attn_mfu = r->fitted.mfu_prefill;
    for (size_t i = 0; i < SIL_N; i++) {
        x[i] = log(fmax(*sfield(&r->fitted, sil_params[i]), 1e-9));
        step[i] = 0.5;
    }
    struct sctx cx = { .r = r, .m = m };
    for (int round = 0; round < 3; round++) { /* restarts: NM stalls in flat valleys */
        fit_nelder_mead(sobjective, &cx, x, step, SIL_N, 1500, 1e-10);
        for (size_t i = 0; i < SIL_N; i++)
            step[i] *= 0.5;
    }
    sapply(&r->fitted, x);
    for (size_t i = 0; i < r->n_rows; i++)
        r->rows[i].after_s = row_time(m, &r->fitted, &r->rows[i]);
    r->mape_before = row_mape(r, false, false);
    r->mape_held = row_mape(r, true, true);
    measured_crossover(silicon, m, r);
    for (int k = 0; k < 3; k++)
        if (r->ssd_bps[k] > 0) {
            r->crossover_before[k] = calib_crossover_model(m, h, r->ssd_bps[k]);
            r->crossover_after[k] = calib_crossover_model(m, &r->fitted, r->ssd_bps[k]);
        }
    return 0;
}

void calib_silicon_free(struct calib_silicon *r)
{
    free(r->rows);
    r->rows = NULL;
}

static void yaml_json(struct buf *b, const json_t *v, int indent)
{
    const char *k;
    json_t *e;
    json_object_foreach ((json_t *)v, k, e) {
        buf_printf(b, "%*s%s:", indent, "", k);
        if (json_is_object(e)) {
            buf_printf(b, "\n");
            yaml_json(b, e, indent + 2);
            continue;
        }
        char *s = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
        buf_printf(b, " %s\n", s ? s : "null");
        free(s);
    }
}

char *calib_profile_yaml(const struct hw_profile *h, const char *name, const char *comment,
                         const json_t *calibration)
{
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = comment; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        buf_printf(&b, "# %.*s\n", (int)len, p);
        p += len + (nl != NULL);
    }
    buf_printf(&b,
               "name: %s\nunified_memory: %s\nmemory_bytes: %.6g\nmemory_bw_bytes_per_s: %.6g\n"
               "gpu_visible_bytes: %.6g\nfree_gpu_memory_fraction: %.6g\ncompute:\n"
               "  fp4_flops: %.6g\n  fp8_flops: %.6g\n  bf16_flops: %.6g\n  mfu_prefill: %.4g\n"
               "  mbu_decode: %.4g\n  kv_read_bytes_per_s: %.4g\n  step_overhead_s: %.4g\n"
               "  per_seq_overhead_s: %.4g\n",
               name, h->unified_memory ? "true" : "false", h->memory_bytes,
               h->memory_bw_bytes_per_s, h->gpu_visible_bytes, h->free_gpu_memory_fraction,
               h->fp4_flops, h->fp8_flops, h->bf16_flops, h->mfu_prefill, h->mbu_decode,
               h->kv_read_bytes_per_s, h->step_overhead_s, h->per_seq_overhead_s);
    if (h->attn_mfu > 0)
        buf_printf(&b, "  attn_mfu: %.4g\n", h->attn_mfu);
    buf_printf(&b,
               "links:\n  g1_g2_bytes_per_s: %.4g\n  ssd_read_bytes_per_s: %.4g\n"
               "  ssd_write_bytes_per_s: %.4g\n",
               h->g1_g2_bytes_per_s, h->ssd_read_bytes_per_s, h->ssd_write_bytes_per_s);
    if (calibration) {
        buf_printf(&b, "calibration:\n");
        yaml_json(&b, calibration, 2);
    }
    return buf_take_str(&b);
}
