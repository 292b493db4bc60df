/* SPDX-License-Identifier: Apache-2.0 */
/* opencl plugin internals shared by the C core (opencl.c) and the OpenCV DNN shim. */
#ifndef FUNK_OPENCL_PLUGIN_H
#define FUNK_OPENCL_PLUGIN_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>

#include <funk/accel_plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ocl_plugin {
    cl_platform_id platform;
    cl_device_id device;
    cl_context ctx;
    unsigned platform_index, device_index;
    cl_ulong max_alloc;
    char device_name[256];
    char platform_name[256];
    pthread_mutex_t dnn_lock; /* guards dnn (created on first image call) */
    void *dnn;                /* opaque state of opencl_dnn.cpp */
    int dnn_built;            /* a DNN forward pass has run (OpenCV built its kernels) */
} ocl_plugin;

/* Progress of a long first-use step (kernel compilation), on stderr only when it is a
 * terminal: begin prints what is being done and returns a start time; end prints how long. */
double ocl_progress_begin(const ocl_plugin *p, const char *what);
void ocl_progress_end(double t0, int rc);

/*
 * PoCL's LLVM keeps compiler state for the life of the process, and LeakSanitizer reports it
 * at exit in every ASan-built program that loads this plugin (a failing exit status). Each
 * entry point that reaches OpenCL brackets itself with these, so LSan ignores what is allocated
 * meanwhile. Weak: a no-op in builds without sanitizers.
 */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));
static inline void ocl_lsan_off(void)
{
    if (__lsan_disable)
        __lsan_disable();
}
static inline void ocl_lsan_on(void)
{
    if (__lsan_enable)
        __lsan_enable();
}

/* Implemented by the DNN shim (opencl_dnn.cpp). */
/* The generic ops image_pose / image_segment; -ENOENT for any other name. */
int ocl_vision_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in,
                  size_t n_in, funk_accel_arg *out, size_t n_out);
void ocl_dnn_fini(ocl_plugin *p);
/* Builds the default model's OpenCL kernels now (FUNK_ACCEL_OPENCL_WARMUP=all). */
int ocl_dnn_warm_up(ocl_plugin *p);
void ocl_resource_free(void *plugin_state, void *slot);
int ocl_image_classify(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                       size_t image_len, funk_accel_label *out, size_t max);
int ocl_image_detect(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                     size_t image_len, uint32_t min_score_pct, funk_accel_detection *out,
                     size_t max);

int ocl_model_run(const funk_accel_call *c, funk_accel_resource *model,
                  const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out, size_t n_out);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_OPENCL_PLUGIN_H */
