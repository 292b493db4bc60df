/* SPDX-License-Identifier: Apache-2.0 */
/* opencl plugin: sgemm through CLBlast on an OpenCL device chosen by FUNK_ACCEL_OPENCL_DEVICE. */

/* opencl_plugin.h pins CL_TARGET_OPENCL_VERSION before any CL header is seen. */
#include "opencl_plugin.h"

#include <clblast_c.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <funk/accel_plugin.h>

#include "opencl_select.h"

#define LOG "opencl"

/* Shown by `funk-accel plugins`; init() appends the chosen device. */
static char g_description[1024] = "OpenCL: sgemm via CLBlast, classify/detect/pose/segment and model runs via "
                                 "OpenCV DNN (OpenCL target)";

enum { BUF_A, BUF_B, BUF_C, BUF_COUNT };

/* One command queue and grow-only device buffers per session; calls on one session are
 * serialised because they share the buffers. */
typedef struct ocl_session {
    pthread_mutex_t lock;
    cl_command_queue queue;
    cl_mem buf[BUF_COUNT];
    size_t cap[BUF_COUNT];
} ocl_session;

static const char *cl_err_name(cl_int e)
{
    switch (e) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL error";
    }
}

/* CLBlast and OpenCL share the negative status space; map both onto our errno codes. */
static int status_to_errno(int st)
{
    switch (st) {
    case CLBlastSuccess: return 0;
    case CL_OUT_OF_HOST_MEMORY: return -ENOMEM;
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CLBlastInsufficientMemoryA:
    case CLBlastInsufficientMemoryB:
    case CLBlastInsufficientMemoryC:
    case CLBlastInsufficientMemoryTemp: return -ENOMEM;
    case CLBlastInvalidDimension:
    case CLBlastInvalidLeadDimA:
    case CLBlastInvalidLeadDimB:
    case CLBlastInvalidLeadDimC: return -EINVAL;
    default: return -EIO;
    }
}

static void info_str(cl_device_id d, cl_device_info what, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, len, buf, NULL) != CL_SUCCESS)
        snprintf(buf, len, "?");
    buf[len - 1] = '\0';
}

static void platform_str(cl_platform_id p, cl_platform_info what, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, len, buf, NULL) != CL_SUCCESS)
        snprintf(buf, len, "?");
    buf[len - 1] = '\0';
}

static const char *device_type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    return "other";
}

/* Calls fn for every (platform, device) pair in index order until it returns non-zero. */
typedef int (*device_visit_fn)(void *ctx, unsigned pi, cl_platform_id p, unsigned di,
                               cl_device_id d);

static int for_each_device(device_visit_fn fn, void *ctx)
{
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e != CL_SUCCESS || np == 0)
        return e == CL_SUCCESS || e == -1001 ? -ENODEV : -EIO;
    cl_platform_id *ps = calloc(np, sizeof(*ps));
    if (!ps)
        return -ENOMEM;
    int rc = 0;
    if (clGetPlatformIDs(np, ps, NULL) != CL_SUCCESS) {
        rc = -EIO;
        goto out;
    }
    for (cl_uint pi = 0; pi < np && rc == 0; pi++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(ps[pi], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue;
        cl_device_id *ds = calloc(nd, sizeof(*ds));
        if (!ds) {
            rc = -ENOMEM;
            break;
        }
        if (clGetDeviceIDs(ps[pi], CL_DEVICE_TYPE_ALL, nd, ds, NULL) == CL_SUCCESS)
            for (cl_uint di = 0; di < nd && rc == 0; di++)
                rc = fn(ctx, pi, ps[pi], di, ds[di]);
        free(ds);
    }
out:
    free(ps);
    return rc;
}

typedef struct pick {
    ocl_select sel;
    int best_rank; /* default selection: lower is better (GPU 0, accelerator 1, other 2) */
    unsigned pi, di;
    cl_platform_id platform;
    cl_device_id device;
} pick;

