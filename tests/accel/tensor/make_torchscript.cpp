// SPDX-License-Identifier: Apache-2.0
// Writes the model-run tests' TorchScript model with libtorch alone (no python3-torch, no
// download): forward(x) = (x @ W + B, relu(x @ W + B)), the weights of make_onnx.py; with a
// second argument "mlp" the benchmark's bigger model (make_onnx.py --mlp's function).
#include <torch/script.h>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 3 && std::string(argv[2]) == "mlp")) {
        std::fprintf(stderr, "usage: %s OUT.pt [mlp]\n", argv[0]);
        return 64;
    }
    try {
        if (argc == 3) {
            const int n = 256;
            torch::jit::Module m("FunkTensorMlp");
            torch::Tensor w = torch::empty({n, n}, torch::kFloat32);
            torch::Tensor b = torch::empty({n}, torch::kFloat32);
            float *wp = w.data_ptr<float>(), *bp = b.data_ptr<float>();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    wp[i * n + j] = (float)((7 * i + 3 * j) % 17 - 8) / 64.0f;
            for (int j = 0; j < n; j++)
                bp[j] = (float)(j % 5 - 2) / 8.0f;
            m.register_parameter("W", w, false);
            m.register_parameter("B", b, false);
            m.define(R"(
def forward(self, x):
    h = torch.relu(torch.matmul(x, self.W) + self.B)
    return torch.matmul(h, self.W) + self.B
)");
            m.save(argv[1]);
            return 0;
        }
        torch::jit::Module m("FunkTensorTest");
        torch::Tensor w = torch::empty({4, 3}, torch::kFloat32);
        torch::Tensor b = torch::empty({3}, torch::kFloat32);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                w[i][j] = 0.1 * (3 * i + j) - 0.5;
        for (int j = 0; j < 3; j++)
            b[j] = 0.25 * j - 0.3;
        m.register_parameter("W", w, false);
        m.register_parameter("B", b, false);
        m.define(R"(
def forward(self, x):
    y = torch.matmul(x, self.W) + self.B
    return (y, torch.relu(y))
)");
        m.save(argv[1]);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "make_torchscript: %s\n", e.what());
        return 1;
    }
    return 0;
}
