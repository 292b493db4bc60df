// SPDX-License-Identifier: Apache-2.0
// Writes the model-run tests' TorchScript model with libtorch alone (no python3-torch, no
// download): forward(x) = (x @ W + B, relu(x @ W + B)), the weights of make_onnx.py.
#include <torch/script.h>

#include <cstdio>
#include <exception>

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT.pt\n", argv[0]);
        return 64;
    }
    try {
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