static int pick_visit(void *ctx, unsigned pi, cl_platform_id p, unsigned di, cl_device_id d)
{
    pick *k = ctx;
    cl_bool avail = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof(avail), &avail, NULL);
    switch (k->sel.kind) {
    case OCL_SELECT_INDEX:
        if (pi != k->sel.platform || di != k->sel.device)
            return 0;
        break;
    case OCL_SELECT_NAME: {
        char dn[256], pn[256];
        info_str(d, CL_DEVICE_NAME, dn, sizeof(dn));
        platform_str(p, CL_PLATFORM_NAME, pn, sizeof(pn));
        if (!avail || (!ocl_name_matches(dn, k->sel.name) && !ocl_name_matches(pn, k->sel.name)))
            return 0;
        break;
    }
    case OCL_SELECT_DEFAULT: {
        if (!avail)
            return 0;
        cl_device_type t = 0;
        clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof(t), &t, NULL);
        int rank = (t & CL_DEVICE_TYPE_GPU) ? 0 : (t & CL_DEVICE_TYPE_ACCELERATOR) ? 1 : 2;
        if (rank >= k->best_rank)
            return 0;
        k->best_rank = rank;
        k->pi = pi, k->di = di, k->platform = p, k->device = d;
        return rank == 0; /* the first GPU wins outright */
    }
    }
    k->pi = pi, k->di = di, k->platform = p, k->device = d;
    return 1;
}

/* ---- Plugin lifetime ----------------------------------------------------------------------- */

static void session_release(ocl_session *s)
{
    for (int i = 0; i < BUF_COUNT; i++)
        if (s->buf[i])
            clReleaseMemObject(s->buf[i]);
    if (s->queue)
        clReleaseCommandQueue(s->queue);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int session_create(ocl_plugin *p, ocl_session **out)
{
    ocl_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    cl_int e = CL_SUCCESS;
    s->queue = clCreateCommandQueue(p->ctx, p->device, 0, &e);
    if (e != CL_SUCCESS) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "clCreateCommandQueue: %s (%d)", cl_err_name(e), e);
        s->queue = NULL;
        session_release(s);
        return status_to_errno(e);
    }
    *out = s;
    return 0;
}

static int ocl_sgemm_locked(ocl_plugin *p, ocl_session *s, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c,
                            int ldc);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double ocl_progress_begin(const ocl_plugin *p, const char *what)
{
    if (!isatty(STDERR_FILENO))
        return -1.0;
    fprintf(stderr, "[opencl] %s on %s (cached for later runs)... ", what, p->device_name);
    fflush(stderr);
    return now_ms();
}

void ocl_progress_end(double t0, int rc)
{
    if (t0 < 0)
        return;
    fprintf(stderr, "%s in %.1f s\n", rc < 0 ? "failed" : "done", (now_ms() - t0) / 1e3);
}

/* CLBlast compiles its GEMM kernels on the first call per device (~5 s on PoCL, cached on disk
 * by PoCL afterwards; CLBlast keeps the program in memory for the process). The direct kernel
 * (small sizes), the indirect one and its padding kernels are all exercised so that no timed
 * call pays for compilation. FUNK_ACCEL_OPENCL_WARMUP: 0 skips it; "all" also runs the default
 * detection model once (OpenCV's DNN kernels: ~6 s on PoCL with a warm cache, ~40 s cold). */
static int warm_up(ocl_plugin *p)
{
    const char *w = getenv("FUNK_ACCEL_OPENCL_WARMUP");
    if (w && strcmp(w, "0") == 0)
        return 0;
    static const int sizes[] = {16, 512, 515}; /* direct; indirect; indirect + padding */
    double t0 = now_ms();
    double shown = ocl_progress_begin(p, "compiling CLBlast GEMM kernels");
    ocl_session *s = NULL;
    int rc = session_create(p, &s);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && rc == 0; i++) {
        int n = sizes[i];
        float *mats = calloc((size_t)n * n * 3, sizeof(float));
        if (!mats) {
            rc = -ENOMEM;
            break;
        }
        rc = ocl_sgemm_locked(p, s, n, n, n, 1.0f, mats, n, mats + (size_t)n * n, n, 0.0f,
                              mats + 2 * (size_t)n * n, n);
        free(mats);
    }
    session_release(s);
    ocl_progress_end(shown, rc);
    funk_accel_log(FUNK_LOG_INFO, LOG, "CLBlast warm-up %s in %.0f ms", rc == 0 ? "done" : "failed",
                   now_ms() - t0);
    if (rc == 0 && w && strcmp(w, "all") == 0) {
        t0 = now_ms();
        /* Not fatal: sgemm works without it, and detect falls back when it cannot run. */
        double shown_dnn = ocl_progress_begin(p, "building OpenCV DNN kernels (warm-up)");
        int drc = ocl_dnn_warm_up(p);
        ocl_progress_end(shown_dnn, drc);
        funk_accel_log(drc == 0 ? FUNK_LOG_INFO : FUNK_LOG_WARN, LOG, "DNN warm-up %s in %.0f ms",
                       drc == 0 ? "done" : strerror(-drc), now_ms() - t0);
    }
    return rc;
}

