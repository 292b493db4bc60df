// SPDX-License-Identifier: Apache-2.0
// C++ shim over OpenCV DNN: the only C++ in accel_dnn; no exception crosses into C.
#include "dnn_cv.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

struct dnn_cv_blob {
    cv::Mat mat;
};

struct dnn_cv_net {
    cv::dnn::Net net;
    std::vector<cv::Mat> outs;
    std::vector<cv::String> all_names;
};

static void set_err(char *err, size_t len, const char *what)
{
    if (err && len)
        snprintf(err, len, "%s", what);
}

extern "C" int dnn_cv_blob_from_rgb(const unsigned char *rgb, int w, int h, const dnn_cv_pre *pre,
                                    dnn_cv_blob **out)
{
    dnn_cv_blob *b = nullptr;
    try {
        cv::Mat img(h, w, CV_8UC3, const_cast<unsigned char *>(rgb));
        bool swap = pre->rgb == 0; // pixels are R,G,B; a BGR net wants them swapped
        bool uniform = pre->scale[0] == pre->scale[1] && pre->scale[1] == pre->scale[2];
        b = new dnn_cv_blob;
        if (uniform && pre->scale[0] != 0.0f) {
            // blobFromImage computes (p - m) * s; ours is p * s - mean, so m = mean / s.
            double s = pre->scale[0];
            cv::Scalar m(pre->mean[0] / s, pre->mean[1] / s, pre->mean[2] / s);
            b->mat =
                cv::dnn::blobFromImage(img, s, cv::Size(pre->w, pre->h), m, swap, false, CV_32F);
        } else {
            b->mat = cv::dnn::blobFromImage(img, 1.0, cv::Size(pre->w, pre->h), cv::Scalar(), swap,
                                            false, CV_32F);
            for (int c = 0; c < 3; c++) {
                cv::Mat plane(pre->h, pre->w, CV_32F, b->mat.ptr<float>(0, c));
                plane.convertTo(plane, CV_32F, pre->scale[c], -pre->mean[c]);
            }
        }
        *out = b;
        return 0;
    } catch (const std::bad_alloc &) {
        delete b;
        return -ENOMEM;
    } catch (const cv::Exception &) {
        delete b;
        return -EBADMSG;
    } catch (const std::exception &) { // e.g. length_error: nothing may unwind into C
        delete b;
        return -EIO;
    }
}

extern "C" void dnn_cv_blob_free(dnn_cv_blob *b)
{
    delete b;
}

extern "C" int dnn_cv_net_load(dnn_cv_net **out, const void *data, size_t len, dnn_target target,
                               char *err, size_t err_len)
{
    dnn_cv_net *n = nullptr;
    try {
        n = new dnn_cv_net;
        n->net = cv::dnn::readNetFromONNX(static_cast<const char *>(data), len);
        if (n->net.empty()) {
            set_err(err, err_len, "OpenCV read an empty network");
            delete n;
            return -EBADMSG;
        }
        n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        n->net.setPreferableTarget(target == DNN_TARGET_OPENCL ? cv::dnn::DNN_TARGET_OPENCL
                                                               : cv::dnn::DNN_TARGET_CPU);
        n->all_names = n->net.getUnconnectedOutLayersNames();
        *out = n;
        return 0;
    } catch (const std::bad_alloc &) {
        delete n;
        return -ENOMEM;
    } catch (const cv::Exception &e) {
        set_err(err, err_len, e.err.c_str());
        delete n;
        return -EBADMSG;
    } catch (const std::exception &e) {
        set_err(err, err_len, e.what());
        delete n;
        return -EBADMSG;
    }
}

extern "C" void dnn_cv_net_free(dnn_cv_net *n)
{
    delete n;
}

extern "C" int dnn_cv_net_has_output(const dnn_cv_net *n, const char *name)
{
    for (const cv::String &s : n->all_names)
        if (s == name)
            return 1;
    return 0;
}

extern "C" int dnn_cv_forward(dnn_cv_net *n, dnn_cv_blob *blob, const char *const *names,
                              size_t n_names, dnn_cv_tensor *out, size_t n_out, char *err,
                              size_t err_len)
{
    try {
        std::vector<cv::String> want;
        if (names && n_names) {
            for (size_t i = 0; i < n_names; i++)
                want.emplace_back(names[i]);
        } else {
            want = n->all_names;
        }
        if (want.size() > n_out) {
            set_err(err, err_len, "more outputs than tensors given");
            return -EINVAL;
        }
        n->net.setInput(blob->mat);
        n->net.forward(n->outs, want);
        for (size_t i = 0; i < n->outs.size(); i++) {
            cv::Mat &m = n->outs[i];
            if (m.type() != CV_32F || !m.isContinuous() || m.dims > 4) {
                set_err(err, err_len, "output is not a continuous float tensor of rank <= 4");
                return -EBADMSG;
            }
            out[i].data = m.ptr<float>();
            out[i].dims = m.dims;
            out[i].count = m.total();
            for (int d = 0; d < 4; d++)
                out[i].shape[d] = d < m.dims ? m.size[d] : 1;
        }
        return (int)n->outs.size();
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const cv::Exception &e) {
        set_err(err, err_len, e.err.c_str());
        return -EBADMSG;
    } catch (const std::exception &e) {
        set_err(err, err_len, e.what());
        return -EIO;
    }
}

extern "C" void dnn_cv_set_threads(int threads)
{
    cv::setNumThreads(threads);
}
