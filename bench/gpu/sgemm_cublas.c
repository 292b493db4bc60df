/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline: the same sgemm as the cuda plugin does, calling the CUDA runtime + cuBLAS directly
 * (device buffers allocated once, plain cudaMemcpy of A and B in and C out per call), plus the
 * device-resident compute alone for reference. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "bench_util.h"

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "sgemm-cublas: %s: %s\n", #x, cudaGetErrorString(e_));               \
            return e_ == cudaErrorNoDevice || e_ == cudaErrorInsufficientDriver ? 77 : 1;         \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    int n, iters;
    if (bench_args(argc, argv, &n, &iters) < 0)
        return 2;
    int count = 0;
    CK(cudaGetDeviceCount(&count));
    if (count == 0) {
        fprintf(stderr, "sgemm-cublas: no CUDA device\n");
        return 77;
    }
    size_t bytes = (size_t)n * n * sizeof(float);
    float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes), *da, *db, *dc;
    double *ms = calloc((size_t)iters, sizeof(double)), *ms_gpu = calloc((size_t)iters, sizeof(double));
    if (!a || !b || !c || !ms || !ms_gpu)
        return 1;
    bench_fill(a, (size_t)n * n, 1);
    bench_fill(b, (size_t)n * n, 2);
    CK(cudaMalloc((void **)&da, bytes));
    CK(cudaMalloc((void **)&db, bytes));
    CK(cudaMalloc((void **)&dc, bytes));
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS)
        return 1;
    const float alpha = 1.0f, beta = 0.0f;
    for (int i = -2; i < iters; i++) {
        double t0 = bench_now_ms();
        CK(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice));
        if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, db, n, da, n, &beta, dc,
                        n) != CUBLAS_STATUS_SUCCESS)
            return 1;
        CK(cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost));
        if (i >= 0)
            ms[i] = bench_now_ms() - t0;
    }
    for (int i = -1; i < iters; i++) {
        double t0 = bench_now_ms();
        if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, db, n, da, n, &beta, dc,
                        n) != CUBLAS_STATUS_SUCCESS)
            return 1;
        CK(cudaDeviceSynchronize());
        if (i >= 0)
            ms_gpu[i] = bench_now_ms() - t0;
    }
    bench_report("direct-cublas", n, ms, iters);
    bench_report("cublas-compute-only", n, ms_gpu, iters);
    cublasDestroy(h);
    cudaFree(da), cudaFree(db), cudaFree(dc);
    free(a), free(b), free(c), free(ms), free(ms_gpu);
    return 0;
}
