#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the model-run tests' ONNX model (no download): y = x @ W + B, z = relu(y), x [2,4] f32,
# with the weights of tensor_ref.h (W[i][j] = 0.1 (3i + j) - 0.5, B[j] = 0.25 j - 0.3).
import sys

try:
    import onnx
    from onnx import TensorProto, helper
except ImportError:
    print("SKIP: python3-onnx is missing (scripts/deps.sh installs it)")
    sys.exit(77)

W = [0.1 * (3 * i + j) - 0.5 for i in range(4) for j in range(3)]
B = [0.25 * j - 0.3 for j in range(3)]
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["y"]),
     helper.make_node("Relu", ["y"], ["z"])],
    "funk_tensor_test",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
     helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])],
    initializer=[helper.make_tensor("W", TensorProto.FLOAT, [4, 3], W),
                 helper.make_tensor("B", TensorProto.FLOAT, [3], B)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
model.ir_version = 6
onnx.checker.check_model(model)
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
