# SPDX-License-Identifier: Apache-2.0
"""funk_accel (the Python bindings) on every operation, natively (cpu:exec:noop) or through
funk-accel-agent (rpc), as tests/python/run.py sets up: results checked against what dog.jpg
contains and against numpy; errors as funk_accel.Error with errno and funk_accel_strerror's text;
hostile arguments (wrong dtypes, shapes, strides, sizes, read-only outputs) raise and never crash
(the extension runs under ASan in the sanitized tree)."""
import errno
import gc
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np

import funk_accel as fa
from funk_accel import Arg

DOG = "/usr/share/darknet/data/dog.jpg"
MODELS = os.environ.get("FUNK_MODEL_DIR", "")
MODE = os.environ.get("FUNK_PYTEST_MODE", "native")
EXEC_DIR = os.environ.get("FUNK_PYTEST_EXEC_DIR", "")
TLIB = os.path.join(EXEC_DIR, "tlib.so")


def dog_bytes():
    with open(DOG, "rb") as f:
        return f.read()


class Base(unittest.TestCase):
    def setUp(self):
        self.s = fa.Session()

    def tearDown(self):
        self.s.close()

    def assertFunkError(self, code, fn, *args, **kw):
        with self.assertRaises(fa.Error) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual(e.errno, code, e)
        self.assertEqual(e.strerror, fa.strerror(code))
        self.assertIsInstance(e, OSError)
        return e


class TestRuntime(Base):
    def test_version_and_plugins(self):
        self.assertEqual(fa.version() >> 16, fa.API_VERSION >> 16)
        names = [p.name for p in fa.plugins()]
        self.assertIn("rpc" if MODE == "agent" else "cpu", names)
        self.assertEqual(fa.op_name(fa.OP_IMAGE_CLASSIFY), "image_classify")
        self.assertEqual(fa.op_name(fa.OP_MODEL_RUN), "model_run")
        for p in fa.plugins():
            if p.name == "cpu":
                self.assertTrue(p.ops & (1 << fa.OP_IMAGE_CLASSIFY))
        self.assertRaises(ValueError, fa.op_name, 1000)

    def test_strerror(self):
        self.assertEqual(fa.strerror(errno.ENOENT), fa.strerror(-errno.ENOENT))
        self.assertTrue(fa.strerror(errno.ENOSPC))

    def test_init_after_load_is_ealready(self):
        self.assertFunkError(errno.EALREADY, fa.init, "noop")


class TestSession(Base):
    def test_noop(self):
        for _ in range(100):
            self.assertIsNone(self.s.noop())

    def test_context_manager_and_double_delete(self):
        with fa.Session() as s:
            s.noop()
        self.assertTrue(s.closed)
        self.assertFunkError(errno.EBADF, s.noop)
        self.assertFunkError(errno.EBADF, s.delete)
        s.close()  # idempotent

    def test_collected_session_and_resource(self):
        for _ in range(50):
            s = fa.Session()
            r = fa.Resource.from_buffer(b"x" * 100)
            s.register(r)
            del s, r
        gc.collect()


class TestResource(Base):
    def test_buffer_hash_attrs(self):
        data = np.arange(1000, dtype=np.uint8)
        with fa.Resource.from_buffer(data, fa.RES_DATA, k="v") as r:
            self.assertEqual(r.hash(), hashlib.sha256(data.tobytes()).digest())
            self.assertEqual(r.get_attr("k"), "v")
            self.assertIsNone(r.get_attr("absent"))
            self.s.register(r)
            self.assertFunkError(errno.EBUSY, r.set_attr, "k", "w")
            self.s.unregister(r)
        self.assertTrue(r.closed)
        self.assertFunkError(errno.EBADF, r.hash)
        self.assertFunkError(errno.EBADF, r.release)

    def test_file(self):
        r = fa.Resource(fa.RES_DATA, path=DOG)
        self.assertEqual(r.hash(), hashlib.sha256(dog_bytes()).digest())
        r.release()

    def test_bad_resources(self):
        self.assertFunkError(errno.ENOENT, fa.Resource, fa.RES_DATA, path="/nonexistent/x")
        self.assertRaises(TypeError, fa.Resource, fa.RES_DATA)
        self.assertRaises(TypeError, fa.Resource, fa.RES_DATA, path=DOG, data=b"x")
        self.assertRaises(ValueError, fa.Resource, fa.RES_DATA, path="a\0b")
        self.assertRaises((BufferError, ValueError), fa.Resource, fa.RES_DATA,
                          data=np.zeros((4, 4), np.uint8)[:, ::2])
        r = fa.Resource.from_buffer(b"abc")
        self.assertRaises(ValueError, r.set_attr, "a\0b", "v")
        self.assertRaises(TypeError, self.s.register, "not a resource")
        self.assertRaises(TypeError, self.s.image_classify, b"x", model=42)


