// SPDX-License-Identifier: Apache-2.0
// C++ shim over OpenCV DNN for model runs on tensors: no exception crosses into C.
#include "tensor.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

struct tensor_cv_net {
    cv::dnn::Net net;
    std::vector<cv::String> outputs; // the net's outputs, in order
    std::vector<cv::String> want;    // the last run's output names: reused while they repeat
    std::vector<cv::Mat> outs;       // the last run's results (their memory is reused)
};

static void set_err(char *err, size_t len, const char *what)
{
    if (err && len)
        snprintf(err, len, "%s", what);
}

extern "C" int tensor_cv_load(tensor_cv_net **out, const void *data, size_t len, dnn_target target,
                              char *err, size_t err_len)
{
    tensor_cv_net *n = nullptr;
    try {
        n = new tensor_cv_net;
        n->net = cv::dnn::readNetFromONNX(static_cast<const char *>(data), len);
        if (n->net.empty()) {
            set_err(err, err_len, "OpenCV read an empty network");
            delete n;
            return -EBADMSG;
        }
        n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        n->net.setPreferableTarget(target == DNN_TARGET_OPENCL ? cv::dnn::DNN_TARGET_OPENCL
                                                               : cv::dnn::DNN_TARGET_CPU);
        n->outputs = n->net.getUnconnectedOutLayersNames();
        *out = n;
        return 0;
    } catch (const std::bad_alloc &) {
        delete n;
        return -ENOMEM;
    } catch (const std::exception &e) { // cv::Exception included
        set_err(err, err_len, e.what());
        delete n;
        return -EBADMSG;
    }
}

extern "C" void tensor_cv_free(tensor_cv_net *n)
{
    delete n;
}

static int dtype_of(int depth)
{
    switch (depth) {
    case CV_32F:
        return FUNK_ACCEL_DT_F32;
    case CV_64F:
        return FUNK_ACCEL_DT_F64;
    case CV_32S:
        return FUNK_ACCEL_DT_I32;
    case CV_8U:
        return FUNK_ACCEL_DT_U8;
    case CV_8S:
        return FUNK_ACCEL_DT_I8;
    case CV_16S:
        return FUNK_ACCEL_DT_I16;
    case CV_16F:
        return FUNK_ACCEL_DT_F16;
    default:
        return 0;
    }
}

extern "C" int tensor_cv_run(tensor_cv_net *n, const funk_accel_tensor *in, size_t n_in,
                             const char *const *names, size_t n_out, tensor_cv_emit_fn emit,
                             void *ctx, char *err, size_t err_len)
{
    try {
        // The names asked for, resolved once while a caller keeps asking for the same ones.
        bool same = n->want.size() == n_out;
        for (size_t i = 0; same && i < n_out; i++)
            same = names[i] && names[i][0] ? n->want[i] == names[i]
                                           : i < n->outputs.size() && n->want[i] == n->outputs[i];
        if (!same) {
            n->want.clear();
            for (size_t i = 0; i < n_out; i++) {
                if (names[i] && names[i][0])
                    n->want.emplace_back(names[i]);
                else if (i < n->outputs.size())
                    n->want.push_back(n->outputs[i]);
                else {
                    n->want.clear();
                    set_err(err, err_len, "more outputs asked for than the model has");
                    return -EINVAL;
                }
            }
        }
        std::vector<cv::String> &want = n->want;
        for (size_t i = 0; i < n_in; i++) {
            // A view of the caller's data: setInput copies it into the net.
            int dims[FUNK_ACCEL_TENSOR_MAX_RANK];
            int rank = (int)in[i].rank;
            for (int d = 0; d < rank; d++)
                dims[d] = (int)in[i].shape[d];
            if (rank == 0) { // a scalar is one element
                dims[0] = 1;
                rank = 1;
            }
            cv::Mat m(rank, dims, CV_32F, in[i].data);
            n->net.setInput(m, in[i].name ? cv::String(in[i].name) : cv::String());
        }
        std::vector<cv::Mat> &outs = n->outs;
        n->net.forward(outs, want);
        if (outs.size() != n_out) {
            set_err(err, err_len, "OpenCV returned another number of outputs");
            return -EBADMSG;
        }
        int rc = 0;
        for (size_t i = 0; i < n_out; i++) {
            cv::Mat &m = outs[i];
            int dt = dtype_of(m.depth());
            if (dt == 0 || !m.isContinuous() || m.channels() != 1 ||
                m.dims > (int)FUNK_ACCEL_TENSOR_MAX_RANK) {
                set_err(err, err_len, "an output OpenCV gives in a form funk has no dtype for");
                return -EBADMSG;
            }
            int64_t shape[FUNK_ACCEL_TENSOR_MAX_RANK];
            for (int d = 0; d < m.dims; d++)
                shape[d] = m.size[d];
            int erc = emit(ctx, i, (uint32_t)dt, (uint32_t)m.dims, shape, m.data,
                           m.total() * m.elemSize());
            if (erc < 0 && (rc == 0 || rc == -ENOSPC))
                rc = erc;
        }
        return rc;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const std::exception &e) {
        set_err(err, err_len, e.what());
        return -EBADMSG;
    }
}
