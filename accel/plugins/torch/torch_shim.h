/* SPDX-License-Identifier: Apache-2.0 */
/* The thin C interface over libtorch (C++ only): load a TorchScript module, run forward. */
#ifndef FUNK_ACCEL_TORCH_SHIM_H
#define FUNK_ACCEL_TORCH_SHIM_H

#include <funk/accel_plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct torch_net torch_net;

/* Loads a TorchScript file (torch.jit.save) from memory onto the CPU. -EBADMSG (reason in
 * err) when libtorch refuses it. */
int torch_shim_load(torch_net **out, const void *data, size_t len, char *err, size_t err_len);
void torch_shim_free(torch_net *n);

/*
 * forward() on the inputs (named inputs are bound to forward's parameters of those names).
 * The result (a tensor, or a tuple or list of tensors) gives the outputs in order; an output
 * named "N" takes element N. Writes them through funk_accel_tensor_output. Serialised per net
 * by the caller.
 */
int torch_shim_run(torch_net *n, const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                   size_t n_out, char *err, size_t err_len);

/* libtorch's version and whether it was built with CUDA and sees a device. */
const char *torch_shim_version(void);
int torch_shim_cuda(void);
void torch_shim_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_TORCH_SHIM_H */
