// SPDX-License-Identifier: Apache-2.0
// Benchmark: funk_accel_model_run (cpu plugin for ONNX, torch plugin for TorchScript) vs the same
// framework called directly on the same model in the same process, interleaved call by call:
// N, min/median/p99 in microseconds and the ratio of medians. Both sides do the same work: bind
// the caller's input, forward, copy the outputs into the caller's buffers.
#include <funk/accel.h>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#ifdef BENCH_TORCH
#include <torch/script.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

static double now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct stats {
    double min, median, p99;
};

static stats summarize(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t p99 = (size_t)((double)(v.size() - 1) * 0.99 + 0.5);
    return {v[0] / 1e3, v[v.size() / 2] / 1e3, v[p99] / 1e3};
}

static const float X[8] = {1.0f, -2.0f, 3.0f, 0.5f, -1.0f, 0.25f, 2.0f, -3.0f};
static float out_a[6], out_b[6];

// Interleaved: each iteration times one call of each, in alternating order.
static bool compare(const char *what, long n, const std::function<int()> &plugin,
                    const std::function<int()> &direct)
{
    std::vector<double> tp, td;
    for (long i = 0; i < n / 10 + 10; i++) // warm-up: nets built, caches filled
        if (plugin() != 0 || direct() != 0) {
            std::fprintf(stderr, "bench_tensor: %s: a warm-up call failed\n", what);
            return false;
        }
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            bool p = (k == 0) == (i % 2 == 0);
            double t0 = now_ns();
            int rc = p ? plugin() : direct();
            double t = now_ns() - t0;
            if (rc != 0) {
                std::fprintf(stderr, "bench_tensor: %s: a call failed (%d)\n", what, rc);
                return false;
            }
            (p ? tp : td).push_back(t);
        }
    }
    if (std::memcmp(out_a, out_b, sizeof(out_a)) != 0) {
        std::fprintf(stderr, "bench_tensor: %s: plugin and direct outputs differ\n", what);
        return false;
    }
    stats a = summarize(tp), b = summarize(td);
    std::printf("%-46s %8ld %9.2f %9.2f %9.2f\n", (std::string(what) + " via funk plugin").c_str(),
                n, a.min, a.median, a.p99);
    std::printf("%-46s %8ld %9.2f %9.2f %9.2f\n", (std::string(what) + " framework direct").c_str(),
                n, b.min, b.median, b.p99);
    std::printf("%-46s %8s %9s %9.3f %9s   (%+.2f us/call)\n",
                (std::string(what) + " ratio plugin/direct").c_str(), "", "", a.median / b.median,
                "", a.median - b.median);
    return true;
}

static std::string slurp(const char *path)
{
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL.onnx N [MODEL.pt]\n", argv[0]);
        return 64;
    }
    long n = std::atol(argv[2]);
    if (n < 10)
        n = 10;
    std::string onnx = slurp(argv[1]);
    bool torch = argc > 3;
    int rc = funk_accel_init(torch ? "cpu:torch" : "cpu");
    funk_accel_session *s = nullptr;
    funk_accel_resource *m_onnx = nullptr;
    if (rc == 0)
        rc = funk_accel_session_new(&s);
    if (rc == 0)
        rc = funk_accel_resource_new_buffer(&m_onnx, FUNK_ACCEL_RES_MODEL, onnx.data(), onnx.size());
    if (rc == 0)
        rc = funk_accel_session_register(s, m_onnx);
    if (rc < 0) {
        std::fprintf(stderr, "bench_tensor: set-up: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    int64_t shape[2] = {2, 4};
    funk_accel_tensor in;
    funk_accel_tensor_init(&in, "x", FUNK_ACCEL_DT_F32, 2, shape, (void *)X, sizeof(X));
    std::printf("%-46s %8s %9s %9s %9s\n", "model run (us/call)", "N", "min", "median", "p99");

    // ONNX: the cpu plugin vs OpenCV DNN on a net of the same bytes, same outputs asked for.
    cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx.data(), onnx.size());
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    std::vector<cv::String> names = {"y", "z"};
    auto plugin_onnx = [&]() {
        funk_accel_tensor out[2];
        static float y[6], z[6];
        funk_accel_tensor_init(&out[0], "y", 0, 0, nullptr, y, sizeof(y));
        funk_accel_tensor_init(&out[1], "z", 0, 0, nullptr, z, sizeof(z));
        int r = funk_accel_model_run(s, m_onnx, &in, 1, out, 2);
        std::memcpy(out_a, y, sizeof(y));
        return r;
    };
    auto direct_onnx = [&]() {
        int dims[2] = {2, 4};
        cv::Mat x(2, dims, CV_32F, (void *)X);
        net.setInput(x, "x");
        std::vector<cv::Mat> outs;
        net.forward(outs, names);
        static float y[6], z[6];
        std::memcpy(y, outs[0].ptr<float>(), sizeof(y));
        std::memcpy(z, outs[1].ptr<float>(), sizeof(z));
        std::memcpy(out_b, y, sizeof(y));
        return 0;
    };
    bool ok = compare("ONNX 2x4 (cpu plugin / OpenCV DNN)", n, plugin_onnx, direct_onnx);

#ifdef BENCH_TORCH
    if (torch) {
        std::string pt = slurp(argv[3]);
        funk_accel_resource *m_pt = nullptr;
        rc = funk_accel_resource_new_buffer(&m_pt, FUNK_ACCEL_RES_MODEL, pt.data(), pt.size());
        if (rc == 0)
            rc = funk_accel_session_register(s, m_pt);
        if (rc < 0) {
            std::fprintf(stderr, "bench_tensor: TorchScript resource: %s\n",
                         funk_accel_strerror(rc));
            return 1;
        }
        torch::jit::Module mod = torch::jit::load(argv[3], torch::kCPU);
        mod.eval();
        auto plugin_pt = [&]() {
            funk_accel_tensor out[2];
            static float y[6], z[6];
            funk_accel_tensor_init(&out[0], nullptr, 0, 0, nullptr, y, sizeof(y));
            funk_accel_tensor_init(&out[1], nullptr, 0, 0, nullptr, z, sizeof(z));
            int r = funk_accel_model_run(s, m_pt, &in, 1, out, 2);
            std::memcpy(out_a, y, sizeof(y));
            return r;
        };
        auto direct_pt = [&]() {
            c10::InferenceMode guard;
            std::vector<c10::IValue> args{torch::from_blob((void *)X, {2, 4}, torch::kFloat32)};
            auto r = mod.forward(args).toTupleRef().elements();
            static float y[6], z[6];
            torch::Tensor ty = r[0].toTensor().contiguous(), tz = r[1].toTensor().contiguous();
            std::memcpy(y, ty.data_ptr(), sizeof(y));
            std::memcpy(z, tz.data_ptr(), sizeof(z));
            std::memcpy(out_b, y, sizeof(y));
            return 0;
        };
        ok = compare("TorchScript 2x4 (torch plugin / libtorch)", n, plugin_pt, direct_pt) && ok;
    }
#endif
    funk_accel_session_delete(s);
    funk_accel_resource_release(m_onnx);
    return ok ? 0 : 1;
}
