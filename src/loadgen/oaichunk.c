/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI stream chunk interpretation (see oaichunk.h).
 *
 * A single-pass recursive-descent JSON scanner instead of a DOM: it validates the whole event
 * (malformed JSON is still -EPROTO) but only decodes the few members measurement needs -
 * error, usage counts, choices[0].{delta.content, delta.reasoning_content, delta.reasoning,
 * text, finish_reason} - so one event costs well under a microsecond and the client keeps up
 * with hundreds of thousands of events per second per core. Depth is bounded. */
#include "loadgen/oaichunk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define OAICHUNK_MAX_DEPTH 64

enum ctx {
    C_NONE,
    C_ROOT,
    C_ERROR,
    C_ERROR_MSG,
    C_USAGE,
    C_DETAILS,
    C_PROMPT,
    C_COMPLETION,
    C_CACHED,
    C_CHOICES,
    C_CHOICE0,
    C_DELTA,
    C_CONTENT,
    C_REASONING,
    C_TEXT,
    C_FINISH,
};

struct scan {
    const char *p, *e;
    int depth;
    struct oaichunk *c;
    struct buf *text;
    bool text_full;
    bool choice0; /* choices[0] was an object */
    const char *err;
};

static void ws(struct scan *s)
{
    while (s->p < s->e && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int fail(struct scan *s, const char *why)
{
    if (!s->err)
        s->err = why;
    return -EPROTO;
}

static int hex4(const char *p, unsigned *ret)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *ret = v;
    return 0;
}

static void put_utf8(struct buf *b, unsigned cp, bool *full)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (!*full && buf_append(b, u, n) < 0)
        *full = true;
}

/* Scans a string at s->p (on the opening quote). When out is non-NULL the decoded bytes are
 * appended to it. *ret_len gets the decoded length (0 = empty string). When key/key_len are
 * non-NULL the raw span is returned for key matching (keys with escapes never match). */
