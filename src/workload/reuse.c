/* SPDX-License-Identifier: Apache-2.0 */
/* Reuse accounting against observed counters (see reuse.h). */
#include "workload/reuse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonx.h"

uint64_t reuse_observed_tokens(const struct reuse_phase *p)
{
    uint64_t m = p->matched_known ? p->matched_tokens : 0;
    uint64_t c = p->cached_known ? p->cached_tokens : 0;
    return m > c ? m : c;
}

double reuse_ratio(const struct reuse_phase *p)
{
    if (p->opportunity_tokens == 0 || (!p->matched_known && !p->cached_known))
        return NAN;
    return (double)reuse_observed_tokens(p) / (double)p->opportunity_tokens;
}

bool reuse_not_observed(const struct reuse_phase *p, double min_ratio)
{
    if (p->opportunity_tokens < REUSE_MIN_OPPORTUNITY_TOKENS)
        return false;
    double r = reuse_ratio(p);
    return !isnan(r) && r < min_ratio;
}

int reuse_phases_from_header(const json_t *header, struct reuse_phase *out, size_t cap,
                             struct diag *d)
{
    const char *kind = jsonx_str(header, "kind", NULL);
    if (!kind || strcmp(kind, "kvtier.plan") != 0)
        return diag_set(d, -EINVAL, 1, 0, "kind: not a kvtier.plan header");
    const json_t *phases = json_object_get(header, "phases");
    const json_t *opp = json_object_get(header, "reuse_opportunity_tokens");
    const json_t *prompt = json_object_get(header, "prompt_tokens");
    if (!json_is_array(phases))
        return diag_set(d, -EINVAL, 1, 0, "phases: must be an array");
    if (!json_is_object(opp))
        return diag_set(d, -EINVAL, 1, 0, "reuse_opportunity_tokens: must be an object");
    size_t n = 0, i;
    json_t *ph;
    json_array_foreach (phases, i, ph) {
        const char *name = jsonx_str(ph, "name", NULL);
        if (!name || strlen(name) >= sizeof(out[0].name))
            return diag_set(d, -EINVAL, 1, 0, "phases[%zu].name: must be a short string", i);
        if (n == cap)
            return diag_set(d, -EMSGSIZE, 1, 0, "phases: more than %zu", cap);
        struct reuse_phase *p = &out[n++];
        *p = (struct reuse_phase){ 0 };
        snprintf(p->name, sizeof(p->name), "%s", name);
        p->opportunity_tokens = jsonx_u64(opp, name, 0);
        p->prompt_tokens = jsonx_u64(prompt, name, 0);
    }
    return (int)n;
}

static json_t *num_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

json_t *reuse_evaluate(const json_t *header, const json_t *observed, double min_ratio,
                       struct diag *d)
{
    struct reuse_phase ph[REUSE_MAX_PHASES];
    int n = reuse_phases_from_header(header, ph, REUSE_MAX_PHASES, d);
    if (n < 0)
        return NULL;
    json_t *phases = json_object();
    uint64_t opp = 0, obs = 0;
    bool any_known = false, tripped = false;
    char reason[400] = "";
    for (int i = 0; i < n; i++) {
        struct reuse_phase *p = &ph[i];
        const json_t *o = json_object_get(observed, p->name);
        const json_t *m = json_object_get(o, "kvbm_matched_tokens");
        const json_t *c = json_object_get(o, "cached_tokens");
        if (json_is_integer(m) && json_integer_value(m) >= 0) {
            p->matched_known = true;
            p->matched_tokens = (uint64_t)json_integer_value(m);
        }
        if (json_is_integer(c) && json_integer_value(c) >= 0) {
            p->cached_known = true;
            p->cached_tokens = (uint64_t)json_integer_value(c);
        }
        bool no = reuse_not_observed(p, min_ratio);
        if (no && !tripped)
            snprintf(reason, sizeof(reason),
                     "phase %.31s: %llu tokens of reuse opportunity, %llu observed (ratio %.3f < "
                     "%.3f)",
                     p->name, (unsigned long long)p->opportunity_tokens,
                     (unsigned long long)reuse_observed_tokens(p), reuse_ratio(p), min_ratio);
        tripped |= no;
        if (p->matched_known || p->cached_known) {
            any_known = true;
            opp += p->opportunity_tokens;
            obs += reuse_observed_tokens(p);
        }
        json_object_set_new(
            phases, p->name,
            json_pack("{s:I,s:I,s:o,s:o,s:I,s:o,s:b}", "opportunity_tokens",
                      (json_int_t)p->opportunity_tokens, "prompt_tokens",
                      (json_int_t)p->prompt_tokens, "matched_tokens",
                      p->matched_known ? json_integer((json_int_t)p->matched_tokens) : json_null(),
                      "cached_tokens",
                      p->cached_known ? json_integer((json_int_t)p->cached_tokens) : json_null(),
                      "observed_tokens", (json_int_t)reuse_observed_tokens(p), "ratio",
                      num_or_null(reuse_ratio(p)), "not_observed", no));
    }
    if (!any_known)
        snprintf(reason, sizeof(reason), "no reuse counter observed in any phase");
    double ratio = any_known && opp ? (double)obs / (double)opp : NAN;
    return json_pack("{s:f,s:o,s:I,s:I,s:o,s:b,s:s}", "min_ratio", min_ratio, "phases", phases,
                     "opportunity_tokens", (json_int_t)opp, "observed_tokens", (json_int_t)obs,
                     "ratio", num_or_null(ratio), "reuse_not_observed", tripped, "reason", reason);
}
