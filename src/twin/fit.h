/* SPDX-License-Identifier: Apache-2.0 */
/* Derivative-free minimisation (Nelder-Mead simplex) for the twin's calibration: few parameters
 * (up to FIT_MAX_PARAMS), an objective that runs simulations, no gradients. Pure. */
#ifndef KVTIER_TWIN_FIT_H
#define KVTIER_TWIN_FIT_H

#include <stddef.h>

#define FIT_MAX_PARAMS 8

typedef double (*fit_fn)(const double *x, void *ctx);

/* Minimises f from x (n parameters, updated in place), with initial steps `step` per
 * parameter, for at most max_evals evaluations or until the simplex's values agree to tol.
 * Returns the best value found. */
double fit_nelder_mead(fit_fn f, void *ctx, double *x, const double *step, size_t n,
                       unsigned max_evals, double tol);

#endif