class TestClassifyDetect(Base):
    def check_dog(self, labels):
        self.assertEqual(len(labels), 5)
        self.assertIn("dog", [l.label for l in labels])
        scores = [l.score for l in labels]
        self.assertEqual(scores, sorted(scores, reverse=True))
        for l in labels:
            self.assertIsInstance(l, fa.Label)
            self.assertTrue(0.0 <= l.score <= 1.0)

    def test_classify_dog_any_buffer(self):
        img = dog_bytes()
        want = self.s.image_classify(img)
        self.check_dog(want)
        # The same bytes as a numpy array, a bytearray and a memoryview slice: used in place.
        self.assertEqual(self.s.image_classify(np.frombuffer(img, np.uint8)), want)
        self.assertEqual(self.s.image_classify(bytearray(img)), want)
        self.assertEqual(self.s.image_classify(memoryview(b"xx" + img)[2:]), want)
        self.assertEqual(self.s.classify_file(DOG, max=2), want[:2])

    def test_classify_with_model_resource(self):
        model = fa.Resource.model(os.path.join(MODELS, "textdir.onnx"), kind="classifier",
                                  input="192x48", scale="0.00784313725", mean="1,1,1",
                                  channels="bgr", labels="0\n180\n")
        self.assertFunkError(errno.EPERM, self.s.image_classify, dog_bytes(), model)
        self.s.register(model)
        out = self.s.image_classify(dog_bytes(), model, max=2)
        self.assertEqual(sorted(l.label for l in out), ["0", "180"])
        self.assertAlmostEqual(sum(l.score for l in out), 1.0, places=3)
        model.release()  # the session's reference keeps it usable
        self.assertEqual(len(self.s.image_classify(dog_bytes(), None, 1)), 1)

    def test_detect_dog(self):
        dets = self.s.image_detect(dog_bytes(), min_score_pct=30, max=10)
        self.assertIn("dog", [d.label for d in dets])
        for d in dets:
            self.assertIsInstance(d, fa.Detection)
            self.assertGreaterEqual(d.score, 0.3)
            for v in (d.x, d.y, d.w, d.h):
                self.assertTrue(-0.01 <= v <= 1.01, d)

    def test_threads_share_nothing_but_results(self):
        img = dog_bytes()
        want = self.s.image_classify(img)
        got, errs = [], []

        def work():
            try:
                with fa.Session() as s:
                    for _ in range(2):
                        got.append(s.image_classify(img))
            except Exception as e:  # noqa: BLE001  reported below
                errs.append(e)

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=120)
        self.assertEqual(errs, [])
        self.assertEqual(got, [want] * 8)

    def test_hostile_images(self):
        self.assertFunkError(errno.EBADMSG, self.s.image_classify, b"not an image at all" * 10)
        self.assertRaises(fa.Error, self.s.image_classify, b"")
        self.assertRaises(fa.Error, self.s.image_detect, b"\xff\xd8\xff" + b"\0" * 100)
        for strided in (np.frombuffer(dog_bytes(), np.uint8)[::2],
                        memoryview(dog_bytes())[::2]):
            self.assertRaises((BufferError, ValueError), self.s.image_classify, strided)
        self.assertRaises(TypeError, self.s.image_classify, 12345)
        for bad in (0, -1, 1 << 40):
            self.assertRaises((ValueError, OverflowError), self.s.image_classify, dog_bytes(),
                              None, bad)
        self.assertRaises((ValueError, OverflowError), self.s.image_detect, dog_bytes(), None, 101)
        self.assertRaises((ValueError, OverflowError), self.s.image_detect, dog_bytes(), None, -1)