static int string(struct scan *s, struct buf *out, bool *full, size_t *ret_len,
                  const char **ret_raw, size_t *ret_raw_len)
{
    s->p++; /* opening quote */
    const char *start = s->p;
    size_t len = 0;
    bool escaped = false;
    while (s->p < s->e) {
        const char *run = s->p;
        while (s->p < s->e && *s->p != '"' && *s->p != '\\' && (unsigned char)*s->p >= 0x20)
            s->p++;
        len += (size_t)(s->p - run);
        if (out && !*full && s->p > run && buf_append(out, run, (size_t)(s->p - run)) < 0)
            *full = true;
        if (s->p >= s->e)
            break;
        char ch = *s->p;
        if (ch == '"') {
            if (ret_raw) {
                *ret_raw = escaped ? NULL : start;
                *ret_raw_len = (size_t)(s->p - start);
            }
            s->p++;
            *ret_len = len;
            return 0;
        }
        if ((unsigned char)ch < 0x20)
            return fail(s, "control character in a string");
        /* backslash */
        escaped = true;
        if (s->e - s->p < 2)
            break;
        char esc = s->p[1];
        unsigned cp;
        const char *simple = strchr("\"\\/bfnrt", esc);
        if (esc && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            if (out)
                put_utf8(out, (unsigned char)map[simple - "\"\\/bfnrt"], full);
            s->p += 2;
            len++;
        } else if (esc == 'u') {
            if (s->e - s->p < 6 || hex4(s->p + 2, &cp) < 0)
                return fail(s, "bad \\u escape");
            s->p += 6;
            if (cp >= 0xD800 && cp < 0xDC00 && s->e - s->p >= 6 && s->p[0] == '\\' &&
                s->p[1] == 'u') {
                unsigned lo;
                if (hex4(s->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s->p += 6;
                }
            }
            if (out)
                put_utf8(out, cp, full);
            len++;
        } else {
            return fail(s, "bad escape");
        }
    }
    return fail(s, "unterminated string");
}

static int value(struct scan *s, enum ctx ctx);

/* Cuts b back to n bytes, keeping it NUL-terminated. */
static void truncate_to(struct buf *b, size_t n)
{
    if (!b || n > b->len)
        return;
    b->len = n;
    if (b->data)
        b->data[n] = '\0';
}

static enum ctx member_ctx(enum ctx parent, const char *k, size_t n)
{
#define IS(lit) (n == sizeof(lit) - 1 && !memcmp(k, lit, n))
    if (!k)
        return C_NONE;
    switch (parent) {
    case C_ROOT:
        if (IS("message"))
            return C_ERROR_MSG;
        if (IS("choices"))
            return C_CHOICES;
        if (IS("usage"))
            return C_USAGE;
        if (IS("error"))
            return C_ERROR;
        break;
    case C_ERROR:
        if (IS("message"))
            return C_ERROR_MSG;
        break;
    case C_USAGE:
        if (IS("prompt_tokens"))
            return C_PROMPT;
        if (IS("completion_tokens"))
            return C_COMPLETION;
        if (IS("prompt_tokens_details"))
            return C_DETAILS;
        break;
    case C_DETAILS:
        if (IS("cached_tokens"))
            return C_CACHED;
        break;
    case C_CHOICE0:
        if (IS("delta"))
            return C_DELTA;
        if (IS("text"))
            return C_TEXT;
        if (IS("finish_reason"))
            return C_FINISH;
        break;
    case C_DELTA:
        if (IS("content"))
            return C_CONTENT;
        if (IS("reasoning_content") || IS("reasoning"))
            return C_REASONING;
        break;
    default:
        break;
    }
    return C_NONE;
#undef IS
}

static int object(struct scan *s, enum ctx ctx)
{
    s->p++; /* { */
    ws(s);
    if (s->p < s->e && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        ws(s);
        if (s->p >= s->e || *s->p != '"')
            return fail(s, "expected a member name");
        const char *k = NULL;
        size_t kn = 0, dl;
        bool full = false;
        int rc = string(s, NULL, &full, &dl, &k, &kn);
        if (rc < 0)
            return rc;
        ws(s);
        if (s->p >= s->e || *s->p != ':')
            return fail(s, "expected ':'");
        s->p++;
        ws(s);
        rc = value(s, member_ctx(ctx, k, kn));
        if (rc < 0)
            return rc;
        ws(s);
        if (s->p < s->e && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->e && *s->p == '}') {
            s->p++;
            return 0;
        }
        return fail(s, "expected ',' or '}'");
    }
}

static int array(struct scan *s, enum ctx ctx)
{
    s->p++; /* [ */
    ws(s);
    if (s->p < s->e && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (size_t i = 0;; i++) {
        ws(s);
        int rc = value(s, ctx == C_CHOICES && i == 0 ? C_CHOICE0 : C_NONE);
        if (rc < 0)
            return rc;
        ws(s);
        if (s->p < s->e && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->e && *s->p == ']') {
            s->p++;
            return 0;
        }
        return fail(s, "expected ',' or ']'");
    }
}

static int number(struct scan *s, enum ctx ctx)
{
    const char *st = s->p;
    bool neg = false;
    if (s->p < s->e && *s->p == '-') {
        neg = true;
        s->p++;
    }
    if (s->p >= s->e || *s->p < '0' || *s->p > '9')
        return fail(s, "bad number");
    int64_t v = 0;
    bool integral = true, big = false;
    if (*s->p == '0') {
        s->p++;
    } else {
        while (s->p < s->e && *s->p >= '0' && *s->p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                big = true;
            else
                v = v * 10 + (*s->p - '0');
            s->p++;
        }
    }
    if (s->p < s->e && *s->p == '.') {
        integral = false;
        s->p++;
        if (s->p >= s->e || *s->p < '0' || *s->p > '9')
            return fail(s, "bad number");
        while (s->p < s->e && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (s->p < s->e && (*s->p == 'e' || *s->p == 'E')) {
        integral = false;
        s->p++;
        if (s->p < s->e && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->e || *s->p < '0' || *s->p > '9')
            return fail(s, "bad number");
        while (s->p < s->e && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    (void)st;
    if (integral && !neg && !big) {
        if (ctx == C_PROMPT)
            s->c->prompt_tokens = v;
        else if (ctx == C_COMPLETION)
            s->c->completion_tokens = v;
        else if (ctx == C_CACHED)
            s->c->cached_tokens = v;
    }
    return 0;
}

static int literal(struct scan *s, const char *lit, size_t n)
{
    if ((size_t)(s->e - s->p) < n || memcmp(s->p, lit, n) != 0)
        return fail(s, "unexpected character");
    s->p += n;
    return 0;
}

static int value(struct scan *s, enum ctx ctx)
{
    if (s->p >= s->e)
        return fail(s, "unexpected end");
    int rc;
    char ch = *s->p;
    if (ch == '{' || ch == '[') {
        if (++s->depth > OAICHUNK_MAX_DEPTH)
            return fail(s, "nested too deeply");
        if (ctx == C_ERROR)
            s->c->error = true;
        if (ctx == C_USAGE && ch == '{')
            s->c->usage = true;
        if (ctx == C_CHOICE0 && ch == '{')
            s->choice0 = true;
        enum ctx inner =
            ch == '{' ? (ctx == C_CHOICES ? C_NONE : ctx) : (ctx == C_CHOICES ? C_CHOICES : C_NONE);
        rc = ch == '{' ? object(s, inner) : array(s, inner);
        s->depth--;
        return rc;
    }
    if (ch == '"') {
        size_t len = 0;
        bool full = false;
        struct buf *out = NULL;
        struct buf msg;
        if (ctx == C_CONTENT && s->text)
            out = s->text;
        if (ctx == C_TEXT && s->text)
            out = s->text;
        if (ctx == C_ERROR_MSG || ctx == C_ERROR || ctx == C_FINISH) {
            buf_init(&msg,
                     ctx == C_FINISH ? sizeof(s->c->finish_reason) - 1 : OAICHUNK_MSG_MAX - 1);
            out = &msg;
        }
        size_t before = out ? out->len : 0;
        rc = string(s, out, &full, &len, NULL, NULL);
        if (rc < 0) {
            if (ctx == C_ERROR_MSG || ctx == C_ERROR || ctx == C_FINISH)
                buf_fini(&msg);
            return rc;
        }
        if (ctx == C_CONTENT || ctx == C_TEXT) {
            if (len > 0)
                s->c->content = true;
            if (out && full) {
                truncate_to(out, before); /* do not keep a partial piece */
                s->text_full = true;
            }
        } else if (ctx == C_REASONING) {
            if (len > 0)
                s->c->reasoning = true;
        } else if (ctx == C_ERROR_MSG || ctx == C_ERROR) {
            if (ctx == C_ERROR)
                s->c->error = true;
            snprintf(s->c->msg, sizeof(s->c->msg), "%s", buf_str(&msg));
            buf_fini(&msg);
        } else if (ctx == C_FINISH) {
            snprintf(s->c->finish_reason, sizeof(s->c->finish_reason), "%s", buf_str(&msg));
            buf_fini(&msg);
        }
        return 0;
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        if (ctx == C_ERROR)
            s->c->error = true;
        return number(s, ctx);
    }
    if (ch == 't' || ch == 'f') {
        if (ctx == C_ERROR)
            s->c->error = true;
        return ch == 't' ? literal(s, "true", 4) : literal(s, "false", 5);
    }
    if (ch == 'n')
        return literal(s, "null", 4);
    return fail(s, "unexpected character");
}

int oaichunk_parse(const char *type, const char *data, size_t len, struct oaichunk *ret,
                   struct buf *text_out)
{
    struct oaichunk c = { .prompt_tokens = -1, .completion_tokens = -1, .cached_tokens = -1 };
    int rc = 0;
    bool error_event = type && !strcmp(type, "error");
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        c.done = true;
        goto out;
    }
    size_t text_before = text_out ? text_out->len : 0;
    struct scan s = { .p = data, .e = data + len, .c = &c, .text = text_out };
    ws(&s);
    if (s.p >= s.e || *s.p != '{') {
        rc = -EPROTO;
        s.err = s.p >= s.e ? "empty event" : "not an object";
    } else {
        rc = value(&s, C_ROOT);
        if (rc == 0) {
            ws(&s);
            if (s.p != s.e)
                rc = fail(&s, "trailing characters");
        }
    }
    if (rc < 0) {
        truncate_to(text_out, text_before);
        if (error_event) {
            c = (struct oaichunk){
                .prompt_tokens = -1, .completion_tokens = -1, .cached_tokens = -1, .error = true
            };
            snprintf(c.msg, sizeof(c.msg), "error event: %.*s", (int)(len < 120 ? len : 120), data);
            rc = 0;
            goto out;
        }
        snprintf(c.msg, sizeof(c.msg), "malformed chunk JSON: %s", s.err ? s.err : "invalid");
        goto out;
    }
    if (error_event && !c.error) {
        c.error = true;
        if (!c.msg[0])
            snprintf(c.msg, sizeof(c.msg), "error event");
    }
    if (c.error) {
        if (!c.msg[0])
            snprintf(c.msg, sizeof(c.msg), "error event");
        c.content = c.reasoning = false;
        truncate_to(text_out, text_before);
        goto out;
    }
    c.role_only = !c.content && !c.reasoning && s.choice0;
    if (s.text_full) {
        truncate_to(text_out, text_before);
        rc = -EMSGSIZE;
    }
out:
    *ret = c;
    return rc;
}
