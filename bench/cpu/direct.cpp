// SPDX-License-Identifier: Apache-2.0
// Baseline for bench/cpu: CenterNet classification, MoveNet pose and selfie segmentation with
// plain OpenCV DNN calls, no funk layers.
// The image is decoded by the same libjpeg/libpng code the plugin uses (accel/plugins/cpu/
// image.c): the comparison measures funk's layers, not two different JPEG decoders.
#include "direct.h"

extern "C" {
#include "image.h"
}

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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

static cv::dnn::Net *pose_net, *seg_net;

extern "C" int direct_vision_init(const char *movenet_path, const char *selfie_path, int threads)
{
    try {
        cv::setNumThreads(threads);
        pose_net = new cv::dnn::Net(cv::dnn::readNetFromONNX(movenet_path));
        seg_net = new cv::dnn::Net(cv::dnn::readNetFromONNX(selfie_path));
        for (cv::dnn::Net *n : {pose_net, seg_net}) {
            n->setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
            n->setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        }
        return 0;
    } catch (const cv::Exception &) {
        return -1;
    }
}

extern "C" int direct_pose(const void *image, size_t len, float kp[17 * 3])
{
    image_rgb rgb;
    if (image_decode(image, len, &rgb) < 0)
        return -1;
    const int S = 192, G = 48;
    cv::Mat img(rgb.h, rgb.w, CV_8UC3, rgb.rgb);
    float s = (float)S / (float)std::max(rgb.w, rgb.h);
    int nw = std::max(1, (int)std::lround(rgb.w * s)),
        nh = std::max(1, (int)std::lround(rgb.h * s));
    int ox = (S - nw) / 2, oy = (S - nh) / 2;
    cv::Mat canvas(S, S, CV_8UC3, cv::Scalar(0, 0, 0));
    cv::resize(img, canvas(cv::Rect(ox, oy, nw, nh)), cv::Size(nw, nh), 0, 0, cv::INTER_AREA);
    int iw = rgb.w, ih = rgb.h;
    image_free(&rgb);
    cv::Mat blob = cv::dnn::blobFromImage(canvas, 1 / 127.5, cv::Size(S, S),
                                          cv::Scalar(127.5, 127.5, 127.5), false, false, CV_32F);
    pose_net->setInput(blob);
    pose_net->forward(outs, std::vector<cv::String>{"heatmap", "center", "regress", "offset"});
    const float *heat = outs[0].ptr<float>(), *center = outs[1].ptr<float>();
    const float *reg = outs[2].ptr<float>(), *off = outs[3].ptr<float>();
    const size_t plane = (size_t)G * G;
    size_t best = std::max_element(center, center + plane) - center;
    int cy = (int)(best / G), cx = (int)(best % G);
    for (int k = 0; k < 17; k++) {
        float ry = cy + reg[(2 * k) * plane + best], rx = cx + reg[(2 * k + 1) * plane + best];
        const float *h = heat + k * plane;
        size_t pick = 0;
        float pv = -1;
        for (int y = 0; y < G; y++)
            for (int x = 0; x < G; x++) {
                float v =
                    h[y * G + x] / (std::sqrt((y - ry) * (y - ry) + (x - rx) * (x - rx)) + 1.8f);
                if (v > pv) {
                    pv = v;
                    pick = (size_t)y * G + x;
                }
            }
        float ky = (pick / G + off[(2 * k) * plane + pick]) / G * S;
        float kx = (pick % G + off[(2 * k + 1) * plane + pick]) / G * S;
        kp[3 * k] = std::clamp((kx - ox) / s / iw, 0.0f, 1.0f);
        kp[3 * k + 1] = std::clamp((ky - oy) / s / ih, 0.0f, 1.0f);
        kp[3 * k + 2] = h[pick];
    }
    return 17;
}

extern "C" int direct_segment(const void *image, size_t len, unsigned char *mask, size_t cap,
                              int *w, int *h)
{
    image_rgb rgb;
    if (image_decode(image, len, &rgb) < 0)
        return -1;
    cv::Mat img(rgb.h, rgb.w, CV_8UC3, rgb.rgb);
    cv::Mat blob = cv::dnn::blobFromImage(img, 1 / 255.0, cv::Size(256, 256), cv::Scalar(), false,
                                          false, CV_32F);
    *w = rgb.w;
    *h = rgb.h;
    image_free(&rgb);
    if ((size_t)*w * *h > cap)
        return -1;
    seg_net->setInput(blob);
    seg_net->forward(outs, std::vector<cv::String>{"mask"});
    cv::Mat prob(outs[0].size[2], outs[0].size[3], CV_32F, outs[0].ptr<float>());
    cv::Mat big, out(*h, *w, CV_8U, mask);
    cv::resize(prob, big, cv::Size(*w, *h), 0, 0, cv::INTER_LINEAR);
    big.convertTo(out, CV_8U, 255.0);
    return 0;
}

extern "C" void direct_vision_fini(void)
{
    outs.clear();
    delete pose_net;
    delete seg_net;
    pose_net = seg_net = nullptr;
}