static int ocl_init_impl(void **state)
{
    const char *spec = getenv("FUNK_ACCEL_OPENCL_DEVICE");
    pick k = {.best_rank = 3};
    if (ocl_select_parse(spec, &k.sel) < 0) {
        funk_accel_log(FUNK_LOG_ERROR, LOG,
                       "FUNK_ACCEL_OPENCL_DEVICE='%s' is neither \"P:D\" nor a device name", spec);
        snprintf(g_description, sizeof(g_description),
                 "OpenCL: not available: FUNK_ACCEL_OPENCL_DEVICE='%.64s' is malformed", spec);
        return -ENODEV;
    }
    int rc = for_each_device(pick_visit, &k);
    if (rc < 0 && rc != -ENODEV)
        return rc;
    if (!k.device) {
        snprintf(g_description, sizeof(g_description),
                 "OpenCL: sgemm via CLBlast, classify/detect/pose/segment via OpenCV DNN; "
                 "no OpenCL device%s%.64s%s",
                 spec && *spec ? " matches FUNK_ACCEL_OPENCL_DEVICE='" : "", spec ? spec : "",
                 spec && *spec ? "'" : "");
        if (k.sel.kind == OCL_SELECT_DEFAULT)
            funk_accel_log(FUNK_LOG_INFO, LOG, "no OpenCL device: plugin not available");
        else
            funk_accel_log(FUNK_LOG_WARN, LOG,
                           "no OpenCL device matches FUNK_ACCEL_OPENCL_DEVICE='%s': plugin not "
                           "available (funk-accel op opencl.devices lists them)",
                           spec);
        return -ENODEV;
    }

    ocl_plugin *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->platform = k.platform;
    p->device = k.device;
    p->platform_index = k.pi;
    p->device_index = k.di;
    info_str(p->device, CL_DEVICE_NAME, p->device_name, sizeof(p->device_name));
    platform_str(p->platform, CL_PLATFORM_NAME, p->platform_name, sizeof(p->platform_name));
    clGetDeviceInfo(p->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof(p->max_alloc),
                    &p->max_alloc, NULL);
    pthread_mutex_init(&p->dnn_lock, NULL);

    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)p->platform, 0};
    cl_int e = CL_SUCCESS;
    p->ctx = clCreateContext(props, 1, &p->device, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "clCreateContext on %s: %s (%d)", p->device_name,
                       cl_err_name(e), e);
        pthread_mutex_destroy(&p->dnn_lock);
        free(p);
        return -ENODEV;
    }
    funk_accel_log(FUNK_LOG_INFO, LOG, "device %u:%u %s (%s)", p->platform_index, p->device_index,
                   p->device_name, p->platform_name);
    rc = warm_up(p);
    if (rc < 0) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "CLBlast does not run on %s: %s", p->device_name,
                       strerror(-rc));
        clReleaseContext(p->ctx);
        pthread_mutex_destroy(&p->dnn_lock);
        free(p);
        return -ENODEV;
    }
    snprintf(g_description, sizeof(g_description),
             "OpenCL on %u:%u %s (%s): sgemm via CLBlast, classify/detect/pose/segment via "
             "OpenCV DNN",
             p->platform_index, p->device_index, p->device_name, p->platform_name);
    *state = p;
    return 0;
}

static void ocl_fini_impl(void *state)
{
    ocl_plugin *p = state;
    if (!p)
        return;
    ocl_dnn_fini(p);
    clReleaseContext(p->ctx);
    pthread_mutex_destroy(&p->dnn_lock);
    free(p);
}

static int ocl_session_open_impl(void *state, void **out)
{
    ocl_session *s = NULL;
    int rc = session_create(state, &s);
    if (rc == 0)
        *out = s;
    return rc;
}

static void ocl_session_close_impl(void *state, void *ss)
{
    (void)state;
    if (ss)
        session_release(ss);
}

/* ---- sgemm ----------------------------------------------------------------------------------- */

