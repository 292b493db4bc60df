#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Converts a TF.js graph-model (model.json + weight shards) into an ONNX model that OpenCV 4.6 DNN runs.
"""Our own TF.js graph-model -> ONNX converter, for the CenterNet-MobileNetV3 detector, the
MoveNet Lightning pose model and the MediaPipe selfie segmentation model.

Usage:
  tfjs2onnx.py convert MODEL.json OUT.onnx --output NAME[=ONNXNAME] ... [--input-size WxH]
                       [--input-node NAME]
  tfjs2onnx.py fix-input IN.onnx OUT.onnx N,C,H,W
  tfjs2onnx.py labels-ts LABELS.ts OUT.txt
  tfjs2onnx.py check OUT.onnx

Why a converter of our own: Debian has no tf2onnx, and OpenCV 4.6 DNN only reads a subset of
ONNX. The converter therefore
  * works backwards from the requested outputs, so the TF post-processing tail of the graph
    (TopK, Gather, FloorMod ...) that OpenCV cannot run is dropped; decoding happens in C;
  * re-lays the whole network out as NCHW (the input becomes [1,3,H,W], RGB, 0..255), so no
    Transpose nodes are needed and the C side feeds a blobFromImage() blob as is;
  * expands TF's SAME padding into explicit (possibly asymmetric) pads from static shapes;
  * writes Relu6 as Relu(x) - Relu(x - 6) (OpenCV 4.6 lacks opset-11 Clip with min/max inputs);
  * writes ResizeBilinear as Resize(linear, asymmetric / align_corners / half_pixel);
  * writes Mean over H,W with keep_dims as GlobalAveragePool, AvgPool as AveragePool, AddN as
    a chain of Add, Conv2DBackpropInput as ConvTranspose;
  * with --input-node, starts the network at an inner NHWC tensor (e.g. after the graph's own
    Cast/normalisation, which then happens in C), which becomes the [1,3,H,W] input.
Weights stored as float16 (or uint8/uint16 affine-quantized) are dequantized to float32.
"""
import argparse
import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 11


class ConvertError(Exception):
    pass


def _b64(attr):
    return base64.b64decode(attr["s"]).decode() if "s" in attr else ""


def _ints(attr):
    return [int(v) for v in attr.get("list", {}).get("i", [])]


def load_weights(model_json, base_dir):
    """Reads every weight of every manifest group, in order, from the concatenated shards."""
    weights = {}
    for group in model_json.get("weightsManifest", []):
        blob = b""
        for p in group["paths"]:
            path = os.path.join(base_dir, p)
            with open(path, "rb") as f:
                blob += f.read()
        off = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qdt = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}.get(q["dtype"])
                if qdt is None:
                    raise ConvertError("weight %s: unsupported quantization %s" % (w["name"], q["dtype"]))
                nbytes = count * np.dtype(qdt).itemsize
                if off + nbytes > len(blob):
                    raise ConvertError("weights file too short for %s" % w["name"])
                raw = np.frombuffer(blob, dtype=qdt, count=count, offset=off)
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:
                    arr = raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            else:
                dt = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}.get(w["dtype"])
                if dt is None:
                    raise ConvertError("weight %s: unsupported dtype %s" % (w["name"], w["dtype"]))
                nbytes = count * np.dtype(dt).itemsize
                if off + nbytes > len(blob):
                    raise ConvertError("weights file too short for %s" % w["name"])
                arr = np.frombuffer(blob, dtype=dt, count=count, offset=off).copy()
            off += nbytes
            weights[w["name"]] = arr.reshape(shape)
        if off != len(blob):
            raise ConvertError("weights: %d bytes read but the shards hold %d" % (off, len(blob)))
    return weights


