/* SPDX-License-Identifier: Apache-2.0 */
/* Private to libvaccel: funk state behind vAccel's structs and the exec adapter's wire format. */
#ifndef FUNK_VACCEL_INTERNAL_H
#define FUNK_VACCEL_INTERNAL_H

#include <funk/accel.h>
#include <funk/accel_plugin.h>
#include <vaccel.h>

#define EXPORT __attribute__((visibility("default")))

/* The exec adapter (libvaccel-exec.so, a funk exec library in the operator's exec directory)
 * calls vAccel-ABI functions of another library of that directory, found by content hash.
 *   in[0]  BYTES  32-byte SHA-256 of the vAccel library
 *   in[1]  STRING the symbol
 *   in[2]  BYTES  header: u32 nr_read, u32 nr_write, then (u32 vaccel type, u32 custom id) per
 *                 read arg and per write arg
 *   in[3..] BYTES the read args' bytes;  out[0..] BYTES the write args' buffers */
#define VACCEL_FUNK_EXEC_LIB "libvaccel-exec.so"
#define VACCEL_FUNK_EXEC_SYMBOL "vaccel_funk_exec"
#define VACCEL_FUNK_EXEC_FIXED_IN 3

bool vaccel_funk_profiling(void);
/* The funk session and the model's funk resource for a model operation: the resource must be a
 * single-file MODEL registered to the session (VACCEL_EINVAL / VACCEL_EPERM otherwise). */
int vaccel_funk_model(struct vaccel_session *sess, struct vaccel_resource *model,
                      funk_accel_session **s, funk_accel_resource **m);
/* funk's negative errno -> vAccel's positive code */
static inline int vaccel_funk_err(int rc)
{
    return rc < 0 ? -rc : 0;
}

/* URL resources (url.c). vaccel_url_fetch: the bytes at an http(s) URL in a malloc'ed buffer;
 * at most FUNK_VACCEL_URL_MAX_BYTES (default 256 MiB, else EFBIG), FUNK_VACCEL_URL_TIMEOUT_MS
 * (default 60 s, else ETIMEDOUT), 8 redirects (else VACCEL_ELOOP), http(s) only, also when
 * redirected (else VACCEL_ENOTSUP); HTTP 404 VACCEL_ENOENT; an empty body VACCEL_EINVAL. */
#define VACCEL_FUNK_LOG "vaccel"
int vaccel_url_is_http(const char *path);
int vaccel_url_fetch(const char *url, void **data, size_t *len);

#endif