static int ensure_buf(ocl_plugin *p, ocl_session *s, int which, size_t bytes)
{
    if (s->cap[which] >= bytes)
        return 0;
    if (p->max_alloc && bytes > p->max_alloc) {
        /* Bigger than one allocation may be on this device: let the next plugin do it. */
        funk_accel_log(FUNK_LOG_WARN, LOG, "sgemm needs a %zu-byte buffer, %s allows %llu",
                       bytes, p->device_name, (unsigned long long)p->max_alloc);
        return -ENOTSUP;
    }
    if (s->buf[which])
        clReleaseMemObject(s->buf[which]);
    s->buf[which] = NULL;
    s->cap[which] = 0;
    cl_int e = CL_SUCCESS;
    cl_mem m = clCreateBuffer(p->ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (e != CL_SUCCESS) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "clCreateBuffer(%zu): %s (%d)", bytes, cl_err_name(e),
                       e);
        return status_to_errno(e);
    }
    s->buf[which] = m;
    s->cap[which] = bytes;
    return 0;
}

/* Rows of `cols` floats, `ld` apart, copied with the same pitch on both sides: the padding
 * between rows is never touched on the host. */
static cl_int write_rows(cl_command_queue q, cl_mem dst, const float *src, int rows, int cols,
                         int ld)
{
    if (cols == ld)
        return clEnqueueWriteBuffer(q, dst, CL_FALSE, 0, (size_t)rows * ld * sizeof(float), src,
                                    0, NULL, NULL);
    size_t zero[3] = {0, 0, 0};
    size_t region[3] = {(size_t)cols * sizeof(float), (size_t)rows, 1};
    size_t pitch = (size_t)ld * sizeof(float);
    return clEnqueueWriteBufferRect(q, dst, CL_FALSE, zero, zero, region, pitch, 0, pitch, 0, src,
                                    0, NULL, NULL);
}

static int ocl_sgemm_locked(ocl_plugin *p, ocl_session *s, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c,
                            int ldc)
{
    /* Device matrices keep the caller's leading dimensions, so no repacking is needed. */
    size_t a_len = ((size_t)(m - 1) * lda + k) * sizeof(float);
    size_t b_len = ((size_t)(k - 1) * ldb + n) * sizeof(float);
    size_t c_len = ((size_t)(m - 1) * ldc + n) * sizeof(float);
    int rc;
    if ((rc = ensure_buf(p, s, BUF_A, a_len)) < 0 || (rc = ensure_buf(p, s, BUF_B, b_len)) < 0 ||
        (rc = ensure_buf(p, s, BUF_C, c_len)) < 0)
        return rc;
    cl_int e = write_rows(s->queue, s->buf[BUF_A], a, m, k, lda);
    if (e == CL_SUCCESS)
        e = write_rows(s->queue, s->buf[BUF_B], b, k, n, ldb);
    if (e == CL_SUCCESS) {
        if (beta != 0.0f) {
            e = write_rows(s->queue, s->buf[BUF_C], c, m, n, ldc);
        } else {
            /* BLAS semantics: C is not read when beta is 0, so stale NaNs must not leak in. */
            const float zero = 0.0f;
            e = clEnqueueFillBuffer(s->queue, s->buf[BUF_C], &zero, sizeof(zero), 0, c_len, 0,
                                    NULL, NULL);
        }
    }
    if (e != CL_SUCCESS) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "upload: %s (%d)", cl_err_name(e), e);
        clFinish(s->queue);
        return status_to_errno(e);
    }
    CLBlastStatusCode st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                        CLBlastTransposeNo, (size_t)m, (size_t)n, (size_t)k, alpha,
                                        s->buf[BUF_A], 0, (size_t)lda, s->buf[BUF_B], 0,
                                        (size_t)ldb, beta, s->buf[BUF_C], 0, (size_t)ldc,
                                        &s->queue, NULL);
    if (st != CLBlastSuccess) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "CLBlastSgemm(%d,%d,%d): status %d", m, n, k, (int)st);
        clFinish(s->queue);
        return status_to_errno(st);
    }
    if (n == ldc) {
        e = clEnqueueReadBuffer(s->queue, s->buf[BUF_C], CL_TRUE, 0,
                                (size_t)m * ldc * sizeof(float), c, 0, NULL, NULL);
    } else {
        size_t zero[3] = {0, 0, 0};
        size_t region[3] = {(size_t)n * sizeof(float), (size_t)m, 1};
        size_t pitch = (size_t)ldc * sizeof(float);
        e = clEnqueueReadBufferRect(s->queue, s->buf[BUF_C], CL_TRUE, zero, zero, region, pitch,
                                    0, pitch, 0, c, 0, NULL, NULL);
    }
    if (e != CL_SUCCESS) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "download: %s (%d)", cl_err_name(e), e);
        clFinish(s->queue);
        return status_to_errno(e);
    }
    return 0;
}

