/* SPDX-License-Identifier: Apache-2.0 */
/* index.html of the evidence pack: the Markdown documents rendered with libcmark (its safe
 * default options: raw HTML is not passed through), in one self-contained page (inline style,
 * relative links only, nothing fetched from the network) under a banner that says whether the
 * results come from the emulated engine or a real stack. */
#ifndef KVTIER_REPORT_PACKHTML_H
#define KVTIER_REPORT_PACKHTML_H

#include <stdbool.h>

/* The page as an owned string. title, banner (plain text, escaped here), techbrief_md and
 * method_md are borrowed; emulated selects the banner's colour and class ("emulated" or "real";
 * mixed is given as real = true and emulated = true). */
char *packhtml_page(const char *title, const char *banner, bool emulated, bool real,
                    const char *techbrief_md, const char *method_md);

#endif
