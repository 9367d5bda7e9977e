/* SPDX-License-Identifier: Apache-2.0 */
/* index.html of the evidence pack, rendered from its Markdown with libcmark (packhtml.h). */
#include "report/packhtml.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cmark.h>

#include "common/buf.h"

static const char style[] =
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:0 auto;padding:0 1em 3em;"
    "line-height:1.45;color:#1b1b1b}"
    ".banner{position:sticky;top:0;padding:.7em 1em;margin:0 -1em 1em;font-weight:600;"
    "border-bottom:3px solid}"
    ".banner.emulated{background:#fff4d6;border-color:#d49a00}"
    ".banner.real{background:#dff3e4;border-color:#2e8b57}"
    ".banner.mixed{background:#fde2e2;border-color:#c0392b}"
    "table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}img{max-width:100%;height:auto;border:1px solid #ddd}"
    "code,pre{background:#f6f6f6}pre{padding:.5em;overflow-x:auto}"
    "blockquote{margin:0;padding:.2em 1em;border-left:4px solid #d49a00;background:#fffaf0}"
    "nav{margin:.5em 0 1em}";

static void escape(struct buf *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            buf_append_str(o, "&lt;");
            break;
        case '>':
            buf_append_str(o, "&gt;");
            break;
        case '&':
            buf_append_str(o, "&amp;");
            break;
        case '"':
            buf_append_str(o, "&quot;");
            break;
        case '`': /* Markdown code marks of the banner sentence */
            break;
        default:
            buf_append(o, s, 1);
        }
    }
}

static void render_md(struct buf *o, const char *md, size_t len)
{
    char *html = cmark_markdown_to_html(md, len, CMARK_OPT_DEFAULT);
    buf_append_str(o, html);
    free(html);
}

/* One table cell: its inline Markdown rendered by cmark, without the paragraph around it. */
static void render_cell(struct buf *o, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char *html = cmark_markdown_to_html(s, len, CMARK_OPT_DEFAULT);
    size_t n = strlen(html);
    const char *h = html;
    if (n >= 8 && !strncmp(h, "<p>", 3) && !strcmp(h + n - 5, "</p>\n")) {
        h += 3;
        n -= 8;
    }
    buf_append(o, h, n);
    free(html);
}

static void render_row(struct buf *o, const char *line, size_t len, const char *tag)
{
    buf_append_str(o, "<tr>");
    const char *end = line + len;
    const char *p = line + (len && line[0] == '|');
    if (end > p && end[-1] == '|')
        end--;
    while (p <= end) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        const char *stop = bar ? bar : end;
        buf_printf(o, "<%s>", tag);
        render_cell(o, p, (size_t)(stop - p));
        buf_printf(o, "</%s>", tag);
        if (!bar)
            break;
        p = bar + 1;
    }
    buf_append_str(o, "</tr>\n");
}

static bool is_rule(const char *s, size_t len)
{
    if (len < 3 || s[0] != '|')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("|-: ", s[i]))
            return false;
    return true;
}

/* Line length up to (not including) the newline. */
static size_t line_len(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl ? (size_t)(nl - s) : strlen(s);
}

/* CommonMark has no tables: pipe tables (a header row, a rule row, body rows) become HTML
 * tables whose cells cmark renders; everything between them cmark renders whole. */
static void render(struct buf *o, const char *md)
{
    const char *chunk = md, *s = md;
    while (*s) {
        size_t l1 = line_len(s);
        const char *next = s + l1 + (s[l1] == '\n');
        size_t l2 = line_len(next);
        if (s[0] == '|' && *next && is_rule(next, l2)) {
            render_md(o, chunk, (size_t)(s - chunk));
            buf_append_str(o, "<table>\n<thead>");
            render_row(o, s, l1, "th");
            buf_append_str(o, "</thead>\n<tbody>\n");
            s = next + l2 + (next[l2] == '\n');
            while (*s == '|') {
                size_t l = line_len(s);
                render_row(o, s, l, "td");
                s += l + (s[l] == '\n');
            }
            buf_append_str(o, "</tbody>\n</table>\n");
            chunk = s;
            continue;
        }
        s = next;
    }
    render_md(o, chunk, (size_t)(s - chunk));
}

char *packhtml_page(const char *title, const char *banner, bool emulated, bool real,
                    const char *techbrief_md, const char *method_md)
{
    struct buf o;
    buf_init(&o, 0);
    const char *cls = emulated && real ? "mixed" : real ? "real" : "emulated";
    buf_append_str(&o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>");
    escape(&o, title);
    buf_printf(&o,
               "</title>\n<style>%s</style>\n</head>\n<body>\n<div class=\"banner %s\" "
               "id=\"engine-banner\" data-engine=\"%s\">",
               style, cls, cls);
    escape(&o, banner);
    buf_append_str(&o, "</div>\n<nav><a href=\"#evidence\">Evidence</a> · <a href=\"#method\">"
                       "Method</a> · <a href=\"TECHBRIEF_EVIDENCE.md\">TECHBRIEF_EVIDENCE.md</a> "
                       "· <a href=\"METHOD.md\">METHOD.md</a> · <a href=\"RESULTS/rollups.csv\">"
                       "rollups (CSV)</a> · <a href=\"RESULTS/bundles.csv\">bundles (CSV)</a>"
                       "</nav>\n<main id=\"evidence\">\n");
    render(&o, techbrief_md);
    buf_append_str(&o, "</main>\n<hr>\n<section id=\"method\">\n");
    render(&o, method_md);
    buf_append_str(&o, "</section>\n</body>\n</html>\n");
    return buf_take_str(&o);
}
