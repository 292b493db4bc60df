/* SPDX-License-Identifier: Apache-2.0 */
/* cuda plugin: sgemm through cuBLAS with per-session device buffers and pinned staging. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <funk/accel_plugin.h>

#define LOG "cuda"

/*
 * Pinned staging (FUNK_ACCEL_CUDA_STAGING=1): transfers at least STAGE_MIN_BYTES are packed
 * into two pinned buffers in turn, one chunk being copied by the CPU while the other is in
 * DMA. Off by default: on the H100 host measured (docs/gpu.md) the driver's own pageable path
 * was as fast or faster, median ms per call pageable vs staged: 1024^3 1.41 vs 1.46, 2048^3
 * 3.82 vs 5.00, 4096^3 24.4 vs 24.0, 8192^3 95.9 vs 107.0. Transfers below STAGE_MIN_BYTES
 * always go straight from the caller's memory.
 */
#define STAGE_MIN_BYTES ((size_t)1 << 20)
/* Size of each of the two staging buffers: big enough to hide the per-copy launch cost, small
 * enough that host packing of one chunk overlaps the DMA of the other. */
#define STAGE_CHUNK_BYTES ((size_t)8 << 20)

static char g_description[512] = "CUDA: sgemm via cuBLAS";

typedef struct cu_plugin {
    int device;
    int tf32;    /* FUNK_ACCEL_CUDA_TF32=1: tensor-core TF32 math (faster, ~1e-3 relative) */
    int staging; /* FUNK_ACCEL_CUDA_STAGING=1: pinned staging for large transfers */
    char name[256];
} cu_plugin;

enum { DA, DB, DC, DBUF_COUNT };

/* Per session: one stream + cuBLAS handle, grow-only device matrices and two pinned staging
 * buffers. Calls on one session are serialised since they share all of it. */
typedef struct cu_session {
    pthread_mutex_t lock;
    cudaStream_t stream;
    cublasHandle_t blas;
    float *dbuf[DBUF_COUNT];
    size_t dcap[DBUF_COUNT];
    void *stage[2];
    size_t stage_cap;
    cudaEvent_t ev[2];
} cu_session;

static int cuda_err(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    funk_accel_log(FUNK_LOG_ERROR, LOG, "%s: %s (%d)", what, cudaGetErrorString(e), (int)e);
    return e == cudaErrorMemoryAllocation ? -ENOMEM : -EIO;
}

static int blas_err(cublasStatus_t st, const char *what)
{
    if (st == CUBLAS_STATUS_SUCCESS)
        return 0;
    funk_accel_log(FUNK_LOG_ERROR, LOG, "%s: cuBLAS status %d", what, (int)st);
    switch (st) {
    case CUBLAS_STATUS_ALLOC_FAILED: return -ENOMEM;
    case CUBLAS_STATUS_INVALID_VALUE: return -EINVAL;
    case CUBLAS_STATUS_NOT_SUPPORTED: return -ENOTSUP;
    default: return -EIO;
    }
}

/* ---- Sessions --------------------------------------------------------------------------------- */