static int ocl_sgemm(const funk_accel_call *c, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *cm, int ldc)
{
    ocl_plugin *p = c->plugin;
    ocl_session *s = c->session_state;
    int rc;
    ocl_lsan_off();
    if (!s) { /* a runtime that opens sessions lazily or not at all: use a transient one */
        if ((rc = session_create(p, &s)) < 0) {
            ocl_lsan_on();
            return rc;
        }
        rc = ocl_sgemm_locked(p, s, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
        session_release(s);
    } else {
        pthread_mutex_lock(&s->lock);
        rc = ocl_sgemm_locked(p, s, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
        pthread_mutex_unlock(&s->lock);
    }
    ocl_lsan_on();
    return rc;
}

/* ---- Generic operations ------------------------------------------------------------------- */

typedef struct listing {
    const ocl_plugin *p;
    char *buf;
    size_t cap, len; /* len counts what would have been written, like snprintf */
} listing;

static void list_add(listing *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void list_add(listing *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = l->len < l->cap ? l->buf + l->len : NULL;
    size_t room = l->len < l->cap ? l->cap - l->len : 0;
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n;
}

static int list_visit(void *ctx, unsigned pi, cl_platform_id p, unsigned di, cl_device_id d)
{
    listing *l = ctx;
    char dn[256], pn[256], ver[128];
    info_str(d, CL_DEVICE_NAME, dn, sizeof(dn));
    info_str(d, CL_DEVICE_VERSION, ver, sizeof(ver));
    platform_str(p, CL_PLATFORM_NAME, pn, sizeof(pn));
    cl_device_type t = 0;
    cl_uint cus = 0;
    cl_ulong mem = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof(t), &t, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(cus), &cus, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(mem), &mem, NULL);
    bool chosen = l->p && l->p->device == d;
    list_add(l, "%u:%u %s | %s | %s | %u CUs | %llu MiB | %s%s\n", pi, di, dn, pn,
             device_type_name(t), cus, (unsigned long long)(mem >> 20), ver,
             chosen ? " | selected" : "");
    return 0;
}

/* Writes the device table as text into out[0] (STRING or BYTES); -ENOSPC with out[0].used set
 * to the size needed when it does not fit. */
static int op_devices(const ocl_plugin *p, funk_accel_arg *out, size_t n_out)
{
    if (n_out < 1 || !out[0].data || out[0].size == 0 ||
        (out[0].type != FUNK_ACCEL_ARG_STRING && out[0].type != FUNK_ACCEL_ARG_BYTES))
        return -EINVAL;
    listing l = {.p = p, .buf = out[0].data, .cap = out[0].size};
    int rc = for_each_device(list_visit, &l);
    if (rc < 0 && rc != -ENODEV)
        return rc;
    out[0].used = l.len + 1;
    if (l.len + 1 > l.cap) {
        ((char *)out[0].data)[l.cap - 1] = '\0';
        return -ENOSPC;
    }
    return 0;
}

static int ocl_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in,
                  size_t n_in, funk_accel_arg *out, size_t n_out)
{
    if (strcmp(name, "opencl.devices") == 0 || strcmp(name, "devices") == 0) {
        ocl_lsan_off();
        int rc = op_devices(c->plugin, out, n_out);
        ocl_lsan_on();
        return rc;
    }
    return ocl_vision_op(c, name, in, n_in, out, n_out);
}

static int ocl_init(void **state)
{
    ocl_lsan_off();
    int rc = ocl_init_impl(state);
    ocl_lsan_on();
    return rc;
}

static void ocl_fini(void *state)
{
    ocl_lsan_off();
    ocl_fini_impl(state);
    ocl_lsan_on();
}

static int ocl_session_open(void *state, void **out)
{
    ocl_lsan_off();
    int rc = ocl_session_open_impl(state, out);
    ocl_lsan_on();
    return rc;
}

static void ocl_session_close(void *state, void *ss)
{
    ocl_lsan_off();
    ocl_session_close_impl(state, ss);
    ocl_lsan_on();
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 200, .name = "opencl", .version = "0.1.0",
                         .description = g_description, .init = ocl_init, .fini = ocl_fini,
                         .session_open = ocl_session_open, .session_close = ocl_session_close,
                         .resource_free = ocl_resource_free, .sgemm = ocl_sgemm,
                         .image_classify = ocl_image_classify, .image_detect = ocl_image_detect,
                         .op = ocl_op, .model_run = ocl_model_run);
