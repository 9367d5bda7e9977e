/* SPDX-License-Identifier: Apache-2.0 */
/* Nelder-Mead simplex (see fit.h): reflection 1, expansion 2, contraction 1/2, shrink 1/2. */
#include "twin/fit.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

struct simplex {
    double x[FIT_MAX_PARAMS + 1][FIT_MAX_PARAMS];
    double f[FIT_MAX_PARAMS + 1];
    size_t n;
};

static void order(struct simplex *s)
{
    for (size_t i = 1; i <= s->n; i++)
        for (size_t j = i; j > 0 && s->f[j] < s->f[j - 1]; j--) {
            double t = s->f[j];
            s->f[j] = s->f[j - 1];
            s->f[j - 1] = t;
            double tx[FIT_MAX_PARAMS];
            memcpy(tx, s->x[j], sizeof(tx));
            memcpy(s->x[j], s->x[j - 1], sizeof(tx));
            memcpy(s->x[j - 1], tx, sizeof(tx));
        }
}

/* p = c + a (c - worst) */
static void along(const struct simplex *s, const double *c, double a, double *p)
{
    for (size_t k = 0; k < s->n; k++)
        p[k] = c[k] + a * (c[k] - s->x[s->n][k]);
}

static double eval(fit_fn f, void *ctx, const double *x, unsigned *evals)
{
    (*evals)++;
    double v = f(x, ctx);
    return isfinite(v) ? v : HUGE_VAL;
}

double fit_nelder_mead(fit_fn f, void *ctx, double *x, const double *step, size_t n,
                       unsigned max_evals, double tol)
{
    assert(n >= 1 && n <= FIT_MAX_PARAMS);
    struct simplex s = { .n = n };
    unsigned evals = 0;
    for (size_t i = 0; i <= n; i++) {
        memcpy(s.x[i], x, n * sizeof(*x));
        if (i)
            s.x[i][i - 1] += step[i - 1];
        s.f[i] = eval(f, ctx, s.x[i], &evals);
    }
    while (evals < max_evals) {
        order(&s);
        if (fabs(s.f[n] - s.f[0]) <= tol * (fabs(s.f[0]) + 1e-12))
            break;
        double c[FIT_MAX_PARAMS] = { 0 }, r[FIT_MAX_PARAMS], e[FIT_MAX_PARAMS];
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < n; k++)
                c[k] += s.x[i][k] / (double)n;
        along(&s, c, 1.0, r);
        double fr = eval(f, ctx, r, &evals);
        if (fr < s.f[0]) {
            along(&s, c, 2.0, e);
            double fe = eval(f, ctx, e, &evals);
            bool better = fe < fr;
            memcpy(s.x[n], better ? e : r, n * sizeof(double));
            s.f[n] = better ? fe : fr;
        } else if (fr < s.f[n - 1]) {
            memcpy(s.x[n], r, n * sizeof(double));
            s.f[n] = fr;
        } else {
            along(&s, c, fr < s.f[n] ? 0.5 : -0.5, e);
            double fc = eval(f, ctx, e, &evals);
            if (fc < fmin(fr, s.f[n])) {
                memcpy(s.x[n], e, n * sizeof(double));
                s.f[n] = fc;
            } else {
                for (size_t i = 1; i <= n; i++) {
                    for (size_t k = 0; k < n; k++)
                        s.x[i][k] = s.x[0][k] + 0.5 * (s.x[i][k] - s.x[0][k]);
                    s.f[i] = eval(f, ctx, s.x[i], &evals);
                }
            }
        }
    }
    order(&s);
    memcpy(x, s.x[0], n * sizeof(*x));
    return s.f[0];
}