static void session_release(cu_session *s)
{
    for (int i = 0; i < DBUF_COUNT; i++)
        if (s->dbuf[i])
            cudaFree(s->dbuf[i]);
    for (int i = 0; i < 2; i++) {
        if (s->stage[i])
            cudaFreeHost(s->stage[i]);
        if (s->ev[i])
            cudaEventDestroy(s->ev[i]);
    }
    if (s->blas)
        cublasDestroy(s->blas);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int session_create(cu_plugin *p, cu_session **out)
{
    cu_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    int rc = cuda_err(cudaSetDevice(p->device), "cudaSetDevice");
    if (rc == 0)
        rc = cuda_err(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking),
                      "cudaStreamCreate");
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = cuda_err(cudaEventCreateWithFlags(&s->ev[i], cudaEventDisableTiming),
                      "cudaEventCreate");
    if (rc == 0)
        rc = blas_err(cublasCreate(&s->blas), "cublasCreate");
    if (rc == 0)
        rc = blas_err(cublasSetStream(s->blas, s->stream), "cublasSetStream");
    if (rc == 0 && p->tf32)
        rc = blas_err(cublasSetMathMode(s->blas, CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode");
    if (rc < 0) {
        session_release(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- Transfers --------------------------------------------------------------------------------- */

static int ensure_stage(cu_session *s, size_t bytes)
{
    if (s->stage_cap >= bytes)
        return 0;
    /* Both buffers may still feed an in-flight copy. */
    int rc = cuda_err(cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
    if (rc < 0)
        return rc;
    for (int i = 0; i < 2; i++) {
        if (s->stage[i])
            cudaFreeHost(s->stage[i]);
        s->stage[i] = NULL;
    }
    s->stage_cap = 0;
    for (int i = 0; i < 2; i++)
        if ((rc = cuda_err(cudaMallocHost(&s->stage[i], bytes), "cudaMallocHost")) < 0)
            return rc;
    s->stage_cap = bytes;
    return 0;
}

/* rows x row_bytes from host memory (pitch hpitch) into a packed device matrix. */
static int upload(cu_plugin *p, cu_session *s, void *dst, const void *src, size_t hpitch,
                  size_t row_bytes, size_t rows)
{
    const char *h = src;
    char *d = dst;
    if (!p->staging || row_bytes * rows < STAGE_MIN_BYTES)
        /* Pageable source: returns once the driver holds the bytes, so src may change after. */
        return cuda_err(cudaMemcpy2DAsync(d, row_bytes, h, hpitch, row_bytes, rows,
                                          cudaMemcpyHostToDevice, s->stream),
                        "cudaMemcpy2DAsync(H2D)");
    size_t chunk = row_bytes > STAGE_CHUNK_BYTES ? row_bytes : STAGE_CHUNK_BYTES;
    int rc = ensure_stage(s, chunk);
    if (rc < 0)
        return rc;
    size_t per = chunk / row_bytes;
    for (size_t r0 = 0, i = 0; r0 < rows; i++) {
        size_t nr = rows - r0 < per ? rows - r0 : per;
        int b = (int)(i & 1);
        /* The copy that last read this buffer must be done before it is refilled. */
        if ((rc = cuda_err(cudaEventSynchronize(s->ev[b]), "cudaEventSynchronize")) < 0)
            return rc;
        char *st = s->stage[b];
        if (hpitch == row_bytes)
            memcpy(st, h + r0 * hpitch, nr * row_bytes);
        else
            for (size_t r = 0; r < nr; r++)
                memcpy(st + r * row_bytes, h + (r0 + r) * hpitch, row_bytes);
        rc = cuda_err(cudaMemcpyAsync(d + r0 * row_bytes, st, nr * row_bytes,
                                      cudaMemcpyHostToDevice, s->stream),
                      "cudaMemcpyAsync(H2D)");
        if (rc == 0)
            rc = cuda_err(cudaEventRecord(s->ev[b], s->stream), "cudaEventRecord");
        if (rc < 0)
            return rc;
        r0 += nr;
    }
    return 0;
}

/* A packed device matrix into host rows (pitch hpitch); returns when the bytes are there. */
static int download(cu_plugin *p, cu_session *s, void *dst, size_t hpitch, const void *src,
                    size_t row_bytes, size_t rows)
{
    char *h = dst;
    const char *d = src;
    int rc;
    if (!p->staging || row_bytes * rows < STAGE_MIN_BYTES) {
        rc = cuda_err(cudaMemcpy2DAsync(h, hpitch, d, row_bytes, row_bytes, rows,
                                        cudaMemcpyDeviceToHost, s->stream),
                      "cudaMemcpy2DAsync(D2H)");
        if (rc == 0)
            rc = cuda_err(cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
        return rc;
    }
    size_t chunk = row_bytes > STAGE_CHUNK_BYTES ? row_bytes : STAGE_CHUNK_BYTES;
    if ((rc = ensure_stage(s, chunk)) < 0)
        return rc;
    size_t per = chunk / row_bytes;
    size_t nchunks = (rows + per - 1) / per;
    /* Chunk i+1 is in flight while chunk i is unpacked into the caller's rows. */
    for (size_t i = 0; i <= nchunks && rc == 0; i++) {
        if (i < nchunks) {
            size_t r0 = i * per, nr = rows - r0 < per ? rows - r0 : per;
            int b = (int)(i & 1);
            rc = cuda_err(cudaMemcpyAsync(s->stage[b], d + r0 * row_bytes, nr * row_bytes,
                                          cudaMemcpyDeviceToHost, s->stream),
                          "cudaMemcpyAsync(D2H)");
            if (rc == 0)
                rc = cuda_err(cudaEventRecord(s->ev[b], s->stream), "cudaEventRecord");
        }
        if (rc == 0 && i > 0) {
            size_t j = i - 1, r0 = j * per, nr = rows - r0 < per ? rows - r0 : per;
            int b = (int)(j & 1);
            rc = cuda_err(cudaEventSynchronize(s->ev[b]), "cudaEventSynchronize");
            const char *st = s->stage[b];
            if (rc == 0 && hpitch == row_bytes)
                memcpy(h + r0 * hpitch, st, nr * row_bytes);
            else if (rc == 0)
                for (size_t r = 0; r < nr; r++)
                    memcpy(h + (r0 + r) * hpitch, st + r * row_bytes, row_bytes);
        }
    }
    if (rc < 0) /* leave no copy running into buffers the next call may free */
        cudaStreamSynchronize(s->stream);
    return rc;
}

/* ---- sgemm ------------------------------------------------------------------------------------ */

static int ensure_dev(cu_session *s, int which, size_t bytes)
{
    if (s->dcap[which] >= bytes)
        return 0;
    int rc = cuda_err(cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
    if (rc < 0)
        return rc;
    if (s->dbuf[which])
        cudaFree(s->dbuf[which]);
    s->dbuf[which] = NULL;
    s->dcap[which] = 0;
    cudaError_t e = cudaMalloc((void **)&s->dbuf[which], bytes);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError(); /* clear the sticky-free error state for the next call */
        s->dbuf[which] = NULL;
        funk_accel_log(FUNK_LOG_WARN, LOG, "no room for %zu bytes on the GPU: declining", bytes);
        return -ENOTSUP; /* the next plugin (cpu) can still do it */
    }
    if ((rc = cuda_err(e, "cudaMalloc")) < 0) {
        s->dbuf[which] = NULL;
        return rc;
    }
    s->dcap[which] = bytes;
    return 0;
}

static int sgemm_locked(cu_plugin *p, cu_session *s, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c,
                        int ldc)
{
    const size_t f = sizeof(float);
    int rc;
    if ((rc = ensure_dev(s, DA, (size_t)m * k * f)) < 0 ||
        (rc = ensure_dev(s, DB, (size_t)k * n * f)) < 0 ||
        (rc = ensure_dev(s, DC, (size_t)m * n * f)) < 0)
        return rc;
    /* Device copies are packed (ld = row length). */
    if ((rc = upload(p, s, s->dbuf[DA], a, (size_t)lda * f, (size_t)k * f, (size_t)m)) < 0 ||
        (rc = upload(p, s, s->dbuf[DB], b, (size_t)ldb * f, (size_t)n * f, (size_t)k)) < 0)
        goto fail;
    /* cuBLAS does not read C when beta is 0. */
    if (beta != 0.0f &&
        (rc = upload(p, s, s->dbuf[DC], c, (size_t)ldc * f, (size_t)n * f, (size_t)m)) < 0)
        goto fail;
    /* Row-major C = A B is column-major C^T = B^T A^T: swap the operands and m/n. */
    rc = blas_err(cublasSgemm(s->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, s->dbuf[DB], n,
                              s->dbuf[DA], k, &beta, s->dbuf[DC], n),
                  "cublasSgemm");
    if (rc < 0)
        goto fail;
    return download(p, s, c, (size_t)ldc * f, s->dbuf[DC], (size_t)n * f, (size_t)m);
fail:
    cudaStreamSynchronize(s->stream);
    return rc;
}

static int cu_sgemm(const funk_accel_call *c, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *cm, int ldc)
{
    cu_plugin *p = c->plugin;
    cu_session *s = c->session_state;
    int rc;
    if (!s) { /* no session state: a transient one (slow, but correct) */
        if ((rc = session_create(p, &s)) < 0)
            return rc;
        rc = sgemm_locked(p, s, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
        session_release(s);
        return rc;
    }
    pthread_mutex_lock(&s->lock);
    /* The current device is per host thread in the CUDA runtime. */
    rc = cuda_err(cudaSetDevice(p->device), "cudaSetDevice");
    if (rc == 0)
        rc = sgemm_locked(p, s, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- Plugin lifetime ------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Context creation and cuBLAS kernel loading cost 100s of ms on the first call: pay it here. */
static int warm_up(cu_plugin *p)
{
    double t0 = now_ms();
    cu_session *s = NULL;
    int rc = session_create(p, &s);
    if (rc < 0)
        return rc;
    static const int sizes[] = {64, 1024};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && rc == 0; i++) {
        int n = sizes[i];
        float *mats = calloc((size_t)n * n * 3, sizeof(float));
        if (!mats) {
            rc = -ENOMEM;
            break;
        }
        rc = sgemm_locked(p, s, n, n, n, 1.0f, mats, n, mats + (size_t)n * n, n, 0.0f,
                          mats + 2 * (size_t)n * n, n);
        free(mats);
    }
    session_release(s);
    funk_accel_log(FUNK_LOG_INFO, LOG, "warm-up %s in %.0f ms", rc == 0 ? "done" : "failed",
                   now_ms() - t0);
    return rc;
}

static int env_flag(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && *v ? strcmp(v, "0") != 0 : dflt;
}

static int cu_init(void **state)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        const char *why = e != cudaSuccess ? cudaGetErrorString(e) : "0 devices";
        funk_accel_log(FUNK_LOG_INFO, LOG, "no CUDA device (%s): plugin not available", why);
        snprintf(g_description, sizeof(g_description),
                 "CUDA: sgemm via cuBLAS; no CUDA device: %s", why);
        cudaGetLastError();
        return -ENODEV;
    }
    int dev = 0;
    const char *want = getenv("FUNK_ACCEL_CUDA_DEVICE");
    if (want && *want) {
        char *end = NULL;
        long v = strtol(want, &end, 10);
        if (*end || v < 0 || v >= count) {
            funk_accel_log(FUNK_LOG_WARN, LOG,
                           "FUNK_ACCEL_CUDA_DEVICE='%s': no such device (have %d): not available",
                           want, count);
            snprintf(g_description, sizeof(g_description),
                     "CUDA: sgemm via cuBLAS; FUNK_ACCEL_CUDA_DEVICE='%.64s' names no device "
                     "(have %d)", want, count);
            return -ENODEV;
        }
        dev = (int)v;
    }
    cu_plugin *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->device = dev;
    p->tf32 = env_flag("FUNK_ACCEL_CUDA_TF32", 0);
    p->staging = env_flag("FUNK_ACCEL_CUDA_STAGING", 0);
    struct cudaDeviceProp prop;
    int rc = cuda_err(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
    if (rc == 0)
        rc = warm_up(p);
    if (rc < 0) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "device %d unusable: plugin not available", dev);
        free(p);
        return -ENODEV;
    }
    snprintf(p->name, sizeof(p->name), "%s", prop.name);
    snprintf(g_description, sizeof(g_description),
             "CUDA device %d: %s (sm_%d%d, %zu MiB): sgemm via cuBLAS%s%s", dev, p->name,
             prop.major, prop.minor, prop.totalGlobalMem >> 20, p->tf32 ? " (TF32)" : "",
             p->staging ? ", pinned staging" : "");
    funk_accel_log(FUNK_LOG_INFO, LOG, "%s", g_description);
    *state = p;
    return 0;
}

static void cu_fini(void *state) { free(state); }

static int cu_session_open(void *state, void **out)
{
    cu_session *s = NULL;
    int rc = session_create(state, &s);
    if (rc == 0)
        *out = s;
    return rc;
}

static void cu_session_close(void *state, void *ss)
{
    cu_plugin *p = state;
    if (!ss)
        return;
    cudaSetDevice(p->device);
    session_release(ss);
}

static int cu_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in,
                 size_t n_in, funk_accel_arg *out, size_t n_out)
{
    (void)in, (void)n_in;
    if (strcmp(name, "cuda.device") != 0 && strcmp(name, "device") != 0)
        return -ENOENT;
    if (n_out < 1 || !out[0].data || out[0].size == 0 ||
        (out[0].type != FUNK_ACCEL_ARG_STRING && out[0].type != FUNK_ACCEL_ARG_BYTES))
        return -EINVAL;
    (void)c;
    size_t need = strlen(g_description) + 1;
    out[0].used = need;
    snprintf(out[0].data, out[0].size, "%s", g_description);
    return need > out[0].size ? -ENOSPC : 0;
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 300, .name = "cuda", .version = "0.1.0",
                         .description = g_description, .init = cu_init, .fini = cu_fini,
                         .session_open = cu_session_open, .session_close = cu_session_close,
                         .sgemm = cu_sgemm, .op = cu_op);
