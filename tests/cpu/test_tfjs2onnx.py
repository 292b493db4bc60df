#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Tests tools/models/tfjs2onnx.py on small synthetic TF.js graphs: layout, padding, errors.
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
    import base64
    return base64.b64encode(s.encode()).decode()


def const(name, shape, dtype="DT_FLOAT"):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}}}


def conv(name, inp, w, b, stride, pad="SAME", act=None, depthwise=False):
    fused = ["BiasAdd"] + ([act] if act else [])
    return {"name": name, "op": "FusedDepthwiseConv2dNative" if depthwise else "_FusedConv2D",
            "input": [inp, w, b],
            "attr": {"strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
                     "padding": {"s": b64(pad)}, "data_format": {"s": b64("NHWC")},
                     "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
                     "fused_ops": {"list": {"s": [b64(f) for f in fused]}}}}


def write_model(d, nodes, weights):
    """weights: list of (name, np array float32 or int32); float32 stored as float16."""
    manifest, blob = [], b""
    for name, arr in weights:
        if arr.dtype == np.float32:
            manifest.append({"name": name, "shape": list(arr.shape), "dtype": "float32",
                             "quantization": {"dtype": "float16", "original_dtype": "float32"}})
            blob += arr.astype(np.float16).tobytes()
        else:
            manifest.append({"name": name, "shape": list(arr.shape), "dtype": "int32"})
            blob += arr.astype(np.int32).tobytes()
    model = {"format": "graph-model", "modelTopology": {"node": nodes},
             "weightsManifest": [{"paths": ["w.bin"], "weights": manifest}]}
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(model, f)
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(blob)
    return os.path.join(d, "model.json")


def run(*args):
    return subprocess.run([sys.executable, CONV] + list(args), capture_output=True, text=True)


def main():
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d:
        placeholder = {"name": "x", "op": "Placeholder",
                       "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "8"},
                                                            {"size": "8"}, {"size": "3"}]}}}}
        w1 = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
        b1 = rng.standard_normal(4).astype(np.float32)
        dw = rng.standard_normal((3, 3, 4, 1)).astype(np.float32)
        db = rng.standard_normal(4).astype(np.float32)
        nodes = [
            placeholder,
            const("w1", w1.shape), const("b1", b1.shape), const("dw", dw.shape), const("db", db.shape),
            const("axes", (2,), "DT_INT32"), const("size", (2,), "DT_INT32"),
            const("cat_axis", (), "DT_INT32"),
            conv("c1", "x", "w1", "b1", 2, act="Relu"),               # 8x8 -> 4x4, pads 0/1
            conv("dw1", "c1", "dw", "db", 1, depthwise=True),
            {"name": "r6", "op": "Relu6", "input": ["dw1"]},
            {"name": "up", "op": "ResizeBilinear", "input": ["r6", "size"],
             "attr": {"align_corners": {"b": False}, "half_pixel_centers": {"b": False}}},
            {"name": "mean", "op": "Mean", "input": ["up", "axes"], "attr": {"keep_dims": {"b": True}}},
            {"name": "scaled", "op": "Mul", "input": ["up", "mean"]},
            {"name": "cat", "op": "ConcatV2", "input": ["scaled", "up", "cat_axis"]},
            {"name": "out", "op": "Identity", "input": ["cat"]},
            {"name": "unused", "op": "TopKV2", "input": ["out"]},  # pruned: not an output dep
        ]
        weights = [("w1", w1), ("b1", b1), ("dw", dw), ("db", db),
                   ("axes", np.array([1, 2], np.int32)), ("size", np.array([8, 8], np.int32)),
                   ("cat_axis", np.array(3, np.int32))]
        mj = write_model(d, nodes, weights)
        out = os.path.join(d, "m.onnx")
        r = run("convert", mj, out, "--output", "out=y")
        check(r.returncode == 0, "convert succeeds (%s)" % r.stderr.strip())
        if r.returncode != 0:
            return
        m = onnx.load(out)
        onnx.checker.check_model(m)
        ops = [n.op_type for n in m.graph.node]
        dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
        check(dims == [1, 3, 8, 8], "input is NCHW [1,3,8,8]: %s" % dims)
        odims = [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
        check(odims == [1, 8, 8, 8], "output shape NCHW [1,8,8,8] (concat on channels): %s" % odims)
        check("Clip" not in ops, "Relu6 written without Clip")
        check("TopK" not in ops and "Transpose" not in ops, "no TopK (pruned), no Transpose")
        check("GlobalAveragePool" in ops, "Mean over H,W -> GlobalAveragePool")
        convs = [n for n in m.graph.node if n.op_type == "Conv"]
        pads = [list(a.ints) for a in convs[0].attribute if a.name == "pads"][0]
        check(pads == [0, 0, 1, 1], "stride-2 SAME on even input pads after only: %s" % pads)
        group = [a.i for a in convs[1].attribute if a.name == "group"][0]
        check(group == 4, "depthwise conv has group = channels")
        inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
        wconv = inits[convs[0].input[1]]
        check(wconv.shape == (4, 3, 3, 3) and
              np.allclose(wconv, w1.astype(np.float16).astype(np.float32).transpose(3, 2, 0, 1)),
              "conv weights HWIO -> OIHW, fp16 dequantised")
        resize = [n for n in m.graph.node if n.op_type == "Resize"][0]
        ctm = [a.s.decode() for a in resize.attribute if a.name == "coordinate_transformation_mode"]
        check(ctm == ["asymmetric"], "Resize carries coordinate_transformation_mode")

        # errors: an unsupported op on the output path, short weights, missing input
        nodes_bad = nodes[:-2] + [{"name": "bad", "op": "Erf", "input": ["cat"]}]
        mj2 = write_model(d, nodes_bad, weights)
        r = run("convert", mj2, out, "--output", "bad")
        check(r.returncode == 1 and "op Erf" in r.stderr, "unsupported op named: %s" % r.stderr.strip())
        with open(os.path.join(d, "w.bin"), "r+b") as f:
            f.truncate(10)
        r = run("convert", mj2, out, "--output", "out")
        check(r.returncode == 1 and "too short" in r.stderr, "short weights: %s" % r.stderr.strip())
        r = run("convert", os.path.join(d, "nope.json"), out, "--output", "out")
        check(r.returncode == 1 and "error" in r.stderr, "missing model file: %s" % r.stderr.strip())
        with open(os.path.join(d, "junk.onnx"), "wb") as f:
            f.write(b"\x08\x07garbage")
        r = run("check", os.path.join(d, "junk.onnx"))
        check(r.returncode != 0, "check rejects a corrupt ONNX file")

        # labels-ts: ordered table, and a gap is refused
        ts = os.path.join(d, "labels.ts")
        with open(ts, "w") as f:
            f.write("export const labels = [\n  { class: 1, label: 'person' },\n"
                    "  { class: 2, label: 'traffic light' },\n];\n")
        r = run("labels-ts", ts, os.path.join(d, "l.txt"))
        with open(os.path.join(d, "l.txt")) as f:
            check(r.returncode == 0 and f.read() == "person\ntraffic light\n", "labels-ts")
        with open(ts, "w") as f:
            f.write("{ class: 1, label: 'a' }, { class: 3, label: 'c' }")
        r = run("labels-ts", ts, os.path.join(d, "l2.txt"))
        check(r.returncode == 1 and "not numbered" in r.stderr, "labels-ts refuses a gap")


if __name__ == "__main__":
    main()
    print("%d failure(s)" % failures)
    sys.exit(1 if failures else 0)
