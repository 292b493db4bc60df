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
#include <memory>
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

static std::vector<float> out_a, out_b; // what each side produced last (checked equal)

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
    if (out_a != out_b) {
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

// One model: its input (rows x cols f32) and its outputs' element counts; outputs are taken by
// name (ONNX) or position (TorchScript) on both sides.
struct bench_model {
    const char *what;
    std::string bytes;
    const char *path;
    int64_t rows, cols;
    std::vector<const char *> outs; // names (ONNX) or nullptr (TorchScript, by position)
    std::vector<size_t> counts;
};

static funk_accel_session *sess;

static funk_accel_resource *register_model(const bench_model &m)
{
    funk_accel_resource *r = nullptr;
    int rc =
        funk_accel_resource_new_buffer(&r, FUNK_ACCEL_RES_MODEL, m.bytes.data(), m.bytes.size());
    if (rc == 0)
        rc = funk_accel_session_register(sess, r);
    if (rc < 0) {
        std::fprintf(stderr, "bench_tensor: %s: %s\n", m.what, funk_accel_strerror(rc));
        std::exit(1);
    }
    funk_accel_resource_release(r); // the session keeps it
    return r;
}

static std::function<int()> plugin_call(const bench_model &m, std::vector<float> &x)
{
    funk_accel_resource *r = register_model(m);
    auto bufs = std::make_shared<std::vector<std::vector<float>>>();
    for (size_t c : m.counts)
        bufs->emplace_back(c);
    return [&m, &x, r, bufs]() {
        int64_t shape[2] = {m.rows, m.cols};
        funk_accel_tensor in, out[4];
        funk_accel_tensor_init(&in, "x", FUNK_ACCEL_DT_F32, 2, shape, x.data(),
                               x.size() * sizeof(float));
        for (size_t i = 0; i < m.outs.size(); i++)
            funk_accel_tensor_init(&out[i], m.outs[i], 0, 0, nullptr, (*bufs)[i].data(),
                                   (*bufs)[i].size() * sizeof(float));
        int rc = funk_accel_model_run(sess, r, &in, 1, out, m.outs.size());
        out_a = (*bufs)[0];
        return rc;
    };
}

static std::function<int()> direct_onnx(const bench_model &m, std::vector<float> &x)
{
    auto net =
        std::make_shared<cv::dnn::Net>(cv::dnn::readNetFromONNX(m.bytes.data(), m.bytes.size()));
    net->setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net->setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    auto names = std::make_shared<std::vector<cv::String>>(m.outs.begin(), m.outs.end());
    auto bufs = std::make_shared<std::vector<std::vector<float>>>();
    for (size_t c : m.counts)
        bufs->emplace_back(c);
    return [&m, &x, net, names, bufs]() {
        int dims[2] = {(int)m.rows, (int)m.cols};
        net->setInput(cv::Mat(2, dims, CV_32F, x.data()), "x");
        std::vector<cv::Mat> outs;
        net->forward(outs, *names);
        for (size_t i = 0; i < outs.size(); i++)
            std::memcpy((*bufs)[i].data(), outs[i].ptr<float>(), (*bufs)[i].size() * sizeof(float));
        out_b = (*bufs)[0];
        return 0;
    };
}

#ifdef BENCH_TORCH
static std::function<int()> direct_torch(const bench_model &m, std::vector<float> &x)
{
    auto mod = std::make_shared<torch::jit::Module>(torch::jit::load(m.path, torch::kCPU));
    mod->eval();
    auto bufs = std::make_shared<std::vector<std::vector<float>>>();
    for (size_t c : m.counts)
        bufs->emplace_back(c);
    return [&m, &x, mod, bufs]() {
        c10::InferenceMode guard;
        std::vector<c10::IValue> args{
            torch::from_blob(x.data(), {m.rows, m.cols}, torch::kFloat32)};
        c10::IValue r = mod->forward(std::move(args));
        for (size_t i = 0; i < bufs->size(); i++) {
            torch::Tensor t =
                (r.isTuple() ? r.toTupleRef().elements()[i].toTensor() : r.toTensor()).contiguous();
            std::memcpy((*bufs)[i].data(), t.data_ptr(), (*bufs)[i].size() * sizeof(float));
        }
        out_b = (*bufs)[0];
        return 0;
    };
}
#endif

static std::string slurp(const char *path)
{
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        std::fprintf(stderr, "usage: %s N MODEL.onnx MLP.onnx [MODEL.pt MLP.pt]\n", argv[0]);
        return 64;
    }
    long n = std::max(10L, std::atol(argv[1]));
    bool torch = argc == 6;
    int rc = funk_accel_init(torch ? "cpu:torch" : "cpu");
    if (rc == 0)
        rc = funk_accel_session_new(&sess);
    if (rc < 0) {
        std::fprintf(stderr, "bench_tensor: set-up: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    std::vector<float> x_small = {1.0f, -2.0f, 3.0f, 0.5f, -1.0f, 0.25f, 2.0f, -3.0f};
    std::vector<float> x_mlp(256);
    for (size_t i = 0; i < x_mlp.size(); i++)
        x_mlp[i] = (float)((int)(i % 11) - 5) / 4.0f;
    std::vector<bench_model> models = {
        {"ONNX 2x4 (cpu / OpenCV DNN)", slurp(argv[2]), argv[2], 2, 4, {"y", "z"}, {6, 6}},
        {"ONNX MLP 256 (cpu / OpenCV DNN)", slurp(argv[3]), argv[3], 1, 256, {"y"}, {256}},
    };
    if (torch) {
        models.push_back({"TorchScript 2x4 (torch / libtorch)",
                          slurp(argv[4]),
                          argv[4],
                          2,
                          4,
                          {nullptr, nullptr},
                          {6, 6}});
        models.push_back({"TorchScript MLP 256 (torch / libtorch)",
                          slurp(argv[5]),
                          argv[5],
                          1,
                          256,
                          {nullptr},
                          {256}});
    }
    std::printf("%-46s %8s %9s %9s %9s\n", "model run (us/call)", "N", "min", "median", "p99");
    bool ok = true;
    for (const bench_model &m : models) {
        bool is_torch = m.outs[0] == nullptr;
        std::vector<float> &x = m.cols == 4 ? x_small : x_mlp;
        std::function<int()> direct;
#ifdef BENCH_TORCH
        direct = is_torch ? direct_torch(m, x) : direct_onnx(m, x);
#else
        direct = direct_onnx(m, x);
        (void)is_torch;
#endif
        ok = compare(m.what, m.cols == 4 ? n : n / 4, plugin_call(m, x), direct) && ok;
    }
    funk_accel_session_delete(sess);
    return ok ? 0 : 1;
}
