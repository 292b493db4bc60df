# SPDX-License-Identifier: Apache-2.0
"""funk_accel: Python bindings for libfunk-accel (<funk/accel.h>).

    import funk_accel
    with funk_accel.Session() as s:
        for l in s.image_classify(open("dog.jpg", "rb").read()):
            print(l.label, l.score)

Sessions and resources are context managers. Every failing call raises funk_accel.Error, an
OSError whose errno is the library's code and whose strerror is funk_accel_strerror's text.
Arrays go in and out through the buffer protocol without a copy (numpy arrays, bytes,
bytearray, memoryview); an array of the wrong dtype, shape or layout raises TypeError or
ValueError before any C code sees it. docs/python.md is the manual.
"""
import os
import struct
from collections import namedtuple

import numpy as np

from . import _native
from ._native import (  # noqa: F401  (re-exported)
    API_VERSION,
    DT_BOOL,
    DT_F16,
    DT_F32,
    DT_F64,
    DT_I8,
    DT_I16,
    DT_I32,
    DT_I64,
    DT_U8,
    ARG_BYTES,
    ARG_F32,
    ARG_F32_ARRAY,
    ARG_F64,
    ARG_I32,
    ARG_I64,
    ARG_STRING,
    HASH_SIZE,
    LABEL_MAX,
    RES_DATA,
    RES_LIBRARY,
    RES_MODEL,
    Detection,
    Error,
    Label,
    fini,
    init,
    op_name,
    plugin_load,
    strerror,
    version,
)

__all__ = [
    "Arg", "Detection", "Error", "Label", "Plugin", "Resource", "Session", "fini", "init",
    "op_name", "plugin_load", "plugins", "strerror", "version",
]

# OP_NOOP, OP_EXEC, ... OP_MODEL_RUN: operation ids (bits of Plugin.ops), as the library names them.
globals().update({k: v for k, v in vars(_native).items() if k.startswith("OP_")})

Plugin = namedtuple("Plugin", "name version description priority ops path available")

# Tensor element types and the numpy dtypes they are.
DTYPES = {DT_F32: np.float32, DT_F64: np.float64, DT_I8: np.int8, DT_U8: np.uint8,
          DT_I16: np.int16, DT_I32: np.int32, DT_I64: np.int64, DT_BOOL: np.bool_,
          DT_F16: np.float16}


def _pairs(x, outputs=False):
    """[(name or None, value)] from {name: value}, a list of values or (name, value) pairs, or
    one value; among outputs a bare str is a name (the library allocates that output)."""
    if isinstance(x, dict):
        return list(x.items())
    if not isinstance(x, (list, tuple)):
        x = [x]
    pairs = []
    for v in x:
        if isinstance(v, tuple) and len(v) == 2 and (v[0] is None or isinstance(v[0], str)):
            pairs.append(v)
        elif outputs and isinstance(v, str):
            pairs.append((v, None))
        else:
            pairs.append((None, v))
    return pairs


