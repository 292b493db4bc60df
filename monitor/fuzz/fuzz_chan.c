/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the supervisor's channel decoder (chan.c) over arbitrary guest byte streams. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct chan_state st = {.mode = (enum chan_mode)(data[0] % 3)};
    data++;
    size--;
    while (size >= sizeof(struct chan_hdr)) {
        struct chan_hdr h;
        memcpy(&h, data, sizeof h);
        data += sizeof h;
        size -= sizeof h;
        const char *why = NULL;
        if (chan_check_hdr(&st, &h, &why)) {
            if (!why)
                abort();
            return 0;
        }
        if (h.len > CHAN_FRAME_MAX)
            abort(); /* the header check must bound every payload the supervisor reads */
        if (h.len > size)
            return 0;
        /* A private copy, as the supervisor reads it: ASan sees any read past the payload. */
        uint8_t *p = malloc(h.len ? h.len : 1);
        if (!p)
            return 0;
        memcpy(p, data, h.len);
        struct chan_msg m;
        uint64_t before = st.console_total;
        int rc = chan_decode(&st, &h, p, h.len, &m, &why);
        if (rc == 0) {
            if (m.type != h.type)
                abort();
            if (st.console_total > CHAN_CONSOLE_CALL_MAX)
                abort();
            if (m.type == CHAN_CONSOLE) {
                if (m.len != h.len || st.console_total != before + m.len)
                    abort();
                volatile uint8_t x = m.data[m.len - 1];
                (void)x;
            }
            if (m.type == CHAN_SEND) {
                if (m.send.headers_len > CHAN_HEADERS_MAX || m.send.body_len > CHAN_BODY_MAX ||
                    sizeof m.send + m.send.headers_len + m.send.body_len != h.len)
                    abort();
                /* What the library hands its user must lie inside the frame. */
                if (m.send.headers_len) {
                    volatile uint8_t x = m.headers[m.send.headers_len - 1];
                    (void)x;
                }
                if (m.send.body_len) {
                    volatile uint8_t x = m.body[m.send.body_len - 1];
                    (void)x;
                }
            }
            if (m.type == CHAN_RESULT && strlen(m.result.reason) >= sizeof m.result.reason)
                abort();
        } else if (!why) {
            abort();
        }
        free(p);
        data += h.len;
        size -= h.len;
        if (rc)
            return 0;
    }
    return 0;
}
