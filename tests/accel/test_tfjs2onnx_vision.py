#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tools/models/tfjs2onnx.py on small synthetic graphs for what the pose and segmentation models
# need: AvgPool, AddN, Conv2DBackpropInput, rank-3 constants and --input-node; and refusals.
import base64
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print("*** SKIP: python3-onnx / python3-numpy missing (%s) ***" % e, file=sys.stderr)
    sys.exit(77)

SRC = os.environ.get("FUNK_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
CONV = os.path.join(SRC, "tools", "models", "tfjs2onnx.py")
failures = 0


def check(cond, what):
    global failures
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures += 1


def b64(s):
    return base64.b64encode(s.encode()).decode()


def ints(*v):
    return {"list": {"i": [str(x) for x in v]}}


def placeholder(name, h, w, c=3, dtype="DT_FLOAT"):
    return {"name": name, "op": "Placeholder",
            "attr": {"dtype": {"type": dtype},
                     "shape": {"shape": {"dim": [{"size": "1"}, {"size": str(h)},
                                                 {"size": str(w)}, {"size": str(c)}]}}}}


def const(name):
    return {"name": name, "op": "Const", "attr": {}}


def write_model(d, nodes, weights):
    """weights: (name, array): float32 stored as float16, int32 as is."""
    manifest, blob = [], b""
    for name, arr in weights:
        if arr.dtype == np.float32:
            manifest.append({"name": name, "shape": list(arr.shape), "dtype": "float32",
                             "quantization": {"dtype": "float16", "original_dtype": "float32"}})
            blob += arr.astype(np.float16).tobytes()
        else:
            manifest.append({"name": name, "shape": list(arr.shape), "dtype": "int32"})
            blob += arr.astype(np.int32).tobytes()
    path = os.path.join(d, "model.json")
    with open(path, "w") as f:
        json.dump({"format": "graph-model", "modelTopology": {"node": nodes},
                   "weightsManifest": [{"paths": ["w.bin"], "weights": manifest}]}, f)
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(blob)
    return path


def run(*args):
    return subprocess.run([sys.executable, CONV] + list(args), capture_output=True, text=True)


def f16(a):
    return a.astype(np.float16).astype(np.float32)


def segmenter_like(d, rng, pool_pad="VALID", out_size=8):
    """x[8x8x3] -> conv 1x1 -> AvgPool 8 (global) and AvgPool 2 -> AddN -> ConvTranspose x2."""
    w = rng.standard_normal((1, 1, 3, 4)).astype(np.float32)
    f = rng.standard_normal((2, 2, 1, 4)).astype(np.float32)  # kh, kw, out, in
    nodes = [
        placeholder("x", 8, 8), const("w"), const("f"), const("sizes"),
        {"name": "c", "op": "Conv2D", "input": ["x", "w"],
         "attr": {"strides": ints(1, 1, 1, 1), "padding": {"s": b64("SAME")},
                  "data_format": {"s": b64("NHWC")}}},
        {"name": "g", "op": "AvgPool", "input": ["c"],
         "attr": {"ksize": ints(1, 8, 8, 1), "strides": ints(1, 8, 8, 1),
                  "padding": {"s": b64(pool_pad)}, "data_format": {"s": b64("NHWC")}}},
        {"name": "p", "op": "AvgPool", "input": ["c"],
         "attr": {"ksize": ints(1, 2, 2, 1), "strides": ints(1, 2, 2, 1),
                  "padding": {"s": b64(pool_pad)}, "data_format": {"s": b64("NHWC")}}},
        {"name": "s", "op": "AddN", "input": ["p", "g", "p"], "attr": {"N": {"i": "3"}}},
        {"name": "up", "op": "Conv2DBackpropInput", "input": ["sizes", "f", "s"],
         "attr": {"strides": ints(1, 2, 2, 1), "padding": {"s": b64("SAME")},
                  "data_format": {"s": b64("NHWC")}}},
        {"name": "y", "op": "Sigmoid", "input": ["up"]},
    ]
    weights = [("w", w), ("f", f), ("sizes", np.array([1, out_size, out_size, 1], np.int32))]
    return write_model(d, nodes, weights), f


def main():
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as d:
        mj, f = segmenter_like(d, rng)
        out = os.path.join(d, "seg.onnx")
        r = run("convert", mj, out, "--output", "y=mask")
        check(r.returncode == 0, "segmenter-like graph converts (%s)" % r.stderr.strip())
        if r.returncode == 0:
            m = onnx.load(out)
            onnx.checker.check_model(m)
            ops = [n.op_type for n in m.graph.node]
            check("GlobalAveragePool" in ops, "AvgPool over the whole map -> GlobalAveragePool")
            pools = [n for n in m.graph.node if n.op_type == "AveragePool"]
            k = [list(a.ints) for a in pools[0].attribute if a.name == "kernel_shape"] if pools else []
            check(k == [[2, 2]], "AvgPool 2x2 -> AveragePool kernel 2x2: %s" % k)
            check(ops.count("Add") == 2, "AddN of three -> two Add: %s" % ops.count("Add"))
            ct = [n for n in m.graph.node if n.op_type == "ConvTranspose"]
            check(len(ct) == 1, "Conv2DBackpropInput -> ConvTranspose")
            if ct:
                attrs = {a.name: list(a.ints) for a in ct[0].attribute}
                check(attrs.get("strides") == [2, 2] and attrs.get("pads") == [0, 0, 0, 0],
                      "ConvTranspose strides 2, SAME k=2 s=2 needs no pads: %s" % attrs)
                inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
                wt = inits[ct[0].input[1]]
                check(wt.shape == (4, 1, 2, 2) and np.allclose(wt, f16(f).transpose(3, 2, 0, 1)),
                      "filter HW(out)(in) -> (in)(out)HW: %s" % (wt.shape,))
            odims = [x.dim_value for x in m.graph.output[0].type.tensor_type.shape.dim]
            check(odims == [1, 1, 8, 8], "output [1,1,8,8]: %s" % odims)

        # refusals
        d2 = os.path.join(d, "bad")
        os.mkdir(d2)
        mj, _ = segmenter_like(d2, rng, out_size=9)
        r = run("convert", mj, os.path.join(d2, "x.onnx"), "--output", "y")
        check(r.returncode != 0 and "does not match" in r.stderr,
              "transposed conv to a size its input cannot give is refused: %s" % r.stderr.strip())
        mj, _ = segmenter_like(d2, rng, pool_pad="SAME")
        r = run("convert", mj, os.path.join(d2, "x.onnx"), "--output", "y")
        check(r.returncode != 0 and "AvgPool" in r.stderr,
              "AvgPool with SAME padding is refused: %s" % r.stderr.strip())

        # --input-node: an int32 placeholder + Cast + normalisation head is cut off
        d3 = os.path.join(d, "pose")
        os.mkdir(d3)
        w = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
        b = rng.standard_normal(2).astype(np.float32)
        hw = rng.standard_normal((4, 4, 1)).astype(np.float32)
        nodes = [
            placeholder("img", 8, 8, dtype="DT_INT32"), const("w"), const("b"), const("k"),
            const("hw"),
            {"name": "cast", "op": "Cast", "input": ["img"]},
            {"name": "norm", "op": "Mul", "input": ["cast", "k"]},
            {"name": "c", "op": "_FusedConv2D", "input": ["norm", "w", "b"],
             "attr": {"strides": ints(1, 2, 2, 1), "padding": {"s": b64("SAME")},
                      "data_format": {"s": b64("NHWC")}, "dilations": ints(1, 1, 1, 1),
                      "fused_ops": {"list": {"s": [b64("BiasAdd")]}}}},
            {"name": "weighted", "op": "Mul", "input": ["c", "hw"]},
        ]
        mj = write_model(d3, nodes, [("w", w), ("b", b), ("k", np.array(0.5, np.float32)),
                                     ("hw", hw)])
        r = run("convert", mj, os.path.join(d3, "p.onnx"), "--output", "weighted")
        check(r.returncode != 0, "without --input-node the Cast head is refused")
        r = run("convert", mj, os.path.join(d3, "p.onnx"), "--output", "weighted",
                "--input-node", "norm")
        check(r.returncode != 0 and "--input-size" in r.stderr,
              "--input-node without --input-size is refused: %s" % r.stderr.strip())
        r = run("convert", mj, os.path.join(d3, "p.onnx"), "--output", "weighted",
                "--input-node", "norm", "--input-size", "8x8")
        check(r.returncode == 0, "--input-node norm --input-size 8x8 converts (%s)" % r.stderr.strip())
        if r.returncode == 0:
            m = onnx.load(os.path.join(d3, "p.onnx"))
            onnx.checker.check_model(m)
            ops = [n.op_type for n in m.graph.node]
            dims = [x.dim_value for x in m.graph.input[0].type.tensor_type.shape.dim]
            check(dims == [1, 3, 8, 8] and "Cast" not in ops,
                  "network starts at norm: input %s, ops %s" % (dims, ops))
            inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
            mul = [n for n in m.graph.node if n.op_type == "Mul"][0]
            c = [inits[i] for i in mul.input if i in inits][0]
            check(c.shape == (1, 4, 4) and np.allclose(c, f16(hw).transpose(2, 0, 1)),
                  "rank-3 HWC constant -> CHW: %s" % (c.shape,))
    print("all converter checks passed" if not failures else "%d check(s) failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