class Converter:
    def __init__(self, model_json, weights, in_w, in_h, input_node=None):
        self.input_node = input_node
        self.nodes = {n["name"]: n for n in model_json["modelTopology"]["node"]}
        self.weights = weights
        self.onnx_nodes = []
        self.inits = []
        self.done = {}   # TF tensor name -> (onnx name, NCHW shape) for activations
        self.in_w, self.in_h = in_w, in_h
        self.input_name = None
        self.uid = 0

    # ---- helpers ------------------------------------------------------------------------
    def fresh(self, base):
        self.uid += 1
        return "%s__%d" % (base, self.uid)

    def const(self, name, arr):
        n = self.fresh(name)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    def const_value(self, tf_name):
        tf_name = tf_name.split(":")[0]
        node = self.nodes.get(tf_name)
        if node is None or node["op"] != "Const":
            return None
        if tf_name not in self.weights:
            raise ConvertError("constant %s has no weights" % tf_name)
        return self.weights[tf_name]

    def emit(self, op, inputs, out, **attrs):
        self.onnx_nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    @staticmethod
    def same_pads(size, k, s, d=1):
        ek = (k - 1) * d + 1
        out = (size + s - 1) // s
        total = max((out - 1) * s + ek - size, 0)
        return total // 2, total - total // 2, out

    # ---- conversion -------------------------------------------------------------------------
    def value(self, tf_name):
        """Returns (onnx name, NCHW shape) of a TF activation, converting what it depends on."""
        tf_name = tf_name.split(":")[0] if tf_name.endswith(":0") else tf_name
        if tf_name in self.done:
            return self.done[tf_name]
        if ":" in tf_name:
            raise ConvertError("multi-output tensor %s is not supported" % tf_name)
        node = self.nodes.get(tf_name)
        if node is None:
            raise ConvertError("graph has no node %s" % tf_name)
        if tf_name == self.input_node:
            res = self.inner_input(node)
            self.done[tf_name] = res
            return res
        fn = getattr(self, "op_" + node["op"], None)
        if fn is None:
            raise ConvertError("op %s (node %s) is not supported" % (node["op"], tf_name))
        res = fn(node)
        self.done[tf_name] = res
        return res

    def op_Placeholder(self, node):
        dims = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
        if len(dims) != 4 or dims[3] != 3:
            raise ConvertError("input %s: expected NHWC with 3 channels, got %s" % (node["name"], dims))
        h = self.in_h or dims[1]
        w = self.in_w or dims[2]
        if h <= 0 or w <= 0:
            raise ConvertError("input %s has a dynamic size: pass --input-size" % node["name"])
        self.input_name = "input"
        self.input_shape = [1, 3, h, w]
        return self.input_name, self.input_shape

    def inner_input(self, node):
        if not self.in_w or not self.in_h:
            raise ConvertError("--input-node %s needs --input-size" % node["name"])
        self.input_name = "input"
        self.input_shape = [1, 3, self.in_h, self.in_w]
        return self.input_name, self.input_shape

    def op_Identity(self, node):
        return self.value(node["input"][0])

    def _conv(self, node, depthwise):
        a = node["attr"]
        if _b64(a.get("data_format", {"s": ""})) not in ("", "NHWC"):
            raise ConvertError("%s: only NHWC convolutions are supported" % node["name"])
        x, shp = self.value(node["input"][0])
        w = self.const_value(node["input"][1])
        if w is None:
            raise ConvertError("%s: weights must be constant" % node["name"])
        kh, kw = w.shape[0], w.shape[1]
        strides = _ints(a["strides"])[1:3]
        dil = _ints(a["dilations"])[1:3] if "dilations" in a else [1, 1]
        if dil != [1, 1] and strides != [1, 1]:
            raise ConvertError("%s: dilation with stride is not supported" % node["name"])
        if depthwise:
            cin, mult = w.shape[2], w.shape[3]
            weight = w.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            group, cout = cin, cin * mult
        else:
            weight = w.transpose(3, 2, 0, 1)
            group, cout = 1, w.shape[3]
        pad = _b64(a["padding"])
        if pad == "SAME":
            t, b, oh = self.same_pads(shp[2], kh, strides[0], dil[0])
            l, r, ow = self.same_pads(shp[3], kw, strides[1], dil[1])
        elif pad == "VALID":
            t = b = l = r = 0
            oh = (shp[2] - ((kh - 1) * dil[0] + 1)) // strides[0] + 1
            ow = (shp[3] - ((kw - 1) * dil[1] + 1)) // strides[1] + 1
        else:
            raise ConvertError("%s: padding %s is not supported" % (node["name"], pad))
        inputs = [x, self.const(node["name"] + "/W", weight.astype(np.float32))]
        fused = [base64.b64decode(s).decode() for s in a.get("fused_ops", {}).get("list", {}).get("s", [])]
        extra = node["input"][2:]
        if fused:
            if fused[0] != "BiasAdd" or len(extra) != 1:
                raise ConvertError("%s: fused ops %s not supported" % (node["name"], fused))
            bias = self.const_value(extra[0])
            inputs.append(self.const(node["name"] + "/B", bias.astype(np.float32).reshape(cout)))
        out = self.fresh(node["name"])
        self.emit("Conv", inputs, out, kernel_shape=[kh, kw], strides=strides, dilations=dil,
                  pads=[t, l, b, r], group=group)
        oshape = [shp[0], cout, oh, ow]
        for f in fused[1:]:
            if f == "Relu":
                out = self.emit("Relu", [out], self.fresh(node["name"] + "/relu"))
            elif f == "Relu6":
                out = self.relu6(out, node["name"])
            else:
                raise ConvertError("%s: fused activation %s not supported" % (node["name"], f))
        return out, oshape

    def op__FusedConv2D(self, node):
        return self._conv(node, False)

    def op_Conv2D(self, node):
        return self._conv(node, False)

    def op_FusedDepthwiseConv2dNative(self, node):
        return self._conv(node, True)

    def op_DepthwiseConv2dNative(self, node):
        return self._conv(node, True)

    def relu6(self, x, base):
        # relu6(x) = relu(x) - relu(x - 6): two ops OpenCV 4.6 reads in any opset.
        r1 = self.emit("Relu", [x], self.fresh(base + "/relu6a"))
        shifted = self.emit("Sub", [x, self.const(base + "/six", np.array(6.0, np.float32))],
                            self.fresh(base + "/relu6s"))
        r2 = self.emit("Relu", [shifted], self.fresh(base + "/relu6b"))
        return self.emit("Sub", [r1, r2], self.fresh(base + "/relu6"))

    def op_Relu6(self, node):
        x, shp = self.value(node["input"][0])
        return self.relu6(x, node["name"]), shp

    def _unary(self, node, op):
        x, shp = self.value(node["input"][0])
        return self.emit(op, [x], self.fresh(node["name"])), shp

    def op_Relu(self, node):
        return self._unary(node, "Relu")

    def op_Sigmoid(self, node):
        return self._unary(node, "Sigmoid")

    def _binary(self, node, op):
        ins, shapes = [], []
        for name in node["input"][:2]:
            c = self.const_value(name)
            if c is None:
                x, shp = self.value(name)
                ins.append(x)
                shapes.append(shp)
                continue
            c = c.astype(np.float32)
            if c.ndim == 1 and c.size > 1:  # per-channel (last axis in NHWC) -> [C,1,1]
                c = c.reshape(c.size, 1, 1)
            elif c.ndim == 4:
                c = c.transpose(0, 3, 1, 2)
            elif c.ndim == 3:  # HWC -> CHW
                c = c.transpose(2, 0, 1)
            elif c.ndim > 1:
                raise ConvertError("%s: constant of rank %d not supported" % (node["name"], c.ndim))
            ins.append(self.const(node["name"] + "/c", c))
        if not shapes:
            raise ConvertError("%s: both operands constant" % node["name"])
        shp = [max(d) for d in zip(*shapes)] if len(shapes) == 2 else shapes[0]
        return self.emit(op, ins, self.fresh(node["name"])), shp

    def op_Add(self, node):
        return self._binary(node, "Add")

    def op_AddV2(self, node):
        return self._binary(node, "Add")

    def op_Sub(self, node):
        return self._binary(node, "Sub")

    def op_Mul(self, node):
        return self._binary(node, "Mul")

    def op_Mean(self, node):
        x, shp = self.value(node["input"][0])
        axes = sorted(int(v) for v in np.atleast_1d(self.const_value(node["input"][1])))
        keep = node["attr"].get("keep_dims", {}).get("b", False)
        if axes != [1, 2] or not keep:
            raise ConvertError("%s: only Mean over H,W with keep_dims is supported" % node["name"])
        return self.emit("GlobalAveragePool", [x], self.fresh(node["name"])), [shp[0], shp[1], 1, 1]

    def op_AvgPool(self, node):
        a = node["attr"]
        if _b64(a.get("data_format", {"s": ""})) not in ("", "NHWC") or _b64(a["padding"]) != "VALID":
            raise ConvertError("%s: only NHWC AvgPool with VALID padding is supported" % node["name"])
        x, shp = self.value(node["input"][0])
        k, st = _ints(a["ksize"])[1:3], _ints(a["strides"])[1:3]
        oh = (shp[2] - k[0]) // st[0] + 1
        ow = (shp[3] - k[1]) // st[1] + 1
        if oh <= 0 or ow <= 0:
            raise ConvertError("%s: pool window larger than its input" % node["name"])
        if k == shp[2:4]:
            out = self.emit("GlobalAveragePool", [x], self.fresh(node["name"]))
        else:
            out = self.emit("AveragePool", [x], self.fresh(node["name"]), kernel_shape=k, strides=st)
        return out, [shp[0], shp[1], oh, ow]

    def op_AddN(self, node):
        vals = [self.value(n) for n in node["input"]]
        out, shp = vals[0]
        for v in vals[1:]:
            out = self.emit("Add", [out, v[0]], self.fresh(node["name"]))
            shp = [max(d) for d in zip(shp, v[1])]
        return out, shp

    def op_Conv2DBackpropInput(self, node):
        a = node["attr"]
        if _b64(a.get("data_format", {"s": ""})) not in ("", "NHWC"):
            raise ConvertError("%s: only NHWC transposed convolutions are supported" % node["name"])
        sizes = self.const_value(node["input"][0])
        w = self.const_value(node["input"][1])
        if sizes is None or w is None:
            raise ConvertError("%s: output size and filter must be constant" % node["name"])
        x, shp = self.value(node["input"][2])
        kh, kw, cout, cin = w.shape
        if cin != shp[1]:
            raise ConvertError("%s: filter expects %d channels, input has %d" % (node["name"], cin, shp[1]))
        st = _ints(a["strides"])[1:3]
        oh, ow = int(sizes[1]), int(sizes[2])
        # The forward convolution this inverts maps (oh, ow) -> (ih, iw); its padding is ours.
        pad = _b64(a["padding"])
        if pad == "SAME":
            t, b, ih = self.same_pads(oh, kh, st[0])
            l, r, iw = self.same_pads(ow, kw, st[1])
        elif pad == "VALID":
            t = b = l = r = 0
            ih, iw = (oh - kh) // st[0] + 1, (ow - kw) // st[1] + 1
        else:
            raise ConvertError("%s: padding %s is not supported" % (node["name"], pad))
        if [ih, iw] != shp[2:4]:
            raise ConvertError("%s: input %s does not match output size %s" % (node["name"], shp, [oh, ow]))
        extra_h = oh - ((shp[2] - 1) * st[0] + kh - t - b)
        extra_w = ow - ((shp[3] - 1) * st[1] + kw - l - r)
        if extra_h or extra_w:
            raise ConvertError("%s: output padding is not supported" % node["name"])
        weight = w.transpose(3, 2, 0, 1).astype(np.float32)  # [cin, cout, kh, kw]
        out = self.emit("ConvTranspose", [x, self.const(node["name"] + "/W", weight)],
                        self.fresh(node["name"]), kernel_shape=[kh, kw], strides=st,
                        pads=[t, l, b, r])
        return out, [shp[0], cout, oh, ow]

    def op_ConcatV2(self, node):
        axis = int(self.const_value(node["input"][-1]))
        if axis < 0:
            axis += 4
        nchw_axis = {0: 0, 1: 2, 2: 3, 3: 1}[axis]
        vals = [self.value(n) for n in node["input"][:-1]]
        shp = list(vals[0][1])
        shp[nchw_axis] = sum(v[1][nchw_axis] for v in vals)
        return self.emit("Concat", [v[0] for v in vals], self.fresh(node["name"]), axis=nchw_axis), shp

    def op_ResizeBilinear(self, node):
        x, shp = self.value(node["input"][0])
        size = [int(v) for v in self.const_value(node["input"][1])]
        a = node["attr"]
        if a.get("align_corners", {}).get("b", False):
            mode = "align_corners"
        elif a.get("half_pixel_centers", {}).get("b", False):
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        if size[0] % shp[2] or size[1] % shp[3]:
            raise ConvertError("%s: only integer scale factors are supported" % node["name"])
        scales = np.array([1, 1, size[0] / shp[2], size[1] / shp[3]], np.float32)
        roi = self.const(node["name"] + "/roi", np.array([], np.float32))
        out = self.emit("Resize", [x, roi, self.const(node["name"] + "/scales", scales)],
                        self.fresh(node["name"]), mode="linear",
                        coordinate_transformation_mode=mode)
        return out, [shp[0], shp[1], size[0], size[1]]

    def build(self, outputs):
        outs = []
        for tf_name, onnx_name in outputs:
            x, shp = self.value(tf_name)
            self.emit("Identity", [x], onnx_name)
            outs.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, shp))
        if self.input_name is None:
            raise ConvertError("the requested outputs do not depend on a Placeholder")
        inp = helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, self.input_shape)
        graph = helper.make_graph(self.onnx_nodes, "funk_converted", [inp], outs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="funk-tfjs2onnx")
        model.ir_version = 7
        onnx.checker.check_model(model)
        return model


