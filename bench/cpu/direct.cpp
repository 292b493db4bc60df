// SPDX-License-Identifier: Apache-2.0
// Baseline for bench/cpu: CenterNet classification with plain OpenCV DNN calls, no funk layers.
// The image is decoded by the same libjpeg/libpng code the plugin uses (accel/plugins/cpu/
// image.c): the comparison measures funk's layers, not two different JPEG decoders.
#include "direct.h"

extern "C" {
#include "image.h"
}

#include <algorithm>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>

static cv::dnn::Net *net;
static std::vector<cv::Mat> outs; // reused across calls, as the plugin does

extern "C" int direct_init(const char *onnx_path, int threads)
{
    try {
        cv::setNumThreads(threads);
        net = new cv::dnn::Net(cv::dnn::readNetFromONNX(onnx_path));
        net->setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net->setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return 0;
    } catch (const cv::Exception &) {
        return -1;
    }
}

extern "C" int direct_classify(const void *image, size_t len, direct_label *out, int k)
{
    image_rgb rgb;
    if (image_decode(image, len, &rgb) < 0)
        return -1;
    cv::Mat img(rgb.h, rgb.w, CV_8UC3, rgb.rgb);
    // Pixels are already R,G,B, as the network wants: no channel swap (the plugin's path).
    cv::Mat blob =
        cv::dnn::blobFromImage(img, 1.0, cv::Size(512, 512), cv::Scalar(), false, false, CV_32F);
    image_free(&rgb);
    net->setInput(blob);
    net->forward(outs, std::vector<cv::String>{"keypoints", "wh"});
    const cv::Mat &kp = outs[0];
    int classes = kp.size[1];
    size_t plane = (size_t)kp.size[2] * kp.size[3];
    std::vector<direct_label> s(classes);
    for (int c = 0; c < classes; c++) {
        const float *p = kp.ptr<float>() + c * plane;
        float best = p[0];
        for (size_t i = 1; i < plane; i++)
            best = p[i] > best ? p[i] : best;
        s[c] = {c, best};
    }
    std::sort(s.begin(), s.end(),
              [](const direct_label &a, const direct_label &b) { return a.score > b.score; });
    int n = std::min(k, classes);
    std::copy(s.begin(), s.begin() + n, out);
    return n;
}

extern "C" void direct_fini(void)
{
    outs.clear();
    delete net;
    net = nullptr;
}
