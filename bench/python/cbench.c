/* SPDX-License-Identifier: Apache-2.0 */
/* funk_cbench: the C side of bench/python, loaded into the same python3 as funk_accel so both
 * sides call the same libfunk-accel, plugin, model and image in one process: each function times
 * its C calls with CLOCK_MONOTONIC and returns nanoseconds, nothing of Python's inside the timing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <funk/accel.h>

#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static PyObject *fail(const char *what, int rc)
{
    PyErr_Format(PyExc_RuntimeError, "%s: %s (%d)", what, funk_accel_strerror(rc), rc);
    return NULL;
}

/* classify_ns(image) -> ns of one funk_accel_image_classify (5 results, default model) on a
 * session made for the bench (kept across calls like the Python side's). */
static funk_accel_session *bench_session;

static PyObject *classify_ns(PyObject *m, PyObject *arg)
{
    (void)m;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    int rc = 0;
    if (bench_session == NULL)
        rc = funk_accel_session_new(&bench_session);
    if (rc < 0) {
        PyBuffer_Release(&b);
        return fail("session", rc);
    }
    funk_accel_label out[5];
    PyThreadState *ts = PyEval_SaveThread();
    double t0 = now_ns();
    rc = funk_accel_image_classify(bench_session, NULL, b.buf, (size_t)b.len, out, 5);
    double t1 = now_ns();
    PyEval_RestoreThread(ts);
    PyBuffer_Release(&b);
    if (rc < 0)
        return fail("classify", rc);
    return PyFloat_FromDouble(t1 - t0);
}

/* noop_ns(calls) -> mean ns of one funk_accel_noop over `calls` calls. */
static PyObject *noop_ns(PyObject *m, PyObject *arg)
{
    (void)m;
    long calls = PyLong_AsLong(arg);
    if (calls < 1) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "calls >= 1");
        return NULL;
    }
    int rc = 0;
    if (bench_session == NULL)
        rc = funk_accel_session_new(&bench_session);
    if (rc < 0)
        return fail("session", rc);
    int (*volatile fn)(funk_accel_session *) = funk_accel_noop;
    double t0 = now_ns();
    for (long i = 0; i < calls; i++)
        if ((rc = fn(bench_session)) < 0)
            return fail("noop", rc);
    return PyFloat_FromDouble((now_ns() - t0) / (double)calls);
}

static PyMethodDef methods[] = {
    {"classify_ns", classify_ns, METH_O, "classify_ns(image) -> ns of one C classify"},
    {"noop_ns", noop_ns, METH_O, "noop_ns(calls) -> mean ns of a C funk_accel_noop"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "funk_cbench", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_funk_cbench(void)
{
    return PyModule_Create(&module);
}
