/* SPDX-License-Identifier: Apache-2.0 */
/* The opencl plugin's sgemm vs OpenCL + CLBlast called directly (buffers made once, A and B
 * written and C read per call), interleaved in one process (FUNK_ACCEL_PLUGINS=opencl). */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>

#include "bench_util.h"

struct cl {
    cl_command_queue q;
    cl_mem da, db, dc;
    size_t bytes;
};

static int direct(void *ctx, int n, const float *a, const float *b, float *c)
{
    struct cl *x = ctx;
    cl_int e = clEnqueueWriteBuffer(x->q, x->da, CL_FALSE, 0, x->bytes, a, 0, NULL, NULL);
    if (e == CL_SUCCESS)
        e = clEnqueueWriteBuffer(x->q, x->db, CL_FALSE, 0, x->bytes, b, 0, NULL, NULL);
    CLBlastStatusCode st =
        e != CL_SUCCESS
            ? CLBlastSuccess
            : CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n,
                           1.0f, x->da, 0, n, x->db, 0, n, 0.0f, x->dc, 0, n, &x->q, NULL);
    if (e == CL_SUCCESS && st == CLBlastSuccess)
        e = clEnqueueReadBuffer(x->q, x->dc, CL_TRUE, 0, x->bytes, c, 0, NULL, NULL);
    if (e != CL_SUCCESS || st != CLBlastSuccess) {
        fprintf(stderr, "sgemm-clblast: status %d / %d\n", (int)st, e);
        return -1;
    }
    return 0;
}

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
    funk_accel_session *s;
    char name[32];
    int rc = bench_accel_open(&s, name);
    if (rc != 0)
        return rc;
    struct cl x = {.bytes = (size_t)n * n * sizeof(float)};
    cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    if (e == CL_SUCCESS)
        x.q = clCreateCommandQueue(ctx, dev, 0, &e);
    if (e == CL_SUCCESS)
        x.da = clCreateBuffer(ctx, CL_MEM_READ_WRITE, x.bytes, NULL, &e);
    if (e == CL_SUCCESS)
        x.db = clCreateBuffer(ctx, CL_MEM_READ_WRITE, x.bytes, NULL, &e);
    if (e == CL_SUCCESS)
        x.dc = clCreateBuffer(ctx, CL_MEM_READ_WRITE, x.bytes, NULL, &e);
    if (e != CL_SUCCESS) {
        fprintf(stderr, "sgemm-clblast: set-up failed (%d)\n", e);
        return 1;
    }
    rc = bench_pair(s, name, "direct-clblast", direct, &x, n, iters);
    clReleaseMemObject(x.da), clReleaseMemObject(x.db), clReleaseMemObject(x.dc);
    clReleaseCommandQueue(x.q), clReleaseContext(ctx);
    funk_accel_session_delete(s);
    funk_accel_fini();
    return rc;
}
