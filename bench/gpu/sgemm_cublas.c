/* SPDX-License-Identifier: Apache-2.0 */
/* The cuda plugin's sgemm vs the CUDA runtime + cuBLAS called directly, interleaved in one
 * process (FUNK_ACCEL_PLUGINS=cuda). The baseline copies exactly as the plugin does by default
 * (accel/plugins/cuda/cuda.c, staging off): its own non-blocking stream, cudaMemcpy2DAsync of A
 * and B in, cuBLAS on that stream, cudaMemcpy2DAsync of C out, then a stream synchronize; device
 * buffers made once. It also reports the device-resident compute alone, for reference. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "bench_util.h"

struct cu {
    cudaStream_t stream;
    cublasHandle_t h;
    float *da, *db, *dc;
};

static int ck(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    fprintf(stderr, "sgemm-cublas: %s: %s\n", what, cudaGetErrorString(e));
    return -1;
}

static int direct(void *ctx, int n, const float *a, const float *b, float *c)
{
    struct cu *x = ctx;
    size_t row = (size_t)n * sizeof(float);
    const float alpha = 1.0f, beta = 0.0f;
    if (ck(cudaMemcpy2DAsync(x->da, row, a, row, row, (size_t)n, cudaMemcpyHostToDevice, x->stream),
           "cudaMemcpy2DAsync(A)") < 0 ||
        ck(cudaMemcpy2DAsync(x->db, row, b, row, row, (size_t)n, cudaMemcpyHostToDevice, x->stream),
           "cudaMemcpy2DAsync(B)") < 0)
        return -1;
    /* Row-major C = A B is column-major C^T = B^T A^T, as in the plugin. */
    if (cublasSgemm(x->h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, x->db, n, x->da, n, &beta,
                    x->dc, n) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "sgemm-cublas: cublasSgemm failed\n");
        return -1;
    }
    if (ck(cudaMemcpy2DAsync(c, row, x->dc, row, row, (size_t)n, cudaMemcpyDeviceToHost, x->stream),
           "cudaMemcpy2DAsync(C)") < 0)
        return -1;
    return ck(cudaStreamSynchronize(x->stream), "cudaStreamSynchronize");
}

int main(int argc, char **argv)
{
    int n, iters;
    if (bench_args(argc, argv, &n, &iters) < 0)
        return 2;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
        (e == cudaSuccess && !count)) {
        fprintf(stderr, "sgemm-cublas: no CUDA device\n");
        return 77;
    }
    if (ck(e, "cudaGetDeviceCount") < 0)
        return 1;
    funk_accel_session *s;
    char name[32];
    int rc = bench_accel_open(&s, name);
    if (rc != 0)
        return rc;
    struct cu x = {0};
    size_t bytes = (size_t)n * n * sizeof(float);
    if (ck(cudaStreamCreateWithFlags(&x.stream, cudaStreamNonBlocking), "cudaStreamCreate") < 0 ||
        ck(cudaMalloc((void **)&x.da, bytes), "cudaMalloc") < 0 ||
        ck(cudaMalloc((void **)&x.db, bytes), "cudaMalloc") < 0 ||
        ck(cudaMalloc((void **)&x.dc, bytes), "cudaMalloc") < 0 ||
        cublasCreate(&x.h) != CUBLAS_STATUS_SUCCESS ||
        cublasSetStream(x.h, x.stream) != CUBLAS_STATUS_SUCCESS)
        return 1;
    rc = bench_pair(s, name, "direct-cublas", direct, &x, n, iters);

    /* Compute alone, operands already on the device. */
    double *ms = calloc((size_t)iters, sizeof(double));
    const float alpha = 1.0f, beta = 0.0f;
    for (int i = -1; rc == 0 && ms && i < iters; i++) {
        double t0 = bench_now_ms();
        if (cublasSgemm(x.h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, x.db, n, x.da, n, &beta,
                        x.dc, n) != CUBLAS_STATUS_SUCCESS ||
            ck(cudaStreamSynchronize(x.stream), "cudaStreamSynchronize") < 0)
            rc = 1;
        else if (i >= 0)
            ms[i] = bench_now_ms() - t0;
    }
    if (rc == 0 && ms)
        bench_report("cublas-compute-only", n, ms, iters);
    free(ms);
    cublasDestroy(x.h);
    cudaFree(x.da), cudaFree(x.db), cudaFree(x.dc);
    cudaStreamDestroy(x.stream);
    funk_accel_session_delete(s);
    funk_accel_fini();
    return rc;
}
