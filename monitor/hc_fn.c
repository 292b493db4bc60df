/* SPDX-License-Identifier: Apache-2.0 */
/* funk function I/O hypercalls (FN_RECV, FN_SEND) and guest fault reports (FAULT). */
#include <stdio.h>
#include <string.h>

#include "vm_backend.h"
#include "vm_internal.h"

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Appends s (n bytes) plus a NUL at *pos; records offset and length. */
static void put_str(uint8_t *buf, uint32_t *pos, const void *s, size_t n, uint32_t *off,
                    uint32_t *len)
{
    *off = *pos;
    *len = (uint32_t)n;
    if (n)
        memcpy(buf + *pos, s, n);
    buf[*pos + n] = '\0';
    *pos += (uint32_t)n + 1;
}

static int hc_fn_recv(struct funk_vm *vm, void *arg)
{
    struct funk_hc_fn_recv *a = arg;
    if (vm->snapshot_mode && vm->backend == FUNK_ISOLATION_KVM) {
        /* Snapshot point: freeze here; each restored instance serves this call itself. */
        vm->snap_gpa = (hvt_gpa_t)((uint8_t *)arg - vm->mem) + vm->mem_base;
        vm->snap_ready = 1;
        return HC_STOP;
    }
    if (vm->pending_state != 1) {
        if (!vm->io->recv) {
            a->ret = FUNK_FN_NOMORE;
            return HC_CONTINUE;
        }
        memset(&vm->pending, 0, sizeof vm->pending);
        int r = vm->io->recv(vm->io->opaque, &vm->pending);
        if (r != 0) {
            a->ret = r > 0 ? FUNK_FN_NOMORE : FUNK_FN_EIO;
            vm->pending_state = 0;
            return HC_CONTINUE;
        }
        vm->pending_state = 1;
    }
    const struct funk_vm_request *q = &vm->pending;
    const char *method = q->method ? q->method : "POST";
    const char *path = q->path ? q->path : "/";
    const char *query = q->query ? q->query : "";
    uint64_t need = sizeof(struct funk_fn_request) + slen(method) + slen(path) + slen(query) +
                    q->headers_len + q->body_len + 5;
    a->needed = need;
    if (need > UINT32_MAX) {
        a->ret = FUNK_FN_EINVAL;
        vm->pending_state = 0;
        return HC_CONTINUE;
    }
    if (need > a->len) {
        a->ret = FUNK_FN_TOOSMALL;
        return HC_CONTINUE;
    }
    if (a->buf & 7)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "FN_RECV: buffer 0x%llx is not 8-byte aligned",
                       (unsigned long long)a->buf);
    uint8_t *buf = vm_gpa(vm, a->buf, need);
    if (!buf || a->buf < 0x1000)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "FN_RECV: buffer 0x%llx+0x%llx outside guest memory",
                       (unsigned long long)a->buf, (unsigned long long)need);
    if (vm_host_ro(vm, a->buf, need))
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "FN_RECV: buffer 0x%llx+0x%llx is not writable "
                       "by the guest", (unsigned long long)a->buf, (unsigned long long)need);
    struct funk_fn_request h = {.size = (uint32_t)need, .id = q->id};
    uint32_t pos = sizeof h;
    put_str(buf, &pos, method, slen(method), &h.method_off, &h.method_len);
    put_str(buf, &pos, path, slen(path), &h.path_off, &h.path_len);
    put_str(buf, &pos, query, slen(query), &h.query_off, &h.query_len);
    put_str(buf, &pos, q->headers, q->headers_len, &h.headers_off, &h.headers_len);
    put_str(buf, &pos, q->body, q->body_len, &h.body_off, &h.body_len);
    memcpy(buf, &h, sizeof h);
    a->ret = FUNK_FN_OK;
    vm->pending_state = 2;
    return HC_CONTINUE;
}

static int hc_fn_send(struct funk_vm *vm, void *arg)
{
    struct funk_hc_fn_send *a = arg;
    if (vm->pending_state != 2 || a->status < 100 || a->status > 599) {
        a->ret = FUNK_FN_EINVAL;
        return HC_CONTINUE;
    }
    const char *hdr = vm_gpa(vm, a->headers, a->headers_len);
    const void *body = vm_gpa(vm, a->body, a->body_len);
    if ((a->headers_len && (!hdr || a->headers < 0x1000)) ||
        (a->body_len && (!body || a->body < 0x1000)))
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "FN_SEND: %s 0x%llx+0x%llx outside guest memory",
                       (!hdr && a->headers_len) ? "headers" : "body",
                       (unsigned long long)((!hdr && a->headers_len) ? a->headers : a->body),
                       (unsigned long long)((!hdr && a->headers_len) ? a->headers_len : a->body_len));
    vm->pending_state = 0;
    if (!vm->io->send) {
        a->ret = FUNK_FN_OK;
        return HC_CONTINUE;
    }
    struct funk_vm_response r = {.status = a->status,
                                 .headers = a->headers_len ? hdr : NULL,
                                 .headers_len = a->headers_len,
                                 .body = a->body_len ? body : NULL,
                                 .body_len = a->body_len};
    a->ret = vm->io->send(vm->io->opaque, &r) == 0 ? FUNK_FN_OK : FUNK_FN_EIO;
    return HC_CONTINUE;
}

static const struct hc_call fn_calls[] = {
    {FUNK_HC_FN_RECV, sizeof(struct funk_hc_fn_recv), true, hc_fn_recv, false},
    {FUNK_HC_FN_SEND, sizeof(struct funk_hc_fn_send), true, hc_fn_send, false},
};
const struct hc_module hc_fn = {"fn", NULL, fn_calls, 2, NULL};

/* Reported by the monitor's own exception stubs (any guest, until it loads its own IDT). */
static int hc_fault_call(struct funk_vm *vm, void *arg)
{
    struct funk_fault_frame f;
    memcpy(&f, arg, sizeof f);
    if (f.vector == 14) {
        uint64_t cr2 = vm_backend_fault_addr(vm);
        const char *kind = (f.error_code & 0x10) ? "exec" : (f.error_code & 0x2) ? "write" : "read";
        return vm_stop(vm, FUNK_VM_EXIT_FAULT, "guest fault: page fault at 0x%llx (rip=0x%llx, %s%s)",
                       (unsigned long long)cr2, (unsigned long long)f.rip, kind,
                       (f.error_code & 0x1) ? ", protection" : "");
    }
    return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                   "guest fault: %s (vector %llu, error 0x%llx, rip=0x%llx)",
                   vm_backend_vector_name((unsigned)f.vector), (unsigned long long)f.vector,
                   (unsigned long long)f.error_code, (unsigned long long)f.rip);
}

static const struct hc_call fault_calls[] = {
    {FUNK_HC_FAULT, sizeof(struct funk_fault_frame), true, hc_fault_call, false},
};
const struct hc_module hc_fault = {"fault", NULL, fault_calls, 1, NULL};
