/* SPDX-License-Identifier: Apache-2.0 */
/* Engine limits before sending (see limits.h). */
#include "run/limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

#define PLAN_MAX_BYTES (512u << 20)

int limits_check(const char *plan_path, const json_t *engine_limits, const char *dataset, char *why,
                 size_t why_len)
{
    double ctx = jsonx_num(engine_limits, "context_length", 0);
    why[0] = 0;
    if (ctx <= 0)
        return 0;
    if (dataset && !strcmp(dataset, "L") && ctx < LIMITS_DATASET_L_TOKENS) {
        snprintf(why, why_len,
                 "Dataset L needs an engine of >= %d tokens; the running engine reports "
                 "dynamo_frontend_model_context_length %.0f",
                 LIMITS_DATASET_L_TOKENS, ctx);
        return -E2BIG;
    }
    struct buf b;
    buf_init(&b, PLAN_MAX_BYTES);
    int r = fileio_read_all(plan_path, PLAN_MAX_BYTES, &b);
    if (r < 0)
        goto out;
    const char *t = buf_str(&b);
    size_t line = 0;
    int over = 0;
    for (const char *p = t; *p; line++) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        json_t *j = NULL;
        struct diag d = { 0 };
        if (line > 0 && n && jsonx_parse(p, n, &j, &d) == 0) {
            double need = jsonx_num(j, "input_tokens", 0) + jsonx_num(j, "output_tokens", 0);
            if (need > ctx && over++ == 0)
                snprintf(why, why_len,
                         "planned request %s needs %.0f tokens (prompt + output) but the running "
                         "engine accepts %.0f (dynamo_frontend_model_context_length)",
                         jsonx_str(j, "id", "?"), need, ctx);
        }
        json_decref(j);
        p += n + (e ? 1 : 0);
    }
    r = over;
out:
    buf_fini(&b);
    return r;
}

int limits_write_dossier(const char *dir, const json_t *engine_limits, const char *why)
{
    json_t *j = json_object();
    json_object_set_new(j, "kind", json_string("kvtier.blocker_dossier"));
    json_object_set_new(j, "blocker", json_string("ENGINE_LIMIT"));
    json_object_set_new(j, "why", json_string(why));
    json_object_set_new(j, "observed", engine_limits ? json_deep_copy(engine_limits) : json_null());
    json_object_set_new(j, "must_change",
                        json_string("an engine built for the plan: max_seq_len >= the longest "
                                    "planned prompt + output (>= 32768 for Dataset L; the "
                                    "*_ctx32k model profiles ask for it in the engine args)"));
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *p = fileio_join(dir, "blocker_dossier.json");
    int r = fileio_write_atomic(p, txt, strlen(txt));
    free(p);
    free(txt);
    json_decref(j);
    if (r < 0)
        return r;
    char *md =
        xalloc_printf("# Blocker dossier: engine limit\n\n"
                      "No request was sent.\n\n"
                      "- **Why:** %s\n"
                      "- **Must change:** an engine built for the plan: `max_seq_len` >= the "
                      "longest planned prompt + output (>= 32768 for Dataset L; the "
                      "`*_ctx32k` model profiles ask for it in the engine args).\n"
                      "- **Observed:** `stack.observed_config.engine_limits` in "
                      "manifest.json.\n",
                      why);
    p = fileio_join(dir, "blocker_dossier.md");
    r = fileio_write_atomic(p, md, strlen(md));
    free(p);
    free(md);
    return r;
}

json_t *limits_prompt_tokens(const char *records_path)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    if (fileio_read_all(records_path, PLAN_MAX_BYTES, &b) < 0) {
        buf_fini(&b);
        return NULL;
    }
    json_t *ex = json_array();
    double compared = 0, mismatched = 0, max_diff = 0;
    const char *t = buf_str(&b);
    for (const char *p = t; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        json_t *j = NULL;
        struct diag d = { 0 };
        if (n && jsonx_parse(p, n, &j, &d) == 0 &&
            json_is_integer(json_object_get(j, "prompt_tokens")) &&
            json_is_integer(json_object_get(j, "plan_input_tokens"))) {
            double srv = jsonx_num(j, "prompt_tokens", 0);
            double plan = jsonx_num(j, "plan_input_tokens", 0);
            double diff = srv > plan ? srv - plan : plan - srv;
            double tol = LIMITS_PROMPT_TOL_FRACTION * plan;
            compared++;
            if (diff > max_diff)
                max_diff = diff;
            if (diff > (tol > LIMITS_PROMPT_TOL_TOKENS ? tol : LIMITS_PROMPT_TOL_TOKENS)) {
                mismatched++;
                if (json_array_size(ex) < 5) {
                    json_t *x = json_object();
                    json_object_set_new(x, "id", json_string(jsonx_str(j, "id", "?")));
                    jsonx_set_num(x, "planned", plan);
                    jsonx_set_num(x, "server", srv);
                    json_array_append_new(ex, x);
                }
            }
        }
        json_decref(j);
        p += n + (e ? 1 : 0);
    }
    buf_fini(&b);
    json_t *o = json_object();
    jsonx_set_num(o, "compared", compared);
    jsonx_set_num(o, "mismatched", mismatched);
    jsonx_set_num(o, "max_abs_diff", max_diff);
    jsonx_set_num(o, "tolerance_tokens", LIMITS_PROMPT_TOL_TOKENS);
    jsonx_set_num(o, "tolerance_fraction", LIMITS_PROMPT_TOL_FRACTION);
    json_object_set_new(o, "examples", ex);
    return o;
}