class TestSgemm(Base):
    def ref(self, a, b, c, alpha, beta):
        return (alpha * (a.astype(np.float64) @ b.astype(np.float64)) + beta * c).astype(np.float32)

    def test_against_numpy(self):
        rng = np.random.default_rng(7)
        for m, n, k in ((1, 1, 1), (3, 5, 7), (64, 48, 33)):
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c0 = rng.standard_normal((m, n), dtype=np.float32)
            c = c0.copy()
            out = self.s.sgemm(a, b, c, alpha=1.5, beta=0.25)
            self.assertIs(out, c)  # in place
            np.testing.assert_allclose(c, self.ref(a, b, c0, 1.5, 0.25), rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(self.s.sgemm(a, b), a @ b, rtol=1e-4, atol=1e-4)

    def test_row_strided_views_in_place(self):
        rng = np.random.default_rng(3)
        big_a = rng.standard_normal((8, 20), dtype=np.float32)
        big_b = rng.standard_normal((10, 30), dtype=np.float32)
        big_c = np.zeros((8, 40), np.float32)
        a, b, c = big_a[:, 2:12], big_b[:, 5:11], big_c[:, 3:9]  # lda 20, ldb 30, ldc 40
        self.s.sgemm(a, b, c)
        np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
        self.assertTrue((big_c[:, :3] == 0).all() and (big_c[:, 9:] == 0).all())

    def test_hostile_matrices(self):
        a = np.ones((4, 3), np.float32)
        b = np.ones((3, 2), np.float32)
        c = np.zeros((4, 2), np.float32)
        s = self.s.sgemm
        self.assertRaises(TypeError, s, a.astype(np.float64), b, c)          # wrong dtype
        self.assertRaises(TypeError, s, a, b.astype(np.int32), c)
        self.assertRaises(TypeError, s, a, b, c.astype(np.float64))
        self.assertRaises(ValueError, s, a, b, np.zeros((3, 2), np.float32))  # too small out
        self.assertRaises(ValueError, s, a, b, np.zeros((4, 1), np.float32))
        self.assertRaises(ValueError, s, a, np.ones((2, 2), np.float32), None)  # k mismatch
        self.assertRaises(ValueError, s, np.ones((4, 6), np.float32)[:, ::2], b, c)  # strided
        self.assertRaises(ValueError, s, a, b, np.zeros((2, 4), np.float32).T)      # transposed
        self.assertRaises(TypeError, s, np.ones(12, np.float32), b, c)  # 1-D
        self.assertRaises(ValueError, s, np.ones((0, 3), np.float32), b, np.zeros((0, 2), np.float32))
        ro = c.copy()
        ro.flags.writeable = False
        self.assertRaises((BufferError, ValueError), s, a, b, ro)  # read-only out
        self.assertRaises((BufferError, TypeError), s, a, b, b"\0" * 32)
        self.assertRaises(TypeError, s, "a", b, c)
        self.assertTrue((c == 0).all())


class TestExecAndOp(Base):
    def test_exec_add_i32(self):
        with fa.Resource.library(TLIB) as lib:
            self.s.register(lib)
            out = Arg.i32()
            self.assertEqual(self.s.exec(lib, "add_i32", [Arg.i32(40), Arg.i32(2)], [out]), 0)
            self.assertEqual((out.value, out.used), (42, 4))
            # The callee's own error comes back as an Error with its errno.
            self.assertFunkError(errno.EINVAL, self.s.exec, lib, "add_i32", [Arg.i32(1)], [out])

    def test_exec_only_operator_libraries(self):
        lib = fa.Resource.from_buffer(b"\x7fELF not the operator's" * 4, fa.RES_LIBRARY)
        self.s.register(lib)
        self.assertFunkError(errno.EPERM, self.s.exec, lib, "add_i32",
                             [Arg.i32(1), Arg.i32(2)], [Arg.i32()])
        lib2 = fa.Resource.library(TLIB)
        self.assertFunkError(errno.EPERM, self.s.exec, lib2, "add_i32",
                             [Arg.i32(1), Arg.i32(2)], [Arg.i32()])  # not registered

    def test_op_echo_every_type(self):
        f = np.linspace(0, 1, 17, dtype=np.float32)
        ins = [Arg.bytes(b"\x00\x01\xfe"), Arg.i32(-5), Arg.i64(1 << 40), Arg.f32(0.5),
               Arg.f64(-2.25), Arg.string("héllo"), Arg.f32_array(f)]
        outs = [Arg.bytes(3), Arg.i32(), Arg.i64(), Arg.f32(), Arg.f64(), Arg.string(32),
                Arg.f32_array(17)]
        self.assertEqual(self.s.op("noop.echo", ins, outs), len(ins))
        self.assertEqual([o.value for o in outs[:6]],
                         [b"\x00\x01\xfe", -5, 1 << 40, 0.5, -2.25, "héllo"])
        np.testing.assert_array_equal(outs[6].value, f)
        # Plain values and a numpy output filled in place.
        dst = np.zeros(4, np.float32)
        self.assertEqual(self.s.op("noop.echo", [np.arange(4, dtype=np.float32)], [dst]), 1)
        np.testing.assert_array_equal(dst, np.arange(4))
        bb = bytearray(5)
        self.assertEqual(self.s.op("echo", ["abcd", 7], [bb, Arg.i64()]), 2)
        self.assertEqual(bytes(bb), b"abcd\0")

    def test_op_too_small_output(self):
        out = Arg.bytes(4)
        e = self.assertFunkError(errno.ENOSPC, self.s.op, "noop.echo", [b"0123456789"], [out])
        # Each output's used as the library left it: natively the size the operation needed;
        # the rpc plugin does not carry it back on an error (0).
        self.assertEqual(e.used, [0 if MODE == "agent" else 10])
        self.assertEqual(out.used, e.used[0])
        # A used larger than the buffer (a callee's claim) never reads past it.
        out.used = 1 << 30
        self.assertEqual(out.value, b"\0" * 4)
        f = Arg.f32_array(3)
        f.used = 1000
        self.assertEqual(len(f.value), 3)

    def test_op_unknown(self):
        self.assertFunkError(errno.ENOENT, self.s.op, "nosuch.op")

    def test_hostile_args(self):
        op = self.s.op_args
        self.assertRaises(ValueError, op, "echo", [(fa.ARG_I32, b"abc")], [])
        self.assertRaises(ValueError, op, "echo", [(fa.ARG_I64, b"abcd")], [])
        self.assertRaises(ValueError, op, "echo", [], [(fa.ARG_F64, bytearray(4))])
        self.assertRaises(ValueError, op, "echo", [(fa.ARG_STRING, b"no nul")], [])
        self.assertRaises(ValueError, op, "echo", [(fa.ARG_STRING, b"")], [])
        self.assertRaises(ValueError, op, "echo", [(fa.ARG_F32_ARRAY, b"abcde")], [])
        self.assertRaises(ValueError, op, "echo", [(99, b"x")], [])
        self.assertRaises(ValueError, op, "echo", [(0, b"x")], [])
        self.assertRaises(TypeError, op, "echo", [(fa.ARG_BYTES,)], [])
        self.assertRaises(TypeError, op, "echo", [b"raw"], [])
        self.assertRaises(TypeError, op, "echo", 5, [])
        self.assertRaises((BufferError, TypeError), op, "echo", [], [(fa.ARG_BYTES, b"ro")])
        self.assertRaises((BufferError, ValueError), op, "echo",
                          [(fa.ARG_BYTES, np.zeros(8, np.uint8)[::2])], [])
        self.assertRaises((BufferError, ValueError), op, "echo", [],
                          [(fa.ARG_BYTES, memoryview(bytearray(8))[::2])])
        self.assertRaises(ValueError, op, "echo", [(fa.ARG_BYTES, b"x")] * 2000, [])
        self.assertRaises(TypeError, op, "echo", [], [], used=())
        self.assertRaises(ValueError, op, "ec\0ho", [], [])
        self.assertRaises(TypeError, Arg.f32_array, np.zeros(3, np.float64))
        self.assertRaises(ValueError, Arg.f32_array, np.zeros(6, np.float32)[::2])
        self.assertRaises(ValueError, Arg.string, "a\0b")
        self.assertRaises(TypeError, self.s.op, "echo", [True], [])
        import struct
        self.assertRaises(struct.error, Arg.i32, 1 << 40)
        ro = np.zeros(4, np.float32)
        ro.flags.writeable = False
        self.assertRaises((BufferError, ValueError), self.s.op, "echo", [ro], [ro])


class TestModelRun(Base):
    """Tensors: the tensor branch's ONNX test model (y = x @ W + B, z = relu(y)) on the cpu
    plugin, and every dtype through the noop plugin's echo (a model the cpu plugin declines)."""

    W = np.array([0.1 * (3 * i + j) - 0.5 for i in range(4) for j in range(3)],
                 np.float32).reshape(4, 3)
    B = np.array([0.25 * j - 0.3 for j in range(3)], np.float32)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="funk-pytensor.")
        cls.onnx = os.path.join(cls.tmp, "model.onnx")
        make = os.path.join(os.environ.get("FUNK_SOURCE_ROOT", ""), "tests", "accel", "tensor",
                            "make_onnx.py")
        r = subprocess.run([sys.executable, make, cls.onnx], capture_output=True, text=True)
        cls.onnx_error = None if r.returncode == 0 else (r.stdout + r.stderr).strip()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        super().setUp()
        if self.onnx_error:
            self.fail("no ONNX test model (python3-onnx: scripts/deps.sh): " + self.onnx_error)
        self.m = fa.Resource.model(self.onnx)
        self.s.register(self.m)
        self.echo = fa.Resource.from_buffer(b"not a model any plugin reads", fa.RES_MODEL)
        self.s.register(self.echo)
        self.x = (np.arange(8, dtype=np.float32).reshape(2, 4) - 3) / 7

    def ref(self):
        y = self.x.astype(np.float64) @ self.W + self.B
        return y, np.maximum(y, 0)

    def test_onnx_outputs_every_way(self):
        y_ref, z_ref = self.ref()
        y, z = self.s.model_run(self.m, self.x, 2)  # library-allocated, by position
        for got, want in ((y, y_ref), (z, z_ref)):
            self.assertEqual((got.dtype, got.shape), (np.float32, (2, 3)))
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        into = np.full((2, 3), 7, np.float32)
        (y3,) = self.s.model_run(self.m, [("x", self.x)], [into])  # named input, in place
        self.assertTrue(np.shares_memory(y3, into))
        np.testing.assert_allclose(into, y_ref, rtol=1e-5, atol=1e-6)
        flat = np.zeros(6, np.float32)  # any contiguous buffer of the size: reshaped view back
        (y4,) = self.s.model_run(self.m, self.x, [flat])
        self.assertEqual(y4.shape, (2, 3))
        np.testing.assert_allclose(flat.reshape(2, 3), y_ref, rtol=1e-5, atol=1e-6)

    # Outputs asked for by name, natively and through the agent (the rpc plugin carries the
    # names: before, the agent answered by position and "z" came back as y).
    def test_onnx_named_outputs(self):
        _, z_ref = self.ref()
        (z2,) = self.s.model_run(self.m, {"x": self.x}, ["z"])  # named, library-allocated
        np.testing.assert_allclose(z2, z_ref, rtol=1e-5, atol=1e-6)
        into = np.full((2, 3), 7, np.float32)
        (z3,) = self.s.model_run(self.m, {"x": self.x}, {"z": into})  # named, in place
        self.assertTrue(np.shares_memory(z3, into))
        np.testing.assert_allclose(into, z_ref, rtol=1e-5, atol=1e-6)

    def test_library_buffer_outlives_session(self):
        with fa.Session() as s:
            s.register(self.m)
            (y,) = s.model_run(self.m, self.x, 1)
        gc.collect()
        np.testing.assert_allclose(y, self.ref()[0], rtol=1e-5, atol=1e-6)
        y[0, 0] = 42  # the library's buffer is the array's, writable
        self.assertEqual(bytes(y.base.obj)[:4], np.float32(42).tobytes())  # plain-bytes export

    def test_every_dtype_and_rank(self):
        for dt in (np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64,
                   np.bool_, np.float16):
            for shape in ((), (5,), (2, 3), (1, 2, 1, 2, 1, 2, 1, 2)):
                a = (np.arange(int(np.prod(shape))).reshape(shape) % 3 - 1).astype(dt)
                (got,) = self.s.model_run(self.echo, a, 1)
                self.assertEqual((got.dtype, got.shape), (a.dtype, a.shape), (dt, shape))
                np.testing.assert_array_equal(got, a)
                into = np.zeros_like(a)
                (got2,) = self.s.model_run(self.echo, a, [into])
                self.assertTrue(np.shares_memory(got2, into))
                np.testing.assert_array_equal(into, a)

    def test_errors(self):
        e = self.assertFunkError(errno.ENOSPC, self.s.model_run, self.m, self.x,
                                 [np.zeros(5, np.float32)])
        self.assertEqual(e.needed, [(fa.DT_F32, (2, 3), 24)])  # what a retry must hold
        self.assertFunkError(errno.EINVAL, self.s.model_run, self.m, self.x, 3)  # > outputs
        other = fa.Resource.model(self.onnx)
        self.assertFunkError(errno.EPERM, self.s.model_run, other, self.x, 1)

    def test_hostile_tensors(self):
        run = self.s.model_run
        wide = np.zeros((2, 8), np.float32)
        self.assertRaises((BufferError, ValueError), run, self.m, wide[:, ::2], 1)  # strided
        self.assertRaises((BufferError, ValueError), run, self.m, wide.T, 1)  # Fortran order
        for bad in (np.zeros((2, 4), np.complex64), np.zeros((2, 4), np.uint16),
                    np.zeros((2, 4), ">f4"), np.array([b"ab"]), np.array([object()])):
            self.assertRaises((TypeError, ValueError), run, self.echo, bad, 1)
        self.assertRaises(ValueError, run, self.echo, np.zeros((1,) * 9, np.float32), 1)
        self.assertRaises(ValueError, run, self.echo, [np.zeros(1, np.float32)] * 17, 1)
        self.assertRaises(ValueError, run, self.echo, self.x, 0)
        self.assertRaises(ValueError, run, self.echo, [], 1)
        self.assertRaises(ValueError, run, self.m, {"x\0y": self.x}, 1)
        self.assertRaises(ValueError, run, self.m, {"x" * 64: self.x}, 1)
        self.assertRaises(TypeError, run, self.m, [(5, self.x)], 1)
        self.assertRaises(TypeError, run, self.m, "not a tensor", 1)
        ro = np.zeros((2, 3), np.float32)
        ro.flags.writeable = False
        self.assertRaises((BufferError, ValueError), run, self.m, self.x, [ro])
        self.assertRaises((BufferError, ValueError), run, self.m, self.x,
                          [np.zeros((2, 6), np.float32)[:, ::2]])
        self.assertRaises(TypeError, self.s.model_run_raw, self.m, [(None, self.x)], [5])
        self.assertRaises(TypeError, run, "model", self.x, 1)