def write_atomic(model, path):
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def cmd_convert(args):
    with open(args.model) as f:
        mj = json.load(f)
    if mj.get("format") not in ("graph-model", None):
        raise ConvertError("%s: format %r is not a TF.js graph-model" % (args.model, mj.get("format")))
    weights = load_weights(mj, os.path.dirname(os.path.abspath(args.model)))
    w = h = 0
    if args.input_size:
        w, h = (int(v) for v in args.input_size.lower().split("x"))
    conv = Converter(mj, weights, w, h, args.input_node)
    outs = []
    for spec in args.output:
        tf_name, _, onnx_name = spec.partition("=")
        outs.append((tf_name, onnx_name or tf_name.split("/")[-1]))
    model = conv.build(outs)
    write_atomic(model, args.out)
    print("tfjs2onnx: %s -> %s (%d nodes, %d weights, input %s)" %
          (args.model, args.out, len(model.graph.node), len(model.graph.initializer), conv.input_shape))


def cmd_fix_input(args):
    model = onnx.load(args.model)
    dims = [int(v) for v in args.shape.split(",")]
    init_names = {i.name for i in model.graph.initializer}
    real = [i for i in model.graph.input if i.name not in init_names]
    if len(real) != 1:
        raise ConvertError("%s: expected one input, found %d" % (args.model, len(real)))
    shape = real[0].type.tensor_type.shape
    if len(shape.dim) != len(dims):
        raise ConvertError("%s: input has rank %d, shape given has %d" % (args.model, len(shape.dim), len(dims)))
    for d, v in zip(shape.dim, dims):
        d.ClearField("dim_param")
        d.dim_value = v
    # Output batch dimension follows the input's.
    for o in model.graph.output:
        od = o.type.tensor_type.shape.dim
        if od and od[0].HasField("dim_param"):
            od[0].ClearField("dim_param")
            od[0].dim_value = dims[0]
    onnx.checker.check_model(model)
    write_atomic(model, args.out)
    print("tfjs2onnx: %s input %s fixed to %s -> %s" % (args.model, real[0].name, dims, args.out))


