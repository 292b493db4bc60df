// SPDX-License-Identifier: Apache-2.0
// opencl plugin: classify/detect/pose/segment through the cpu plugin's accel_dnn on OpenCV's
// OpenCL target, bound to this plugin's own cl_context so that DNN and CLBlast share the device.
#include "opencl_plugin.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>

#include <opencv2/core/ocl.hpp>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "dnn.h"
#include "tensor.h"
#include "vision.h"

namespace {

struct ocl_dnn {
    dnn_ctx *ctx = nullptr;
    vision_ctx *vision = nullptr; // image_pose, image_segment
    tensor_dnn *tensor = nullptr; // model runs (ONNX), nets cached by model hash
    cv::ocl::OpenCLExecutionContext exec;
};

// Creates the DNN state on first use (under p->dnn_lock): -ENOTSUP when OpenCV cannot use
// OpenCL here, so dispatch falls back to the cpu plugin.
int get_dnn(ocl_plugin *p, ocl_dnn **out)
{
    pthread_mutex_lock(&p->dnn_lock);
    int rc = 0;
    auto *d = static_cast<ocl_dnn *>(p->dnn);
    if (d == nullptr) {
        // OpenCV's DNN only trusts GPUs by default and silently moves anything else (PoCL's
        // CPU device) back to its CPU path; the user chose this device, so allow it. Read on
        // first use inside OpenCV, i.e. after this.
        setenv("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES", "1", 0);
        try {
            if (!cv::ocl::haveOpenCL()) {
                funk_accel_log(FUNK_LOG_WARN, "opencl", "OpenCV has no OpenCL support here");
                rc = -ENOTSUP;
            } else {
                d = new ocl_dnn;
                d->exec = cv::ocl::OpenCLExecutionContext::create(p->platform_name, p->platform,
                                                                  p->ctx, p->device);
                rc = dnn_ctx_new(&d->ctx, DNN_TARGET_OPENCL, "opencl");
                if (rc == 0 && (rc = vision_ctx_new(&d->vision, DNN_TARGET_OPENCL, "opencl")) < 0)
                    dnn_ctx_free(d->ctx);
                else if (rc == 0 &&
                         (rc = tensor_dnn_new(&d->tensor, DNN_TARGET_OPENCL, "opencl")) < 0) {
                    vision_ctx_free(d->vision);
                    dnn_ctx_free(d->ctx);
                }
                if (rc < 0) {
                    delete d;
                    d = nullptr;
                } else {
                    p->dnn = d;
                }
            }
        } catch (const std::bad_alloc &) {
            delete d;
            d = nullptr;
            rc = -ENOMEM;
        } catch (const cv::Exception &e) {
            funk_accel_log(FUNK_LOG_WARN, "opencl", "OpenCV cannot use %s: %s", p->device_name,
                           e.what());
            delete d;
            d = nullptr;
            rc = -ENOTSUP;
        } catch (const std::exception &e) { // nothing may unwind into the C runtime
            funk_accel_log(FUNK_LOG_WARN, "opencl", "DNN set-up on %s: %s", p->device_name,
                           e.what());
            delete d;
            d = nullptr;
            rc = -EIO;
        }
    }
    pthread_mutex_unlock(&p->dnn_lock);
    *out = d;
    return rc;
}

} // namespace

extern "C" void ocl_dnn_fini(ocl_plugin *p)
{
    auto *d = static_cast<ocl_dnn *>(p->dnn);
    if (d == nullptr)
        return;
    tensor_dnn_free(d->tensor);
    vision_ctx_free(d->vision);
    dnn_ctx_free(d->ctx);
    delete d;
    p->dnn = nullptr;
}

// One detect on a blank image with the default model: OpenCV builds its OpenCL kernels for the
// network here (seconds, more on a cold cache) instead of inside the first timed request.
extern "C" int ocl_dnn_warm_up(ocl_plugin *p)
{
    ocl_dnn *d = nullptr;
    int rc = get_dnn(p, &d);
    if (rc < 0)
        return rc;
    try {
        std::vector<uchar> png;
        cv::Mat blank(64, 64, CV_8UC3, cv::Scalar(127, 127, 127));
        if (!cv::imencode(".png", blank, png))
            return -EIO;
        funk_accel_call call = {p, nullptr, nullptr};
        funk_accel_detection det[1];
        cv::ocl::OpenCLExecutionContextScope scope(d->exec);
        rc = dnn_detect(d->ctx, &call, nullptr, png.data(), png.size(), 0, det, 1);
        __atomic_store_n(&p->dnn_built, 1, __ATOMIC_RELEASE);
    } catch (const std::exception &e) { // cv::Exception, bad_alloc from imencode
        funk_accel_log(FUNK_LOG_WARN, "opencl", "DNN warm-up: %s", e.what());
        return -EIO;
    }
    return rc < 0 ? rc : 0;
}

