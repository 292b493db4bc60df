/* SPDX-License-Identifier: Apache-2.0 */
/* funk ACCEL hypercall ABI (FUNK_HC_ACCEL = 34): how a unikernel's <funk/accel.h> reaches the host.
 */
#ifndef FUNK_ABI_ACCEL_H
#define FUNK_ABI_ACCEL_H

/*
 * Self-contained, C99, shared by the guest SDK (guest/accel.c) and the monitor
 * (monitor/hc_accel.c). One hypercall per API call. The argument is a struct funk_hc_accel (8-byte
 * aligned); `op` picks the call, `ret` comes back as the API's return value (>= 0, or a negative
 * errno). Sessions and resources are small host-chosen ids (1-based, private to the VM). Every
 * guest address is checked against guest memory by the monitor before use; an address or length
 * outside it ends the call with -EFAULT (the host touches nothing outside guest memory). Inputs are
 * read in place and outputs written in place (no copies in the in-process mode).
 */
#include <stdint.h>

#define FUNK_HC_ACCEL_NR 34u

/* A guest that links the guest side of the API carries a second "funk" note of this type (same
 * descriptor as the funk note), so the monitor prepares ACCEL (loads plugins or connects to the
 * agent) before its sandbox, and only for guests that use it. */
#ifndef FUNK_NOTE_TYPE_ACCEL             /* also in funk.h */
#define FUNK_NOTE_TYPE_ACCEL 0x414b4e46u /* "FNKA" */
#endif

enum funk_hc_accel_op {
    FUNK_HC_ACCEL_SESSION_NEW = 1,      /* OUT session */
    FUNK_HC_ACCEL_SESSION_DELETE = 2,   /* session */
    FUNK_HC_ACCEL_RESOURCE_NEW = 3,     /* p[0] type, p[1] data, p[2] len; OUT resource */
    FUNK_HC_ACCEL_RESOURCE_ATTR = 4,    /* resource, p[0] key, p[1] value (NUL-terminated) */
    FUNK_HC_ACCEL_RESOURCE_RELEASE = 5, /* resource */
    FUNK_HC_ACCEL_REGISTER = 6,         /* session, resource */
    FUNK_HC_ACCEL_UNREGISTER = 7,       /* session, resource */
    FUNK_HC_ACCEL_NOOP = 8,             /* session */
    FUNK_HC_ACCEL_EXEC =
        9, /* session, resource, p[0] symbol, p[1] in, p[2] n_in, p[3] out, p[4] n_out */
    FUNK_HC_ACCEL_SGEMM = 10, /* session, p[0..2] m n k, p[3..5] lda ldb ldc, p[6] alpha | beta <<
                                 32 (IEEE-754 bits), p[7] A, p[8] B, p[9] C */
    FUNK_HC_ACCEL_CLASSIFY = 11, /* session, resource (0: default), p[0] image, p[1] len, p[2] out
                                    (funk_hc_accel_label[]), p[3] max */
    FUNK_HC_ACCEL_DETECT = 12,   /* as CLASSIFY, out funk_hc_accel_detection[], p[4] min_pct */
    FUNK_HC_ACCEL_OP = 13,       /* session, p[0] name, p[1] in, p[2] n_in, p[3] out, p[4] n_out */
    FUNK_HC_ACCEL_OP_MAX
};

struct funk_hc_accel {
    uint32_t op;       /* IN: enum funk_hc_accel_op */
    int32_t ret;       /* OUT */
    uint32_t session;  /* IN (OUT for SESSION_NEW) */
    uint32_t resource; /* IN (OUT for RESOURCE_NEW) */
    uint64_t p[10];    /* IN: per op, above */
};

/* Argument records of EXEC/OP: the layout of funk_accel_arg on x86_64 (LP64). */
struct funk_hc_accel_arg {
    uint32_t type;
    uint32_t flags;
    uint64_t data; /* guest address */
    uint64_t size;
    uint64_t used; /* OUT for outputs */
};

/* Results: the layouts of funk_accel_label / funk_accel_detection. */
struct funk_hc_accel_label {
    char label[64];
    int32_t class_id;
    uint32_t score; /* float bits */
};

struct funk_hc_accel_detection {
    struct funk_hc_accel_label label;
    uint32_t x, y, w, h; /* float bits */
};

#define FUNK_HC_ACCEL_MAX_ARGS 64u
#define FUNK_HC_ACCEL_MAX_RESULTS 4096u
#define FUNK_HC_ACCEL_MAX_STRING 4096u     /* symbol / op names, attribute keys */
#define FUNK_HC_ACCEL_MAX_VALUE (1u << 20) /* attribute values */

_Static_assert(sizeof(struct funk_hc_accel) == 96, "funk_hc_accel layout");
_Static_assert(__builtin_offsetof(struct funk_hc_accel, p) == 16, "funk_hc_accel.p offset");
_Static_assert(sizeof(struct funk_hc_accel_arg) == 32, "funk_hc_accel_arg layout");
_Static_assert(__builtin_offsetof(struct funk_hc_accel_arg, used) == 24, "funk_hc_accel_arg.used");
_Static_assert(sizeof(struct funk_hc_accel_label) == 72, "funk_hc_accel_label layout");
_Static_assert(sizeof(struct funk_hc_accel_detection) == 88, "funk_hc_accel_detection layout");

#endif /* FUNK_ABI_ACCEL_H */
