/* SPDX-License-Identifier: Apache-2.0 */
/* --dry-run output (see dryrun.h). */
#include "cli/dryrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"

/* A shell-readable word: quoted when it has anything but [A-Za-z0-9_./:=@,+-]. */
static void word(const char *s)
{
    bool plain = *s != 0;
    for (const char *p = s; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@,+-",
                       *p) != NULL;
    if (plain) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (const char *p = s; *p; p++)
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    putchar('\'');
}

static void print_mode(const json_t *m)
{
    const json_t *st = json_object_get(m, "settings");
    printf("\nmode %s: %s\n", jsonx_str(m, "mode", "?"), jsonx_str(st, "meaning", ""));
    char *tiers = jsonx_dump_line(st);
    printf("  tiers: %s\n", tiers);
    free(tiers);
    if (json_is_string(json_object_get(m, "error")))
        printf("  ERROR: %s\n", jsonx_str(m, "error", ""));
    const json_t *launch = json_object_get(m, "launch");
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(launch, "processes"), i, p) {
        printf("  process %s (log %s)\n    env:", jsonx_str(p, "name", "?"),
               jsonx_str(p, "log", ""));
        const char *k;
        json_t *v;
        json_object_foreach (json_object_get(p, "env"), k, v) {
            printf(" %s=", k);
            word(json_string_value(v) ? json_string_value(v) : "");
        }
        printf("\n    command:");
        size_t j;
        json_t *a;
        json_array_foreach (json_object_get(p, "argv"), j, a) {
            putchar(' ');
            word(json_string_value(a) ? json_string_value(a) : "");
        }
        putchar('\n');
    }
    const char *yaml = jsonx_str(launch, "engine_args_yaml", NULL);
    if (yaml) {
        printf("  engine args (%s):\n", jsonx_str(launch, "engine_args_path", ""));
        for (const char *l = yaml; *l;) {
            const char *e = strchr(l, '\n');
            int n = e ? (int)(e - l) : (int)strlen(l);
            printf("    %.*s\n", n, l);
            l += n + (e ? 1 : 0);
        }
    }
}

void dryrun_print(const json_t *doc, bool json)
{
    if (json) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        if (s)
            puts(s);
        free(s);
        return;
    }
    printf("dry run (nothing started): stack %s (%s, runtime %s), model %s, hardware %s\n",
           jsonx_str(doc, "stack", "?"), jsonx_str(doc, "stack_kind", "?"),
           jsonx_str(doc, "runtime", "?"), jsonx_str(doc, "model", "?"),
           jsonx_str(doc, "hardware", "?"));
    char *cap = jsonx_dump_line(json_object_get(doc, "plan_capacity"));
    char *pr = jsonx_dump_line(json_object_get(doc, "pressure"));
    printf("disk cache dir %s; G1 %lld blocks\ncapacity: %s\npressure: %s\n",
           jsonx_str(doc, "disk_cache_dir", ""), (long long)jsonx_i64(doc, "g1_blocks", 0), cap,
           pr);
    free(cap);
    free(pr);
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(doc, "modes"), i, m)
        print_mode(m);
}