extern "C" void ocl_resource_free(void *plugin_state, void *slot)
{
    (void)plugin_state;
    ocl_lsan_off();
    dnn_resource_free(slot);
    ocl_lsan_on();
}

extern "C" int ocl_image_classify(const funk_accel_call *c, funk_accel_resource *model,
                                  const void *image, size_t image_len, funk_accel_label *out,
                                  size_t max)
{
    auto *p = static_cast<ocl_plugin *>(c->plugin);
    ocl_lsan_off();
    ocl_dnn *d = nullptr;
    int rc = get_dnn(p, &d);
    if (rc == 0) {
        double t0 = __atomic_exchange_n(&p->dnn_built, 1, __ATOMIC_ACQ_REL)
                        ? -1.0
                        : ocl_progress_begin(p, "building OpenCV DNN kernels (first classify)");
        try {
            // OpenCV picks its OpenCL context per thread: make it ours for this call.
            cv::ocl::OpenCLExecutionContextScope scope(d->exec);
            rc = dnn_classify(d->ctx, c, model, image, image_len, out, max);
        } catch (const std::exception &e) {
            funk_accel_log(FUNK_LOG_ERROR, "opencl", "classify: %s", e.what());
            rc = -EIO;
        }
        ocl_progress_end(t0, rc);
    }
    ocl_lsan_on();
    return rc;
}

extern "C" int ocl_image_detect(const funk_accel_call *c, funk_accel_resource *model,
                                const void *image, size_t image_len, uint32_t min_score_pct,
                                funk_accel_detection *out, size_t max)
{
    auto *p = static_cast<ocl_plugin *>(c->plugin);
    ocl_lsan_off();
    ocl_dnn *d = nullptr;
    int rc = get_dnn(p, &d);
    if (rc == 0) {
        // the first forward pass builds OpenCV's kernels for the network: say so on a terminal
        double t0 = __atomic_exchange_n(&p->dnn_built, 1, __ATOMIC_ACQ_REL)
                        ? -1.0
                        : ocl_progress_begin(p, "building OpenCV DNN kernels (first detect)");
        try {
            cv::ocl::OpenCLExecutionContextScope scope(d->exec);
            rc = dnn_detect(d->ctx, c, model, image, image_len, min_score_pct, out, max);
        } catch (const std::exception &e) {
            funk_accel_log(FUNK_LOG_ERROR, "opencl", "detect: %s", e.what());
            rc = -EIO;
        }
        ocl_progress_end(t0, rc);
    }
    ocl_lsan_on();
    return rc;
}

// image_pose / image_segment (vision.c) on this plugin's device; -ENOENT for other names.
extern "C" int ocl_vision_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in,
                             size_t n_in, funk_accel_arg *out, size_t n_out)
{
    if (strcmp(name, "image_pose") != 0 && strcmp(name, "image_segment") != 0)
        return -ENOENT;
    auto *p = static_cast<ocl_plugin *>(c->plugin);
    ocl_lsan_off();
    ocl_dnn *d = nullptr;
    int rc = get_dnn(p, &d);
    if (rc == 0) {
        try {
            cv::ocl::OpenCLExecutionContextScope scope(d->exec);
            rc = vision_op(d->vision, name, in, n_in, out, n_out);
        } catch (const std::exception &e) {
            funk_accel_log(FUNK_LOG_ERROR, "opencl", "%s: %s", name, e.what());
            rc = -EIO;
        }
    }
    ocl_lsan_on();
    return rc;
}

extern "C" int ocl_model_run(const funk_accel_call *c, funk_accel_resource *model,
                             const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                             size_t n_out)
{
    auto *p = static_cast<ocl_plugin *>(c->plugin);
    ocl_lsan_off();
    ocl_dnn *d = nullptr;
    int rc = get_dnn(p, &d);
    if (rc == 0) {
        try {
            cv::ocl::OpenCLExecutionContextScope scope(d->exec);
            rc = tensor_dnn_run(d->tensor, model, in, n_in, out, n_out);
        } catch (const std::exception &e) {
            funk_accel_log(FUNK_LOG_ERROR, "opencl", "model_run: %s", e.what());
            rc = -EIO;
        }
    }
    ocl_lsan_on();
    return rc;
}
