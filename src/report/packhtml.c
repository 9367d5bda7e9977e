/* SPDX-License-Identifier: Apache-2.0 */
/* index.html of the evidence pack, rendered from its Markdown with libcmark (packhtml.h). */
#include "report/packhtml.h"

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
        default:
            buf_append(o, s, 1);
        }
    }
}

static void render(struct buf *o, const char *md)
{
    char *html = cmark_markdown_to_html(md, strlen(md), CMARK_OPT_DEFAULT);
    buf_append_str(o, html);
    free(html);
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
