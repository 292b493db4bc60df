// SPDX-License-Identifier: Apache-2.0
// C++ shim for vision.c: the segmentation mask resized with OpenCV (SIMD), no exception into C.
#include "vision_cv.h"

#include <cerrno>
#include <exception>
#include <new>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

extern "C" int vision_cv_mask_to_bytes(const float *prob, int gw, int gh, unsigned char *out,
                                       int w, int h)
{
    try {
        cv::Mat src(gh, gw, CV_32F, const_cast<float *>(prob));
        cv::Mat dst(h, w, CV_8U, out); // writes straight into the caller's buffer
        if (gw == w && gh == h) {
            src.convertTo(dst, CV_8U, 255.0); // saturating, rounded
        } else {
            cv::Mat big;
            cv::resize(src, big, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
            big.convertTo(dst, CV_8U, 255.0);
        }
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const std::exception &) { // cv::Exception included
        return -EIO;
    }
}
