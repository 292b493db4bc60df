/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's one validating decoder for frames from a process-backend guest (chan.h). */
#include <errno.h>
#include <string.h>

#include <funk/vm.h>

#include "chan.h"

static int bad(const char **why, const char *w)
{
    *why = w;
    return -EPROTO;
}

int chan_check_hdr(const struct chan_state *st, const struct chan_hdr *h, const char **why)
{
    if (h->magic != CHAN_MAGIC)
        return bad(why, "bad frame magic");
    if (h->version != CHAN_VERSION)
        return bad(why, "unknown frame version");
    if (h->len > CHAN_FRAME_MAX)
        return bad(why, "frame longer than the maximum");
    if (st->mode == CHAN_MODE_FORK)
        return h->type == CHAN_FORKED && h->len == 0 ? 0 : bad(why, "template: unexpected frame");
    switch (h->type) {
    case CHAN_CONSOLE:
        if (h->len == 0 || h->len > CHAN_CONSOLE_MSG_MAX)
            return bad(why, "console frame length out of range");
        if (st->console_total > CHAN_CONSOLE_CALL_MAX ||
            h->len > CHAN_CONSOLE_CALL_MAX - st->console_total)
            return bad(why, "console output over the per-call cap");
        return 0;
    case CHAN_RECV:
        return h->len == 0 ? 0 : bad(why, "request frame with a payload");
    case CHAN_SEND:
        if (h->len < sizeof(struct chan_send))
            return bad(why, "response frame too short");
        return 0; /* the sizes inside are checked by chan_decode */
    case CHAN_RESULT:
        return h->len == sizeof(struct chan_result) ? 0
                                                    : bad(why, "result frame of the wrong size");
    case CHAN_TEMPLATE:
        if (st->mode != CHAN_MODE_TEMPLATE)
            return bad(why, "template frame outside a snapshot");
        return h->len == 0 ? 0 : bad(why, "template frame with a payload");
    default:
        return bad(why, "unknown frame type");
    }
}

static int known_exit(int32_t e)
{
    switch (e) {
    case FUNK_VM_EXIT_HALT:
    case FUNK_VM_EXIT_FAULT:
    case FUNK_VM_EXIT_TRIPLE:
    case FUNK_VM_EXIT_INTERNAL:
    case FUNK_VM_EXIT_BADCALL:
    case FUNK_VM_EXIT_BADPTR:
    case FUNK_VM_EXIT_TIMEOUT:
    case FUNK_VM_EXIT_IO:
    case FUNK_VM_EXIT_SANDBOX:
        return 1;
    default:
        return 0;
    }
}

int chan_decode(struct chan_state *st, const struct chan_hdr *h, const uint8_t *payload, size_t len,
                struct chan_msg *out, const char **why)
{
    int rc = chan_check_hdr(st, h, why);
    if (rc)
        return rc;
    if (len != h->len || (len && !payload))
        return bad(why, "short frame");
    memset(out, 0, sizeof *out);
    out->type = h->type;
    switch (h->type) {
    case CHAN_CONSOLE:
        out->data = payload;
        out->len = len;
        st->console_total += len;
        return 0;
    case CHAN_SEND: {
        memcpy(&out->send, payload, sizeof out->send);
        size_t rest = len - sizeof out->send;
        /* Each size capped first, so the sum cannot wrap. */
        if (out->send.headers_len > CHAN_HEADERS_MAX)
            return bad(why, "response headers over the cap");
        if (out->send.body_len > CHAN_BODY_MAX)
            return bad(why, "response body over the cap");
        if ((uint64_t)out->send.headers_len + out->send.body_len != rest)
            return bad(why, "response sizes do not add up to the frame");
        out->headers = payload + sizeof out->send;
        out->body = out->headers + out->send.headers_len;
        return 0;
    }
    case CHAN_RESULT:
        memcpy(&out->result, payload, sizeof out->result);
        if (!known_exit(out->result.exit))
            return bad(why, "result with an unknown exit code");
        out->result.reason[sizeof out->result.reason - 1] = '\0';
        return 0;
    default: /* RECV, TEMPLATE, FORKED: no payload */
        return 0;
    }
}
