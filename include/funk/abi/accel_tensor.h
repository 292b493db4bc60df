/* SPDX-License-Identifier: Apache-2.0 */
/* A model run as the generic operation "model_run": how funk_accel_model_run crosses the rpc
 * plugin, the agent and the unikernel ACCEL hypercall without a message of its own. */
#ifndef FUNK_ABI_ACCEL_TENSOR_H
#define FUNK_ABI_ACCEL_TENSOR_H

/*
 * Self-contained, C99, shared by the guest SDK, libfunk-accel and the rpc plugin. The call is
 * funk_accel_op(s, FUNK_ACCEL_TENSOR_OP, in, 2 + n_in, out, 1 + n_out), every argument BYTES:
 *   in[0]        struct funk_accel_tensor_call: version, counts, the model's SHA-256. The model
 *                is the MODEL resource with that hash registered to the calling session (the
 *                transport registered it the usual way); the hash names it on every host.
 *   in[1]        (n_in + n_out) struct funk_accel_tensor_desc: the inputs' dtype, rank, shape
 *                and name, then the outputs' wanted names (dtype, rank, shape zero).
 *   in[2 + i]    input i's data, exactly its element bytes.
 *   out[0]       n_out struct funk_accel_tensor_desc, written: each output's dtype, rank, shape.
 *   out[1 + i]   output i's data buffer (capacity = the arg's size); used = bytes written.
 * Return: 0 done; FUNK_ACCEL_TENSOR_R_NOSPC (positive, so that transports carry the outputs
 * back): some output did not fit, out[0] holds every shape and out[1 + i].used the bytes
 * needed; the caller answers -ENOSPC. Negative: an errno, nothing written.
 * Everything here arrives from a guest or a client: the receiving runtime checks it all
 * (versions, counts, dtypes, ranks, overflow-safe shape products against the data sizes, NULs).
 * Integers are little-endian (the host byte order of every funk host).
 */
#include <stdint.h>

#define FUNK_ACCEL_TENSOR_OP "model_run"
#define FUNK_ACCEL_TENSOR_MAGIC 0x52544b46u /* "FKTR" */
#define FUNK_ACCEL_TENSOR_WIRE_VERSION 1u
#define FUNK_ACCEL_TENSOR_R_NOSPC 1

struct funk_accel_tensor_call {
    uint32_t magic;   /* FUNK_ACCEL_TENSOR_MAGIC */
    uint16_t version; /* FUNK_ACCEL_TENSOR_WIRE_VERSION */
    uint16_t flags;   /* 0 */
    uint32_t n_in;    /* 1 .. FUNK_ACCEL_TENSOR_MAX */
    uint32_t n_out;   /* 1 .. FUNK_ACCEL_TENSOR_MAX */
    uint8_t model_hash[32];
};

struct funk_accel_tensor_desc {
    uint32_t dtype; /* funk_accel_dtype */
    uint32_t rank;  /* <= FUNK_ACCEL_TENSOR_MAX_RANK */
    int64_t shape[8];
    char name[64]; /* NUL-terminated; "" = by position */
};

_Static_assert(sizeof(struct funk_accel_tensor_call) == 48, "funk_accel_tensor_call layout");
_Static_assert(sizeof(struct funk_accel_tensor_desc) == 136, "funk_accel_tensor_desc layout");
_Static_assert(__builtin_offsetof(struct funk_accel_tensor_desc, name) == 72, "desc.name");

#endif /* FUNK_ABI_ACCEL_TENSOR_H */
