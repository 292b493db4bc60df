/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the receiving side of the "model_run" generic op (accel/tensor.c): the
 * arguments a client or a guest sends, decoded with the runtime stubbed to an identity model. */
#include "internal.h"

#include <funk/abi/accel_tensor.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- The runtime around tensor.c, stubbed ---- */
void funk_accel_log(funk_accel_log_level level, const char *component, const char *fmt, ...)
{
    (void)level, (void)component, (void)fmt;
}

int accel_session_find_model(funk_accel_session *h, const uint8_t hash[FUNK_ACCEL_HASH_SIZE],
                             funk_accel_resource **model)
{
    (void)h;
    if (hash[0] & 1)
        return -ENOENT;
    *model = (funk_accel_resource *)(uintptr_t)0x7e000001u;
    return 0;
}

/* What the runtime does before a plugin sees the call, then an identity plugin. */
int funk_accel_model_run(funk_accel_session *s, funk_accel_resource *model,
                         const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                         size_t n_out)
{
    (void)s, (void)model;
    int rc = accel_tensor_check(in, n_in, out, n_out);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n_out; i++) {
        const funk_accel_tensor *t = &in[i % n_in];
        void *d;
        int orc = funk_accel_tensor_output(&out[i], t->dtype, t->rank, t->shape, &d);
        if (orc == 0)
            memcpy(d, t->data, t->size);
        else if (rc == 0)
            rc = orc;
    }
    return rc;
}

/* Input: u8 n_in, u8 n_out, u8 type flip, then per input arg u16 size + bytes, per output arg
 * u16 capacity. Sizes are clamped to what is left; buffers are exact-size heap copies so that
 * ASan sees any read or write past them. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 3)
        return 0;
    size_t n_in = data[0] % 6, n_out = data[1] % 6, flip = data[2];
    size_t at = 3;
    funk_accel_arg in[6], out[6];
    void *bufs[12] = {0};
    size_t nb = 0;
    for (size_t i = 0; i < n_in; i++) {
        size_t sz = at + 2 <= len ? (size_t)(data[at] | data[at + 1] << 8) : 1;
        at = at + 2 <= len ? at + 2 : len;
        if (sz > len - at)
            sz = len - at;
        if (sz == 0)
            sz = 1;
        uint8_t *b = malloc(sz);
        memset(b, 0, sz);
        memcpy(b, data + at, sz <= len - at ? sz : len - at);
        at += sz <= len - at ? sz : len - at;
        bufs[nb++] = b;
        in[i] = FUNK_ACCEL_ARG_BYTES_OF(b, sz);
    }
    for (size_t i = 0; i < n_out; i++) {
        size_t sz = at + 2 <= len ? (size_t)((data[at] | data[at + 1] << 8) % 4096) : 1;
        at = at + 2 <= len ? at + 2 : len;
        if (sz == 0)
            sz = 1;
        bufs[nb++] = malloc(sz);
        out[i] = FUNK_ACCEL_ARG_BYTES_OF(bufs[nb - 1], sz);
    }
    if (flip < 6 && flip < n_in)
        in[flip].type = FUNK_ACCEL_ARG_I32;
    else if (flip >= 6 && flip - 6 < n_out)
        out[flip - 6].type = FUNK_ACCEL_ARG_STRING;
    int rc = accel_tensor_op((funk_accel_session *)(uintptr_t)0x5e000001u, in, n_in, out, n_out);
    if (rc > FUNK_ACCEL_TENSOR_R_NOSPC)
        __builtin_trap(); /* only 0, 1 or an errno may come back */
    if (rc == 0 && n_out > 0 && out[0].used > out[0].size)
        __builtin_trap(); /* descriptors claimed more than their buffer */
    for (size_t i = 0; i < nb; i++)
        free(bufs[i]);
    return 0;
}