def _tensor_out(dt, shape, used, owner, given):
    """One model_run result as a numpy array: the library's buffer wrapped without a copy, or a
    view of the caller's array with the dtype and shape the model produced."""
    if owner is not None:
        return np.asarray(owner)
    dtype = np.dtype(DTYPES[dt])
    flat = np.frombuffer(memoryview(given).cast("B"), dtype=dtype, count=used // dtype.itemsize)
    return flat.reshape(shape)


def plugins():
    """The loaded plugins (loading them from the environment on first use)."""
    return [Plugin(*t) for t in _native.plugins()]


_SCALARS = {ARG_I32: "=i", ARG_I64: "=q", ARG_F32: "=f", ARG_F64: "=d"}


class Arg:
    """A typed argument of exec() and op(): `type` (ARG_*), `data` (a buffer used in place) and,
    once a call returned, `used` (bytes the operation wrote into an output; on -ENOSPC the bytes
    it needed). Build one with the class methods; an output is an Arg whose buffer is writable
    (the constructors make writable ones)."""

    __slots__ = ("type", "data", "used")

    def __init__(self, type, data):
        self.type = type
        self.data = data
        self.used = None

    @classmethod
    def _scalar(cls, t, v):
        return cls(t, bytearray(struct.pack(_SCALARS[t], v)))

    @classmethod
    def i32(cls, v=0):
        return cls._scalar(ARG_I32, v)

    @classmethod
    def i64(cls, v=0):
        return cls._scalar(ARG_I64, v)

    @classmethod
    def f32(cls, v=0.0):
        return cls._scalar(ARG_F32, v)

    @classmethod
    def f64(cls, v=0.0):
        return cls._scalar(ARG_F64, v)

    @classmethod
    def string(cls, s):
        """A str (input, NUL added) or a capacity in bytes (output)."""
        if isinstance(s, int):
            return cls(ARG_STRING, bytearray(s))
        b = s.encode() if isinstance(s, str) else bytes(s)
        if b"\0" in b:
            raise ValueError("Arg.string: embedded NUL")
        return cls(ARG_STRING, bytearray(b + b"\0"))

    @classmethod
    def bytes(cls, b):
        """A buffer used in place, or a capacity in bytes (a zeroed output)."""
        return cls(ARG_BYTES, bytearray(b) if isinstance(b, int) else b)

    @classmethod
    def f32_array(cls, a):
        """A C-contiguous float32 array used in place, or a length (a zeroed output)."""
        if isinstance(a, int):
            return cls(ARG_F32_ARRAY, np.zeros(a, dtype=np.float32))
        if not isinstance(a, np.ndarray) or a.dtype != np.float32:
            raise TypeError("Arg.f32_array: expected a float32 numpy array")
        if not a.flags.c_contiguous:
            raise ValueError("Arg.f32_array: the array is not C-contiguous")
        return cls(ARG_F32_ARRAY, a)

    @property
    def value(self):
        """The content decoded by type: int/float, str (up to the NUL), bytes, or a float32 array
        (a view of the output, trimmed to what the operation wrote)."""
        mv = memoryview(self.data).cast("B")
        n = len(mv) if self.used is None else min(self.used, len(mv))
        if self.type in _SCALARS:
            return struct.unpack(_SCALARS[self.type], mv[: struct.calcsize(_SCALARS[self.type])])[0]
        if self.type == ARG_STRING:
            return bytes(mv[:n]).split(b"\0", 1)[0].decode("utf-8", "replace")
        if self.type == ARG_F32_ARRAY:
            return np.frombuffer(self.data, dtype=np.float32, count=n // 4)
        return bytes(mv[:n])

    def __repr__(self):
        return "Arg(type=%d, %d bytes, used=%r)" % (self.type, memoryview(self.data).nbytes, self.used)


def _arg(x):
    """A plain value as an Arg: str -> STRING, int -> I64, float -> F64, a float32 ndarray ->
    F32_ARRAY, any other buffer -> BYTES (in place)."""
    if isinstance(x, Arg):
        return x
    if isinstance(x, str):
        return Arg.string(x)
    if isinstance(x, bool):
        raise TypeError("a bool argument is ambiguous: use Arg.i32(int(v))")
    if isinstance(x, int):
        return Arg.i64(x)
    if isinstance(x, float):
        return Arg.f64(x)
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        return Arg(ARG_F32_ARRAY, x)
    return Arg(ARG_BYTES, x)


def _call(fn, inputs, outputs, *head):
    ins = [_arg(x) for x in inputs]
    outs = [_arg(x) for x in outputs]
    used = []
    try:
        return fn(*head, [(a.type, a.data) for a in ins], [(a.type, a.data) for a in outs], used)
    except Error as e:
        e.used = list(used)
        raise
    finally:
        for a, u in zip(outs, used):
            a.used = u


class Resource(_native.Resource):
    """A blob of content: Resource(RES_MODEL, path=...) or Resource(RES_DATA, data=buffer), with
    attributes given as keywords (attrs={"kind": "classifier", ...}). Released on close(), at the
    end of a with block, or when collected; a session it is registered to keeps its own reference.
    """

    def __init__(self, type, *, path=None, data=None, attrs=None):
        if path is not None:
            path = os.fspath(path)
        super().__init__(type, path=path, data=data)
        for k, v in (attrs or {}).items():
            self.set_attr(k, v)

    @classmethod
    def model(cls, path, **attrs):
        """A MODEL resource from a file, attributes as keywords (kind=, labels=, input=...)."""
        return cls(RES_MODEL, path=path, attrs=attrs)

    @classmethod
    def library(cls, path):
        """A LIBRARY resource for exec() (only the operator's installed libraries run)."""
        return cls(RES_LIBRARY, path=path)

    @classmethod
    def from_buffer(cls, data, type=RES_DATA, **attrs):
        """Any resource type from bytes in memory (copied once, into the library)."""
        return cls(type, data=data, attrs=attrs)


class Session(_native.Session):
    """A tenant's context. Operations: noop(), image_classify(), image_detect(), sgemm(),
    exec(), op(); register()/unregister() resources. A context manager: deleted on exit."""

    def register(self, *resources):
        for r in resources:
            super().register(r)

    def sgemm(self, a, b, c=None, alpha=1.0, beta=0.0):
        """C = alpha * A @ B + beta * C on float32 2-D arrays (rows contiguous; a slice of a
        wider matrix passes in place). C is written in place and returned (new when None)."""
        if c is None:
            ma, mb = memoryview(a), memoryview(b)
            if ma.ndim != 2 or mb.ndim != 2:
                raise ValueError("sgemm: a and b must be 2-D")
            c = np.zeros((ma.shape[0], mb.shape[1]), dtype=np.float32)
        return self.sgemm_into(a, b, c, alpha, beta)

    def exec(self, library, symbol, inputs=(), outputs=()):
        """Calls `symbol` of a registered LIBRARY resource with typed arguments (Arg, or plain
        values: see Arg); outputs are filled in place and their `used` set. Returns the
        callee's (non-negative) return value."""
        return _call(self.exec_args, inputs, outputs, library, symbol)

    def op(self, name, inputs=(), outputs=()):
        """A plugin's generic operation by name ("plugin.op" or "op"), arguments as for exec().
        Returns what the operation returns."""
        return _call(self.op_args, inputs, outputs, name)

    def model_run(self, model, inputs, outputs=1):
        """Runs a registered MODEL resource (ONNX, TorchScript) on tensors; returns a list of
        numpy arrays, one per output.
        inputs: an ndarray, a list of ndarrays (bound by position) or {name: ndarray}; each
          C-contiguous, of dtype float32/64, int8/16/32/64, uint8, bool or float16, used in place.
        outputs: a count (the model's first n outputs, allocated by the library and wrapped
          without a copy), a list of output names, a list of ndarrays to fill in place, or
          {name: ndarray or None}."""
        ins = _pairs(inputs)
        if isinstance(outputs, int) and not isinstance(outputs, bool):
            outs = [(None, None)] * outputs
        else:
            outs = _pairs(outputs, outputs=True)
        res = self.model_run_raw(model, ins, outs)
        return [_tensor_out(*r, given) for r, (_, given) in zip(res, outs)]

    def classify_file(self, path, model=None, max=5):
        """image_classify() of an image file."""
        with open(path, "rb") as f:
            return self.image_classify(f.read(), model, max)
