#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the model-run tests' ONNX model (no download): y = x @ W + B, z = relu(y), x [2,4] f32,
# W[i][j] = 0.1 (3i + j) - 0.5, B[j] = 0.25 j - 0.3 (test_tensor.c computes the reference).
# With --mlp: the benchmark's bigger model, x [1,256] -> relu(x W1 + B1) W2 + B2 = y [1,256],
# W[i][j] = ((7i + 3j) % 17 - 8) / 64, B[j] = (j % 5 - 2) / 8 (make_torchscript's "mlp" too).
import sys

try:
    import onnx
    from onnx import TensorProto, helper
except ImportError:
    print("SKIP: python3-onnx is missing (scripts/deps.sh installs it)")
    sys.exit(77)

def mlp_graph():
    n = 256
    w = [((7 * i + 3 * j) % 17 - 8) / 64.0 for i in range(n) for j in range(n)]
    b = [(j % 5 - 2) / 8.0 for j in range(n)]
    return helper.make_graph(
        [helper.make_node("MatMul", ["x", "W1"], ["h0"]), helper.make_node("Add", ["h0", "B1"], ["h1"]),
         helper.make_node("Relu", ["h1"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["y0"]),
         helper.make_node("Add", ["y0", "B2"], ["y"])],
        "funk_tensor_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        initializer=[helper.make_tensor("W1", TensorProto.FLOAT, [n, n], w),
                     helper.make_tensor("B1", TensorProto.FLOAT, [n], b),
                     helper.make_tensor("W2", TensorProto.FLOAT, [n, n], w),
                     helper.make_tensor("B2", TensorProto.FLOAT, [n], b)])


def test_graph():
    W = [0.1 * (3 * i + j) - 0.5 for i in range(4) for j in range(3)]
    B = [0.25 * j - 0.3 for j in range(3)]
    return helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["y"]),
         helper.make_node("Relu", ["y"], ["z"])],
        "funk_tensor_test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])],
        initializer=[helper.make_tensor("W", TensorProto.FLOAT, [4, 3], W),
                     helper.make_tensor("B", TensorProto.FLOAT, [3], B)])


graph = mlp_graph() if "--mlp" in sys.argv[2:] else test_graph()
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
model.ir_version = 6
onnx.checker.check_model(model)
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