def cmd_labels_ts(args):
    """Extracts `label: '...'` entries of a TypeScript label table, in order, one per line."""
    import re
    with open(args.ts) as f:
        text = f.read()
    entries = re.findall(r"class:\s*(\d+)\s*,\s*label:\s*'([^']*)'", text)
    if not entries:
        raise ConvertError("%s: no label entries found" % args.ts)
    for i, (cls, _) in enumerate(entries):
        if int(cls) != i + 1:
            raise ConvertError("%s: labels are not numbered 1..N in order (entry %d)" % (args.ts, i))
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(lbl + "\n" for _, lbl in entries))
    os.replace(tmp, args.out)
    print("tfjs2onnx: %d labels -> %s" % (len(entries), args.out))


def cmd_check(args):
    model = onnx.load(args.model)
    onnx.checker.check_model(model)
    print("tfjs2onnx: %s ok (%d nodes)" % (args.model, len(model.graph.node)))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("model")
    c.add_argument("out")
    c.add_argument("--output", action="append", required=True,
                   help="TF tensor to export, optionally =ONNX_NAME (repeatable)")
    c.add_argument("--input-size", help="WxH when the model's input is dynamic")
    c.add_argument("--input-node", help="an inner NHWC tensor to start the network at (needs --input-size)")
    c.set_defaults(fn=cmd_convert)
    f = sub.add_parser("fix-input")
    f.add_argument("model")
    f.add_argument("out")
    f.add_argument("shape")
    f.set_defaults(fn=cmd_fix_input)
    lt = sub.add_parser("labels-ts")
    lt.add_argument("ts")
    lt.add_argument("out")
    lt.set_defaults(fn=cmd_labels_ts)
    ck = sub.add_parser("check")
    ck.add_argument("model")
    ck.set_defaults(fn=cmd_check)
    args = p.parse_args(argv)
    try:
        args.fn(args)
    except (ConvertError, OSError, ValueError, KeyError, onnx.checker.ValidationError) as e:
        print("tfjs2onnx: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
