/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: tokenizer.json loading (vocab, merges, added tokens, pre-tokenizer regex); a
 * file that loads is then used to encode a fixed mixed text and the input itself, and the ids
 * are decoded back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tokenizer *t = NULL;
    struct diag d = { 0 };
    if (tokenizer_new_from_json((const char *)data, size, &t, &d) < 0)
        return 0;
    static const char sample[] = "Hello <|eot|> w\xc3\xb6rld 123  \n\n\xf0\x9f\x98\x80 abcabc";
    struct token_ids v = { 0 };
    tokenizer_encode(t, sample, sizeof(sample) - 1, true, &v);
    tokenizer_encode(t, (const char *)data, size, false, &v);
    struct buf b;
    buf_init(&b, 1u << 24);
    tokenizer_decode(t, v.ids, v.len, &b);
    buf_fini(&b);
    tokenizer_ids_fini(&v);
    tokenizer_free(t);
    return 0;
}
