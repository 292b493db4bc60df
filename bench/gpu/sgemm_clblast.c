/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline: the same sgemm as the opencl plugin does, calling OpenCL + CLBlast directly. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int n, iters;
    if (bench_args(argc, argv, &n, &iters) < 0)
        return 2;
    cl_platform_id plat;
    cl_device_id dev;
    cl_int e;
    if (clGetPlatformIDs(1, &plat, NULL) != CL_SUCCESS ||
        clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL) != CL_SUCCESS) {
        fprintf(stderr, "sgemm-clblast: no OpenCL device\n");
        return 77;
    }
    cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &e);
    size_t bytes = (size_t)n * n * sizeof(float);
    cl_mem da = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    cl_mem db = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    cl_mem dc = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
    double *ms = calloc((size_t)iters, sizeof(double));
    if (e != CL_SUCCESS || !a || !b || !c || !ms) {
        fprintf(stderr, "sgemm-clblast: set-up failed (%d)\n", e);
        return 1;
    }
    bench_fill(a, (size_t)n * n, 1);
    bench_fill(b, (size_t)n * n, 2);
    for (int i = -2; i < iters; i++) { /* two untimed warm-up rounds */
        double t0 = bench_now_ms();
        clEnqueueWriteBuffer(q, da, CL_FALSE, 0, bytes, a, 0, NULL, NULL);
        clEnqueueWriteBuffer(q, db, CL_FALSE, 0, bytes, b, 0, NULL, NULL);
        CLBlastStatusCode st =
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n,
                         1.0f, da, 0, n, db, 0, n, 0.0f, dc, 0, n, &q, NULL);
        e = clEnqueueReadBuffer(q, dc, CL_TRUE, 0, bytes, c, 0, NULL, NULL);
        if (st != CLBlastSuccess || e != CL_SUCCESS) {
            fprintf(stderr, "sgemm-clblast: status %d / %d\n", (int)st, e);
            return 1;
        }
        if (i >= 0)
            ms[i] = bench_now_ms() - t0;
    }
    bench_report("direct-clblast", n, ms, iters);
    clReleaseMemObject(da), clReleaseMemObject(db), clReleaseMemObject(dc);
    clReleaseCommandQueue(q), clReleaseContext(ctx);
    free(a), free(b), free(c), free(ms);
    return 0;
}
