// SPDX-License-Identifier: Apache-2.0
// Test helper: renders text with OpenCV putText and encodes it as PNG (C interface in textimg.h).
#include "textimg.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

extern "C" int textimg_png(const char *text, int w, int h, int rotate180, unsigned char **png,
                           size_t *len)
{
    return textimg_encode(text, w, h, rotate180, ".png", 0, png, len);
}

extern "C" int textimg_encode(const char *text, int w, int h, int rotate180, const char *ext,
                              int gray, unsigned char **png, size_t *len)
{
    try {
        cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
        int base = 0;
        double scale = h / 40.0;
        cv::Size sz = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 2, &base);
        cv::Point org((w - sz.width) / 2, (h + sz.height) / 2);
        cv::putText(img, text, org, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 2,
                    cv::LINE_AA);
        if (rotate180)
            cv::rotate(img, img, cv::ROTATE_180);
        if (gray)
            cv::cvtColor(img, img, cv::COLOR_BGR2GRAY);
        std::vector<unsigned char> buf;
        if (!cv::imencode(ext, img, buf))
            return -EIO;
        *png = static_cast<unsigned char *>(malloc(buf.size()));
        if (!*png)
            return -ENOMEM;
        memcpy(*png, buf.data(), buf.size());
        *len = buf.size();
        return 0;
    } catch (const cv::Exception &) {
        return -EIO;
    }
}
