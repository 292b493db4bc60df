/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the accel wire protocol decoder: header + payload of any bytes. */
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Walks every list the decoder accepted, as the agent and the rpc plugin would. */
static void walk(const struct fkp_msg *m)
{
    struct fkp_iter it;
    struct fkp_arg a;
    const char *k, *v;
    uint32_t used;
    struct fkp_bytes d;
    struct fkp_plugin p;
    funk_accel_detection det;
    funk_accel_label l;
    volatile size_t sink = 0;
    bool reply = (m->h.flags & FKP_F_REPLY) != 0;
    switch (m->h.type) {
    case FKP_REGISTER:
        if (!reply) {
            fkp_iter_init(&it, &m->u.reg.attrs);
            while (fkp_next_attr(&it, &k, &v))
                sink += strlen(k) + strlen(v);
        }
        break;
    case FKP_EXEC:
    case FKP_OP:
        if (!reply) {
            sink += strlen(m->u.call.name);
            fkp_iter_init(&it, &m->u.call.in);
            while (fkp_next_arg(&it, &a))
                sink += a.size ? ((const uint8_t *)a.data)[a.size - 1] : 0;
            fkp_iter_init(&it, &m->u.call.outs);
            while (fkp_next_outspec(&it, &a))
                sink += a.size;
        } else if (m->status >= 0) {
            fkp_iter_init(&it, &m->u.call_r.outs);
            while (fkp_next_out(&it, &used, &d))
                sink += d.len ? d.p[d.len - 1] : 0;
        }
        break;
    case FKP_CLASSIFY:
    case FKP_DETECT:
        if (reply && m->status >= 0)
            for (uint32_t i = 0; i < m->u.results.n; i++) {
                if (m->h.type == FKP_DETECT) {
                    fkp_get_detection(&m->u.results, i, &det);
                    sink += strlen(det.label.label);
                } else {
                    fkp_get_label(&m->u.results, i, &l);
                    sink += strlen(l.label);
                }
            }
        break;
    case FKP_PLUGINS:
        if (reply && m->status >= 0) {
            fkp_iter_init(&it, &m->u.plugins);
            while (fkp_next_plugin(&it, &p))
                sink += strlen(p.name) + strlen(p.version) + strlen(p.description);
        }
        break;
    default:
        break;
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FKP_HDR_SIZE)
        return 0;
    struct fkp_hdr h;
    int rc = fkp_decode_header(data, 1u << 20, &h);
    if (rc < 0)
        return 0;
    /* The payload is what follows, whatever the header claims: a short one must be refused
     * by the length check, so give the decoder exactly the bytes present (aligned copy). */
    size_t n = size - FKP_HDR_SIZE;
    if (n != h.len)
        h.len = (uint32_t)(n < h.len ? n : h.len);
    uint8_t *p = malloc(h.len ? h.len : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data + FKP_HDR_SIZE, h.len);
    struct fkp_msg m;
    if (fkp_decode(&h, p, &m) == 0)
        walk(&m);
    free(p);
    return 0;
}