class TestTorchScript(Base):
    """The same model as TorchScript (written by the tensor tests' make_torchscript with
    libtorch) on the torch plugin: outputs "0" and "1" are the tuple's y and z."""

    def setUp(self):
        super().setUp()
        make = os.environ.get("FUNK_PYTEST_MAKE_TS", "")
        if not make:
            self.skipTest("SKIP: torch plugin not built (no libtorch-dev): TorchScript not run")
        self.tmp = tempfile.mkdtemp(prefix="funk-pytorch.")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        path = os.path.join(self.tmp, "model.pt")
        r = subprocess.run([make, path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.m = fa.Resource.model(path, format="torchscript")
        self.s.register(self.m)

    def test_torchscript_model_run(self):
        x = (np.arange(8, dtype=np.float32).reshape(2, 4) - 3) / 7
        y_ref = x.astype(np.float64) @ TestModelRun.W + TestModelRun.B
        y, z = self.s.model_run(self.m, x, 2)
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(z, np.maximum(y_ref, 0), rtol=1e-5, atol=1e-6)
        into = np.zeros((2, 3), np.float32)
        self.s.model_run(self.m, x, [into])
        np.testing.assert_allclose(into, y_ref, rtol=1e-5, atol=1e-6)


class TestRandomHostile(Base):
    """Random junk to every entry point (seeded, so a failure reproduces): each call either
    works or raises one of the documented exception types; a crash ends the run (under ASan in
    the sanitized tree)."""

    ALLOWED = (TypeError, ValueError, BufferError, OverflowError, fa.Error)

    def junk(self, rng):
        kind = rng.integers(0, 7)
        if kind == 0:
            return None
        if kind == 1:
            return int(rng.integers(-2**40, 2**40))
        if kind == 2:
            return bytes(rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8))
        if kind == 3:
            return "s" * int(rng.integers(0, 80))
        dt = rng.choice(["f4", "f8", "i1", "u1", "i2", "u2", "i4", "i8", "?", "f2", "c8", ">f4"])
        shape = tuple(int(d) for d in rng.integers(0, 4, int(rng.integers(0, 4))))
        a = np.zeros(shape, dtype=dt)
        if kind == 5 and a.ndim >= 1 and a.shape[-1] > 1:
            a = a[..., ::2]
        if kind == 6 and a.ndim >= 2:
            a = a.T
        return a

    def test_random_calls(self):
        rng = np.random.default_rng(16)
        echo = fa.Resource.from_buffer(b"echo model", fa.RES_MODEL)
        self.s.register(echo)
        calls = [
            lambda j: self.s.sgemm(j(), j(), j()),
            lambda j: self.s.sgemm_into(j(), j(), j()),
            lambda j: self.s.image_classify(j(), None, 3),
            lambda j: self.s.image_detect(j()),
            lambda j: self.s.op_args("noop.echo", [(int(rng.integers(0, 9)), j())],
                                     [(int(rng.integers(0, 9)), j())]),
            lambda j: self.s.op("noop.echo", [j()], [j()]),
            lambda j: self.s.model_run(echo, j(), int(rng.integers(0, 3))),
            lambda j: self.s.model_run(echo, [j()], [j()]),
            lambda j: self.s.model_run_raw(echo, [(None, j())], [(None, j())]),
            lambda j: fa.Resource(int(rng.integers(0, 5)), data=j()),
        ]
        for i in range(600):
            f = calls[i % len(calls)]
            try:
                f(lambda: self.junk(rng))
            except self.ALLOWED:
                pass


if __name__ == "__main__":
    missing = [p for p in (DOG, os.path.join(MODELS, "centernet.onnx"),
                           os.path.join(MODELS, "textdir.onnx"), TLIB) if not os.path.exists(p)]
    if missing:
        print("SKIP: missing %s (dog.jpg: Debian package darknet; models: scripts/models.sh)"
              % ", ".join(missing))
        sys.exit(77)
    print(f"funk_accel tests ({MODE}): {fa.__file__}")
    unittest.main(verbosity=2)
