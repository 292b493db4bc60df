/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-accel entry points that belong to no object: version, errors, names, shutdown. */
#include "internal.h"

#include <errno.h>

FUNK_API uint32_t funk_accel_version(void)
{
    return FUNK_ACCEL_VERSION;
}

FUNK_API const char *funk_accel_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:
        return "success";
    case EINVAL:
        return "invalid argument";
    case ENOMEM:
        return "out of memory";
    case ENOENT:
        return "no such file, plugin, symbol or operation";
    case ENOTSUP:
        return "operation not supported by any loaded plugin";
    case EBADMSG:
        return "input cannot be decoded (not an image, corrupt model or library)";
    case ENOEXEC:
        return "not a funk plugin, or built for another plugin ABI";
    case EBADF:
        return "handle is not live (released or deleted)";
    case EPERM:
        return "not permitted (resource not registered to this session, or exec of a library "
               "the operator did not install)";
    case ENOSPC:
        return "output buffer too small";
    case ENODEV:
        return "device absent";
    case EALREADY:
        return "runtime already initialised";
    case EEXIST:
        return "already exists (plugin loaded or resource registered)";
    case EBUSY:
        return "resource busy (attributes are frozen once registered)";
    case EIO:
        return "I/O error";
    case ETIMEDOUT:
        return "timed out";
    case ECONNRESET:
        return "connection reset";
    case EPROTO:
        return "protocol error";
    case ESHUTDOWN:
        return "runtime shut down";
    default:
        return "unknown error";
    }
}

FUNK_API const char *funk_accel_op_name(funk_accel_op_id op)
{
    static const char *const names[FUNK_ACCEL_OP_COUNT] = {
        [FUNK_ACCEL_OP_NOOP] = "noop",
        [FUNK_ACCEL_OP_EXEC] = "exec",
        [FUNK_ACCEL_OP_SGEMM] = "sgemm",
        [FUNK_ACCEL_OP_IMAGE_CLASSIFY] = "image_classify",
        [FUNK_ACCEL_OP_IMAGE_DETECT] = "image_detect",
        [FUNK_ACCEL_OP_GENERIC] = "op",
        [FUNK_ACCEL_OP_MODEL_RUN] = "model_run",
    };
    return (unsigned)op < FUNK_ACCEL_OP_COUNT ? names[op] : "unknown";
}

FUNK_API void funk_accel_fini(void)
{
    pthread_mutex_lock(&accel_plugin_lock);
    if (atomic_load(&accel_dt) != NULL) {
        /* Sessions go first: closing them calls into plugins that must still be loaded. */
        accel_sessions_delete_all();
        atomic_store(&accel_dt, NULL);
        accel_plugins_unload_all();
    }
    pthread_mutex_unlock(&accel_plugin_lock);
}
