/* SPDX-License-Identifier: Apache-2.0 */
/* funk_accel._native: the CPython extension over libfunk-accel (sessions, resources, operations).
 *
 * Everything a caller hands in arrives through the buffer protocol and is checked here before
 * libfunk-accel sees it (dtype, shape, strides, writability, NUL-terminated strings), so a wrong
 * array raises instead of reaching C as a bad pointer or length. Buffers are used in place (no
 * copy) and held for the whole call; the GIL is released while an operation runs. Handles are
 * the library's generation-checked ones, so a handle deleted behind our back (funk_accel_fini)
 * answers -EBADF rather than touching freed memory. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <funk/accel.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Caps on what one call may ask for: results to allocate and typed arguments per side. */
#define PYACCEL_MAX_RESULTS 65536
#define PYACCEL_MAX_ARGS 1024

/* A method of any signature in a PyMethodDef (through void (*)(void), which GCC's
 * -Wcast-function-type accepts). */
#define FN(f) ((PyCFunction)(void (*)(void))(f))

static PyObject *accel_error; /* funk_accel.Error, an OSError */
static PyTypeObject *label_type;
static PyTypeObject *detection_type;

/* Raises funk_accel.Error(errno, funk_accel_strerror(rc)) for a negative rc; returns NULL. */
static PyObject *raise_rc(int rc)
{
    int e = rc < 0 ? -rc : rc;
    PyObject *args = Py_BuildValue("(is)", e, funk_accel_strerror(rc < 0 ? rc : -rc));
    if (args != NULL) {
        PyErr_SetObject(accel_error, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* ---- buffers ------------------------------------------------------------------------------ */

/* True for a buffer format naming one native or little-endian float32 (numpy writes "f" or
 * "<f"; array.array "f"). */
static int is_f32_format(const Py_buffer *b)
{
    const char *f = b->format ? b->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    return b->itemsize == 4 && f[0] == 'f' && f[1] == '\0';
}

/* A 2-D float32 matrix of shape (rows, cols) whose rows are contiguous: ld receives the row
 * stride in elements (a slice of a wider matrix passes without a copy). */
static int get_matrix(PyObject *o, Py_buffer *b, int writable, const char *name, Py_ssize_t rows,
                      Py_ssize_t cols, int *ld)
{
    int flags = PyBUF_RECORDS_RO | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, b, flags) < 0)
        return -1;
    const char *why = NULL;
    if (!is_f32_format(b))
        why = "must be float32";
    else if (b->ndim != 2)
        why = "must be 2-D";
    else if ((rows >= 0 && b->shape[0] != rows) || (cols >= 0 && b->shape[1] != cols))
        why = "has the wrong shape";
    else if (b->shape[0] < 1 || b->shape[1] < 1 || b->shape[0] > INT32_MAX ||
             b->shape[1] > INT32_MAX)
        why = "has an empty or too large dimension";
    else if (b->strides[1] != 4 || b->strides[0] % 4 != 0 || b->strides[0] / 4 < b->shape[1] ||
             b->strides[0] / 4 > INT32_MAX)
        why = "must have contiguous rows (inner stride 4 bytes, row stride >= a row)";
    if (why != NULL) {
        PyErr_Format(b->ndim == 2 && is_f32_format(b) ? PyExc_ValueError : PyExc_TypeError,
                     "sgemm: %s %s", name, why);
        PyBuffer_Release(b);
        return -1;
    }
    *ld = (int)(b->strides[0] / 4);
    return 0;
}

/* ---- typed arguments ------------------------------------------------------------------------ */

/* The bytes an argument of this type must hold (0: any size). */
static Py_ssize_t arg_fixed_size(long type)
{
    switch (type) {
    case FUNK_ACCEL_ARG_I32:
    case FUNK_ACCEL_ARG_F32:
        return 4;
    case FUNK_ACCEL_ARG_I64:
    case FUNK_ACCEL_ARG_F64:
        return 8;
    default:
        return 0;
    }
}

typedef struct argset {
    funk_accel_arg *args;
    Py_buffer *bufs;
    Py_ssize_t n, held;
} argset;

static void argset_release(argset *a)
{
    for (Py_ssize_t i = 0; i < a->held; i++)
        PyBuffer_Release(&a->bufs[i]);
    PyMem_Free(a->args);
    PyMem_Free(a->bufs);
    memset(a, 0, sizeof(*a));
}

/* Fills a from a sequence of (type, buffer) pairs; outputs must be writable buffers. */
static int argset_get(PyObject *seq, int output, argset *a)
{
    memset(a, 0, sizeof(*a));
    const char *side = output ? "output" : "input";
    PyObject *fast = PySequence_Fast(seq, "arguments must be a sequence of (type, buffer)");
    if (fast == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > PYACCEL_MAX_ARGS) {
        PyErr_Format(PyExc_ValueError, "more than %d %s arguments", PYACCEL_MAX_ARGS, side);
        goto fail;
    }
    a->n = n;
    if (n == 0) {
        Py_DECREF(fast);
        return 0;
    }
    a->args = PyMem_Calloc((size_t)n, sizeof(*a->args));
    a->bufs = PyMem_Calloc((size_t)n, sizeof(*a->bufs));
    if (a->args == NULL || a->bufs == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        long type;
        PyObject *obj;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_TypeError, "%s argument %zd: expected a (type, buffer) pair", side,
                         i);
            goto fail;
        }
        type = PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        if (type == -1 && PyErr_Occurred())
            goto fail;
        if (type < FUNK_ACCEL_ARG_BYTES || type > FUNK_ACCEL_ARG_F32_ARRAY) {
            PyErr_Format(PyExc_ValueError, "%s argument %zd: unknown type %ld", side, i, type);
            goto fail;
        }
        obj = PyTuple_GET_ITEM(item, 1);
        /* PyBUF_SIMPLE asks for one contiguous block: a strided view raises BufferError. */
        if (PyObject_GetBuffer(obj, &a->bufs[i], output ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0)
            goto fail;
        a->held = i + 1;
        Py_buffer *b = &a->bufs[i];
        Py_ssize_t fixed = arg_fixed_size(type);
        if (fixed != 0 && (output ? b->len < fixed : b->len != fixed)) {
            PyErr_Format(PyExc_ValueError, "%s argument %zd: %zd bytes for a %zd-byte value", side,
                         i, b->len, fixed);
            goto fail;
        }
        if (type == FUNK_ACCEL_ARG_F32_ARRAY && b->len % 4 != 0) {
            PyErr_Format(PyExc_ValueError, "%s argument %zd: float32 array of %zd bytes", side, i,
                         b->len);
            goto fail;
        }
        /* A string input is read up to its NUL: it must have one, as its last byte. */
        if (!output && type == FUNK_ACCEL_ARG_STRING &&
            (b->len == 0 || ((const char *)b->buf)[b->len - 1] != '\0')) {
            PyErr_Format(PyExc_ValueError, "input argument %zd: string without a final NUL", i);
            goto fail;
        }
        a->args[i] = FUNK_ACCEL_ARG(type, b->buf, (size_t)b->len);
    }
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    argset_release(a);
    return -1;
}

/* Writes each output's `used` into the list `used` (replacing its items). */
static int store_used(PyObject *used, const argset *out)
{
    if (used == Py_None)
        return 0;
    PyObject *l = PyList_New(out->n);
    if (l == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < out->n; i++) {
        PyObject *v = PyLong_FromSize_t(out->args[i].used);
        if (v == NULL) {
            Py_DECREF(l);
            return -1;
        }
        PyList_SET_ITEM(l, i, v);
    }
    int rc = PyList_SetSlice(used, 0, PyList_GET_SIZE(used), l);
    Py_DECREF(l);
    return rc;
}

/* ---- Resource ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD funk_accel_resource *r; /* NULL once released */
    PyObject *weakrefs;
} ResourceObject;

static PyTypeObject ResourceType;

static funk_accel_resource *resource_of(PyObject *o, int allow_none)
{
    if (allow_none && o == Py_None)
        return NULL;
    if (!PyObject_TypeCheck(o, &ResourceType)) {
        PyErr_SetString(PyExc_TypeError, "expected a funk_accel.Resource");
        return NULL;
    }
    ResourceObject *ro = (ResourceObject *)o;
    if (ro->r == NULL)
        raise_rc(-EBADF);
    return ro->r;
}

static int Resource_init(ResourceObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"type", "path", "data", NULL};
    int type;
    PyObject *path = Py_None, *data = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|$OO", kwlist, &type, &path, &data))
        return -1;
    if ((path == Py_None) == (data == Py_None)) {
        PyErr_SetString(PyExc_TypeError, "Resource: give exactly one of path= or data=");
        return -1;
    }
    if (self->r != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Resource: already initialised");
        return -1;
    }
    funk_accel_resource *r = NULL;
    int rc;
    if (path != Py_None) {
        PyObject *enc;
        if (!PyUnicode_FSConverter(path, &enc))
            return -1;
        const char *p = PyBytes_AS_STRING(enc);
        PyThreadState *ts = PyEval_SaveThread();
        rc = funk_accel_resource_new_file(&r, type, p);
        PyEval_RestoreThread(ts);
        Py_DECREF(enc);
    } else {
        Py_buffer b;
        if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) < 0)
            return -1;
        PyThreadState *ts = PyEval_SaveThread();
        rc = funk_accel_resource_new_buffer(&r, type, b.buf, (size_t)b.len);
        PyEval_RestoreThread(ts);
        PyBuffer_Release(&b);
    }
    if (rc < 0) {
        raise_rc(rc);
        return -1;
    }
    self->r = r;
    return 0;
}

static PyObject *Resource_release(ResourceObject *self, PyObject *unused)
{
    (void)unused;
    if (self->r == NULL)
        return raise_rc(-EBADF);
    int rc = funk_accel_resource_release(self->r);
    self->r = NULL;
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

static void Resource_dealloc(ResourceObject *self)
{
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->r != NULL)
        (void)funk_accel_resource_release(self->r);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Resource_hash(ResourceObject *self, PyObject *unused)
{
    (void)unused;
    uint8_t h[FUNK_ACCEL_HASH_SIZE];
    if (self->r == NULL)
        return raise_rc(-EBADF);
    int rc = funk_accel_resource_hash(self->r, h);
    if (rc < 0)
        return raise_rc(rc);
    return PyBytes_FromStringAndSize((const char *)h, sizeof(h));
}

static PyObject *Resource_set_attr(ResourceObject *self, PyObject *args)
{
    const char *k, *v;
    Py_ssize_t kl, vl;
    if (!PyArg_ParseTuple(args, "s#s#:set_attr", &k, &kl, &v, &vl))
        return NULL;
    if (strlen(k) != (size_t)kl || strlen(v) != (size_t)vl) {
        PyErr_SetString(PyExc_ValueError, "set_attr: embedded NUL");
        return NULL;
    }
    if (self->r == NULL)
        return raise_rc(-EBADF);
    int rc = funk_accel_resource_set_attr(self->r, k, v);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

static PyObject *Resource_get_attr(ResourceObject *self, PyObject *args)
{
    const char *k;
    Py_ssize_t kl;
    if (!PyArg_ParseTuple(args, "s#:get_attr", &k, &kl))
        return NULL;
    if (strlen(k) != (size_t)kl) {
        PyErr_SetString(PyExc_ValueError, "get_attr: embedded NUL");
        return NULL;
    }
    if (self->r == NULL)
        return raise_rc(-EBADF);
    const char *v = funk_accel_resource_get_attr(self->r, k);
    if (v == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(v, (Py_ssize_t)strlen(v), "replace");
}

static PyObject *Resource_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (((ResourceObject *)self)->r == NULL)
        return raise_rc(-EBADF);
    return Py_NewRef(self);
}

static PyObject *Resource_exit(ResourceObject *self, PyObject *args)
{
    (void)args;
    if (self->r != NULL) {
        int rc = funk_accel_resource_release(self->r);
        self->r = NULL;
        if (rc < 0)
            return raise_rc(rc);
    }
    Py_RETURN_FALSE;
}

static PyObject *Resource_get_closed(ResourceObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->r == NULL);
}

static PyMethodDef Resource_methods[] = {
    {"release", FN(Resource_release), METH_NOARGS,
     "Drops this object's reference; the resource lives on while a session holds it."},
    {"close", FN(Resource_exit), METH_NOARGS, "release() unless already released."},
    {"hash", FN(Resource_hash), METH_NOARGS, "SHA-256 of the content (32 bytes)."},
    {"set_attr", FN(Resource_set_attr), METH_VARARGS,
     "set_attr(key, value): a string attribute (before the first registration)."},
    {"get_attr", FN(Resource_get_attr), METH_VARARGS, "get_attr(key) -> str or None."},
    {"__enter__", FN(Resource_enter), METH_NOARGS, NULL},
    {"__exit__", FN(Resource_exit), METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Resource_getset[] = {
    {"closed", (getter)(void (*)(void))Resource_get_closed, NULL, "True once released.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ResourceType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "funk_accel._native.Resource",
    .tp_basicsize = sizeof(ResourceObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Resource(type, *, path=None, data=None): a blob of content (model, data, "
              "library).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)(void (*)(void))Resource_init,
    .tp_dealloc = (destructor)(void (*)(void))Resource_dealloc,
    .tp_weaklistoffset = offsetof(ResourceObject, weakrefs),
    .tp_methods = Resource_methods,
    .tp_getset = Resource_getset,
};

/* ---- Session ------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD funk_accel_session *s; /* NULL once deleted */
    PyObject *weakrefs;
} SessionObject;

static funk_accel_session *session_of(SessionObject *self)
{
    if (self->s == NULL)
        raise_rc(-EBADF);
    return self->s;
}

static int Session_init(SessionObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, ":Session", kwlist))
        return -1;
    if (self->s != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Session: already initialised");
        return -1;
    }
    funk_accel_session *s = NULL;
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = funk_accel_session_new(&s);
    PyEval_RestoreThread(ts);
    if (rc < 0) {
        raise_rc(rc);
        return -1;
    }
    self->s = s;
    return 0;
}

static void Session_dealloc(SessionObject *self)
{
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->s != NULL) {
        funk_accel_session *s = self->s;
        self->s = NULL;
        PyThreadState *ts = PyEval_SaveThread();
        (void)funk_accel_session_delete(s);
        PyEval_RestoreThread(ts);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Session_delete(SessionObject *self, PyObject *unused)
{
    (void)unused;
    funk_accel_session *s = session_of(self);
    if (s == NULL)
        return NULL;
    self->s = NULL;
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = funk_accel_session_delete(s);
    PyEval_RestoreThread(ts);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

static PyObject *Session_exit(SessionObject *self, PyObject *args)
{
    (void)args;
    if (self->s != NULL) {
        PyObject *r = Session_delete(self, NULL);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_FALSE;
}

static PyObject *Session_enter(SessionObject *self, PyObject *unused)
{
    (void)unused;
    if (session_of(self) == NULL)
        return NULL;
    return Py_NewRef((PyObject *)self);
}

static PyObject *Session_get_closed(SessionObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->s == NULL);
}

static PyObject *session_res_call(SessionObject *self, PyObject *res,
                                  int (*fn)(funk_accel_session *, funk_accel_resource *))
{
    funk_accel_session *s = session_of(self);
    if (s == NULL)
        return NULL;
    funk_accel_resource *r = resource_of(res, 0);
    if (r == NULL)
        return NULL;
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = fn(s, r);
    PyEval_RestoreThread(ts);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

static PyObject *Session_register(SessionObject *self, PyObject *res)
{
    return session_res_call(self, res, funk_accel_session_register);
}

static PyObject *Session_unregister(SessionObject *self, PyObject *res)
{
    return session_res_call(self, res, funk_accel_session_unregister);
}

static PyObject *Session_noop(SessionObject *self, PyObject *unused)
{
    (void)unused;
    funk_accel_session *s = session_of(self);
    if (s == NULL)
        return NULL;
    /* No GIL release: the call is tens of nanoseconds, less than releasing would cost. */
    int rc = funk_accel_noop(s);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

/* Shared by image_classify and image_detect: the session, the model (or NULL), the image bytes
 * and a result count checked against the cap. */
static int image_args(SessionObject *self, PyObject *image, PyObject *model, Py_ssize_t max,
                      funk_accel_session **s, funk_accel_resource **m, Py_buffer *b)
{
    if ((*s = session_of(self)) == NULL)
        return -1;
    *m = resource_of(model, 1);
    if (*m == NULL && PyErr_Occurred())
        return -1;
    if (max < 1 || max > PYACCEL_MAX_RESULTS) {
        PyErr_Format(PyExc_ValueError, "max must be 1..%d", PYACCEL_MAX_RESULTS);
        return -1;
    }
    return PyObject_GetBuffer(image, b, PyBUF_SIMPLE);
}

/* The label text as Python str: bounded by the field (a remote answer may lack the NUL), bytes
 * that are not UTF-8 replaced. */
static PyObject *label_str(const funk_accel_label *l)
{
    return PyUnicode_DecodeUTF8(l->label, (Py_ssize_t)strnlen(l->label, sizeof(l->label)),
                                "replace");
}

static PyObject *Session_image_classify(SessionObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"image", "model", "max", NULL};
    PyObject *image, *model = Py_None;
    Py_ssize_t max = 5;
    funk_accel_session *s;
    funk_accel_resource *m;
    Py_buffer b;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|On:image_classify", kwlist, &image, &model, &max))
        return NULL;
    if (image_args(self, image, model, max, &s, &m, &b) < 0)
        return NULL;
    funk_accel_label *out = PyMem_Calloc((size_t)max, sizeof(*out));
    if (out == NULL) {
        PyBuffer_Release(&b);
        return PyErr_NoMemory();
    }
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = funk_accel_image_classify(s, m, b.buf, (size_t)b.len, out, (size_t)max);
    PyEval_RestoreThread(ts);
    PyBuffer_Release(&b);
    PyObject *list = NULL;
    if (rc < 0) {
        raise_rc(rc);
        goto out;
    }
    if (rc > max)
        rc = (int)max; /* never read past what we allocated, whatever a plugin says */
    list = PyList_New(rc);
    for (int i = 0; list != NULL && i < rc; i++) {
        PyObject *t = PyStructSequence_New(label_type);
        if (t == NULL)
            goto fail;
        PyStructSequence_SET_ITEM(t, 0, label_str(&out[i]));
        PyStructSequence_SET_ITEM(t, 1, PyLong_FromLong(out[i].class_id));
        PyStructSequence_SET_ITEM(t, 2, PyFloat_FromDouble(out[i].score));
        PyList_SET_ITEM(list, i, t);
        if (PyErr_Occurred())
            goto fail;
    }
    goto out;
fail:
    Py_CLEAR(list);
out:
    PyMem_Free(out);
    return list;
}

static PyObject *Session_image_detect(SessionObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"image", "model", "min_score_pct", "max", NULL};
    PyObject *image, *model = Py_None;
    unsigned int min_pct = 0;
    Py_ssize_t max = 16;
    funk_accel_session *s;
    funk_accel_resource *m;
    Py_buffer b;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OIn:image_detect", kwlist, &image, &model,
                                     &min_pct, &max))
        return NULL;
    if (min_pct > 100) {
        PyErr_SetString(PyExc_ValueError, "min_score_pct must be 0..100");
        return NULL;
    }
    if (image_args(self, image, model, max, &s, &m, &b) < 0)
        return NULL;
    funk_accel_detection *out = PyMem_Calloc((size_t)max, sizeof(*out));
    if (out == NULL) {
        PyBuffer_Release(&b);
        return PyErr_NoMemory();
    }
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = funk_accel_image_detect(s, m, b.buf, (size_t)b.len, min_pct, out, (size_t)max);
    PyEval_RestoreThread(ts);
    PyBuffer_Release(&b);
    PyObject *list = NULL;
    if (rc < 0) {
        raise_rc(rc);
        goto out;
    }
    if (rc > max)
        rc = (int)max;
    list = PyList_New(rc);
    for (int i = 0; list != NULL && i < rc; i++) {
        const funk_accel_detection *d = &out[i];
        PyObject *t = PyStructSequence_New(detection_type);
        if (t == NULL)
            goto fail;
        PyStructSequence_SET_ITEM(t, 0, label_str(&d->label));
        PyStructSequence_SET_ITEM(t, 1, PyLong_FromLong(d->label.class_id));
        PyStructSequence_SET_ITEM(t, 2, PyFloat_FromDouble(d->label.score));
        PyStructSequence_SET_ITEM(t, 3, PyFloat_FromDouble(d->x));
        PyStructSequence_SET_ITEM(t, 4, PyFloat_FromDouble(d->y));
        PyStructSequence_SET_ITEM(t, 5, PyFloat_FromDouble(d->w));
        PyStructSequence_SET_ITEM(t, 6, PyFloat_FromDouble(d->h));
        PyList_SET_ITEM(list, i, t);
        if (PyErr_Occurred())
            goto fail;
    }
    goto out;
fail:
    Py_CLEAR(list);
out:
    PyMem_Free(out);
    return list;
}

/* sgemm(a, b, c, alpha=1.0, beta=0.0): c = alpha * a @ b + beta * c in place. */
static PyObject *Session_sgemm(SessionObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"a", "b", "c", "alpha", "beta", NULL};
    PyObject *ao, *bo, *co;
    float alpha = 1.0f, beta = 0.0f;
    Py_buffer a, b, c;
    int lda, ldb, ldc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|ff:sgemm", kwlist, &ao, &bo, &co, &alpha,
                                     &beta))
        return NULL;
    funk_accel_session *s = session_of(self);
    if (s == NULL)
        return NULL;
    if (get_matrix(ao, &a, 0, "a", -1, -1, &lda) < 0)
        return NULL;
    Py_ssize_t m = a.shape[0], k = a.shape[1];
    if (get_matrix(bo, &b, 0, "b", -1, -1, &ldb) < 0) {
        PyBuffer_Release(&a);
        return NULL;
    }
    if (b.shape[0] != k) {
        PyErr_Format(PyExc_ValueError, "sgemm: a is %zdx%zd but b has %zd rows", m, k, b.shape[0]);
        goto fail_b;
    }
    Py_ssize_t n = b.shape[1];
    if (get_matrix(co, &c, 1, "c", m, n, &ldc) < 0)
        goto fail_b;
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = funk_accel_sgemm(s, (int)m, (int)n, (int)k, alpha, a.buf, lda, b.buf, ldb, beta, c.buf,
                          ldc);
    PyEval_RestoreThread(ts);
    PyBuffer_Release(&c);
    PyBuffer_Release(&b);
    PyBuffer_Release(&a);
    if (rc < 0)
        return raise_rc(rc);
    return Py_NewRef(co);
fail_b:
    PyBuffer_Release(&b);
    PyBuffer_Release(&a);
    return NULL;
}

/* The shared body of exec and op: typed arguments in and out, each output's used stored. */
static PyObject *call_with_args(SessionObject *self, PyObject *library, const char *symbol,
                                const char *name, PyObject *ins, PyObject *outs, PyObject *used)
{
    funk_accel_session *s = session_of(self);
    if (s == NULL)
        return NULL;
    funk_accel_resource *lib = NULL;
    if (library != NULL && (lib = resource_of(library, 0)) == NULL)
        return NULL;
    if (used != Py_None && !PyList_Check(used)) {
        PyErr_SetString(PyExc_TypeError, "used must be a list or None");
        return NULL;
    }
    argset in, out;
    if (argset_get(ins, 0, &in) < 0)
        return NULL;
    if (argset_get(outs, 1, &out) < 0) {
        argset_release(&in);
        return NULL;
    }
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    if (library != NULL)
        rc = funk_accel_exec(s, lib, symbol, in.args, (size_t)in.n, out.args, (size_t)out.n);
    else
        rc = funk_accel_op(s, name, in.args, (size_t)in.n, out.args, (size_t)out.n);
    PyEval_RestoreThread(ts);
    PyObject *ret = NULL;
    if (store_used(used, &out) == 0)
        ret = rc < 0 ? raise_rc(rc) : PyLong_FromLong(rc);
    argset_release(&out);
    argset_release(&in);
    return ret;
}

static PyObject *Session_exec_args(SessionObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"library", "symbol", "inputs", "outputs", "used", NULL};
    PyObject *lib, *ins, *outs, *used = Py_None;
    const char *sym;
    Py_ssize_t sl;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Os#OO|O:exec_args", kwlist, &lib, &sym, &sl, &ins,
                                     &outs, &used))
        return NULL;
    if (strlen(sym) != (size_t)sl) {
        PyErr_SetString(PyExc_ValueError, "exec: embedded NUL in the symbol");
        return NULL;
    }
    return call_with_args(self, lib, sym, NULL, ins, outs, used);
}

static PyObject *Session_op_args(SessionObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "inputs", "outputs", "used", NULL};
    PyObject *ins, *outs, *used = Py_None;
    const char *name;
    Py_ssize_t nl;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#OO|O:op_args", kwlist, &name, &nl, &ins, &outs,
                                     &used))
        return NULL;
    if (strlen(name) != (size_t)nl) {
        PyErr_SetString(PyExc_ValueError, "op: embedded NUL in the name");
        return NULL;
    }
    return call_with_args(self, NULL, NULL, name, ins, outs, used);
}

/* ---- tensors (model_run) ------------------------------------------------------------------- */

/* dtype <-> buffer format (the struct-module codes numpy exports): one table both ways. */
static const struct {
    uint32_t dtype;
    char fmt;
    Py_ssize_t size;
} dtype_formats[] = {
    {FUNK_ACCEL_DT_F32, 'f', 4}, {FUNK_ACCEL_DT_F64, 'd', 8}, {FUNK_ACCEL_DT_I8, 'b', 1},
    {FUNK_ACCEL_DT_U8, 'B', 1},  {FUNK_ACCEL_DT_I16, 'h', 2}, {FUNK_ACCEL_DT_I32, 'i', 4},
    {FUNK_ACCEL_DT_I64, 'q', 8}, {FUNK_ACCEL_DT_I64, 'l', 8}, {FUNK_ACCEL_DT_BOOL, '?', 1},
    {FUNK_ACCEL_DT_F16, 'e', 2},
};

/* The dtype of a buffer's format, or 0: one native/little-endian item of a known type ('l' is
 * numpy's int64 on LP64, accepted when it is 8 bytes). */
static uint32_t dtype_of_format(const Py_buffer *b)
{
    const char *f = b->format ? b->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    if (f[0] == '\0' || f[1] != '\0')
        return 0;
    for (size_t i = 0; i < sizeof(dtype_formats) / sizeof(dtype_formats[0]); i++)
        if (dtype_formats[i].fmt == f[0] && dtype_formats[i].size == b->itemsize)
            return dtype_formats[i].dtype;
    return 0;
}

static const char *format_of_dtype(uint32_t dtype)
{
    static const char fmts[][2] = {"f", "d", "b", "B", "h", "i", "q", "q", "?", "e"};
    for (size_t i = 0; i < sizeof(dtype_formats) / sizeof(dtype_formats[0]); i++)
        if (dtype_formats[i].dtype == dtype)
            return fmts[i];
    return NULL;
}

/* Bytes of a tensor as its dtype and shape say, or -1 when they are not a valid dense tensor
 * (what a plugin or a remote agent wrote back is checked before Python sees it). */
static Py_ssize_t tensor_bytes(const funk_accel_tensor *t)
{
    size_t es = funk_accel_dtype_size(t->dtype);
    if (es == 0 || format_of_dtype(t->dtype) == NULL || t->rank > FUNK_ACCEL_TENSOR_MAX_RANK)
        return -1;
    size_t n = es;
    for (uint32_t i = 0; i < t->rank; i++) {
        if (t->shape[i] < 1 || (uint64_t)t->shape[i] > (uint64_t)PY_SSIZE_T_MAX / n)
            return -1;
        n *= (size_t)t->shape[i];
    }
    return (Py_ssize_t)n;
}

/* A tensor whose data libfunk-accel allocated (FUNK_ACCEL_TENSOR_F_OWNED): exported through the
 * buffer protocol with its dtype and shape (numpy wraps it without a copy) and freed with
 * funk_accel_tensor_release when the last view is gone. */
typedef struct {
    PyObject_HEAD funk_accel_tensor t;
    Py_ssize_t shape[FUNK_ACCEL_TENSOR_MAX_RANK], strides[FUNK_ACCEL_TENSOR_MAX_RANK];
} TensorDataObject;

static int TensorData_getbuffer(TensorDataObject *self, Py_buffer *view, int flags)
{
    /* Plain bytes for a consumer that did not ask for a shape (bytes(), PyBUF_SIMPLE). */
    if ((flags & PyBUF_ND) != PyBUF_ND)
        return PyBuffer_FillInfo(view, (PyObject *)self, self->t.data, (Py_ssize_t)self->t.used, 0,
                                 flags);
    Py_ssize_t es = (Py_ssize_t)funk_accel_dtype_size(self->t.dtype);
    for (int i = (int)self->t.rank - 1; i >= 0; i--) {
        self->shape[i] = (Py_ssize_t)self->t.shape[i];
        self->strides[i] =
            (i == (int)self->t.rank - 1) ? es : self->strides[i + 1] * self->shape[i + 1];
    }
    view->buf = self->t.data;
    view->obj = Py_NewRef((PyObject *)self);
    view->len = (Py_ssize_t)self->t.used;
    view->readonly = 0;
    view->itemsize = es;
    view->format = (flags & PyBUF_FORMAT) ? (char *)format_of_dtype(self->t.dtype) : NULL;
    view->ndim = (int)self->t.rank;
    view->shape = self->shape;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    return 0;
}

static void TensorData_dealloc(TensorDataObject *self)
{
    funk_accel_tensor_release(&self->t);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyBufferProcs TensorData_as_buffer = {
    .bf_getbuffer = (getbufferproc)(void (*)(void))TensorData_getbuffer,
};

static PyTypeObject TensorDataType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "funk_accel._native.TensorData",
    .tp_basicsize = sizeof(TensorDataObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Output data libfunk-accel allocated; a buffer (numpy.asarray wraps it).",
    .tp_dealloc = (destructor)(void (*)(void))TensorData_dealloc,
    .tp_as_buffer = &TensorData_as_buffer,
};

/* A (name or None, object) pair of model_run's argument lists. */
static int tensor_pair(PyObject *item, const char *side, Py_ssize_t i, const char **name,
                       PyObject **obj)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError, "model_run %s %zd: expected a (name, array) pair", side, i);
        return -1;
    }
    PyObject *n = PyTuple_GET_ITEM(item, 0);
    *obj = PyTuple_GET_ITEM(item, 1);
    *name = NULL;
    if (n == Py_None)
        return 0;
    Py_ssize_t len;
    if (!PyUnicode_Check(n) || (*name = PyUnicode_AsUTF8AndSize(n, &len)) == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "model_run %s %zd: a name is a str or None", side, i);
        return -1;
    }
    if ((size_t)len != strlen(*name) || (size_t)len >= FUNK_ACCEL_TENSOR_NAME_MAX) {
        PyErr_Format(PyExc_ValueError, "model_run %s %zd: name with a NUL or over %u bytes", side,
                     i, FUNK_ACCEL_TENSOR_NAME_MAX - 1);
        return -1;
    }
    return 0;
}

/* A C-contiguous buffer of a known dtype as a tensor descriptor (shape from the buffer). */
static int tensor_from_buffer(PyObject *obj, int writable, const char *side, Py_ssize_t i,
                              const char *name, Py_buffer *b, funk_accel_tensor *t)
{
    if (PyObject_GetBuffer(obj, b,
                           PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    uint32_t dt = dtype_of_format(b);
    const char *why = NULL;
    if (dt == 0)
        why = "has no tensor dtype (f32 f64 i8 u8 i16 i32 i64 bool f16)";
    else if (b->ndim > (int)FUNK_ACCEL_TENSOR_MAX_RANK)
        why = "has more than 8 dimensions";
    if (why != NULL) {
        PyErr_Format(dt == 0 ? PyExc_TypeError : PyExc_ValueError, "model_run %s %zd %s", side, i,
                     why);
        PyBuffer_Release(b);
        return -1;
    }
    int64_t shape[FUNK_ACCEL_TENSOR_MAX_RANK];
    for (int d = 0; d < b->ndim; d++)
        shape[d] = b->shape ? (int64_t)b->shape[d] : (int64_t)(b->len / b->itemsize);
    int rc = funk_accel_tensor_init(t, name, dt, (uint32_t)b->ndim, shape, b->buf, (size_t)b->len);
    if (rc < 0) {
        PyBuffer_Release(b);
        raise_rc(rc);
        return -1;
    }
    return 0;
}

/* On -ENOSPC the library says what each output needs (bytes in used, dtype and shape): the
 * raised Error carries them as e.needed = [(dtype, shape, bytes)] so a caller can size a retry.
 * Only what passes the same checks as a result is reported; the others are None. */
static void attach_needed(const funk_accel_tensor *out, Py_ssize_t n_out)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *list = value ? PyList_New(n_out) : NULL;
    for (Py_ssize_t i = 0; list != NULL && i < n_out; i++) {
        PyObject *item = NULL;
        Py_ssize_t nb = tensor_bytes(&out[i]);
        if (nb >= 0 && (size_t)nb == out[i].used) {
            PyObject *shape = PyTuple_New(out[i].rank);
            for (uint32_t d = 0; shape != NULL && d < out[i].rank; d++)
                PyTuple_SET_ITEM(shape, d, PyLong_FromLongLong(out[i].shape[d]));
            if (shape != NULL)
                item = Py_BuildValue("(INn)", out[i].dtype, shape, nb);
        } else {
            item = Py_NewRef(Py_None);
        }
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    if (list != NULL) {
        PyObject_SetAttrString(value, "needed", list);
        Py_DECREF(list);
    }
    PyErr_Clear(); /* a failure to annotate leaves the original error */
    PyErr_Restore(type, value, tb);
}

/* model_run(model, inputs, outputs) -> [(dtype, shape, used, TensorData or None)]
 * inputs: [(name or None, array)]; outputs: [(name or None, array or None)], an array being
 * written in place and None letting the library allocate. */
static PyObject *Session_model_run(SessionObject *self, PyObject *args)
{
    PyObject *model, *ins, *outs, *fin = NULL, *fout = NULL, *ret = NULL;
    funk_accel_tensor in[FUNK_ACCEL_TENSOR_MAX], out[FUNK_ACCEL_TENSOR_MAX];
    Py_buffer inb[FUNK_ACCEL_TENSOR_MAX], outb[FUNK_ACCEL_TENSOR_MAX];
    int outheld[FUNK_ACCEL_TENSOR_MAX] = {0};
    Py_ssize_t n_in = 0, n_out = 0, held_in = 0, i;
    if (!PyArg_ParseTuple(args, "OOO:model_run", &model, &ins, &outs))
        return NULL;
    funk_accel_session *s = session_of(self);
    if (s == NULL)
        return NULL;
    funk_accel_resource *m = resource_of(model, 0);
    if (m == NULL)
        return NULL;
    fin = PySequence_Fast(ins, "model_run: inputs must be a sequence");
    fout = fin ? PySequence_Fast(outs, "model_run: outputs must be a sequence") : NULL;
    if (fout == NULL)
        goto out;
    n_in = PySequence_Fast_GET_SIZE(fin);
    n_out = PySequence_Fast_GET_SIZE(fout);
    if (n_in < 1 || n_out < 1 || n_in > (Py_ssize_t)FUNK_ACCEL_TENSOR_MAX ||
        n_out > (Py_ssize_t)FUNK_ACCEL_TENSOR_MAX) {
        PyErr_Format(PyExc_ValueError, "model_run: 1..%u inputs and outputs",
                     FUNK_ACCEL_TENSOR_MAX);
        n_out = 0;
        goto out;
    }
    memset(out, 0, sizeof(out));
    for (i = 0; i < n_in; i++) {
        const char *name;
        PyObject *obj;
        if (tensor_pair(PySequence_Fast_GET_ITEM(fin, i), "input", i, &name, &obj) < 0 ||
            tensor_from_buffer(obj, 0, "input", i, name, &inb[i], &in[i]) < 0)
            goto out;
        held_in = i + 1;
    }
    for (i = 0; i < n_out; i++) {
        const char *name;
        PyObject *obj;
        if (tensor_pair(PySequence_Fast_GET_ITEM(fout, i), "output", i, &name, &obj) < 0)
            goto out;
        if (obj == Py_None) {
            out[i].name = name; /* data NULL, size 0: the library allocates */
            continue;
        }
        if (tensor_from_buffer(obj, 1, "output", i, name, &outb[i], &out[i]) < 0)
            goto out;
        outheld[i] = 1;
    }
    PyThreadState *ts = PyEval_SaveThread();
    int rc = funk_accel_model_run(s, m, in, (size_t)n_in, out, (size_t)n_out);
    PyEval_RestoreThread(ts);
    if (rc < 0) {
        raise_rc(rc);
        if (rc == -ENOSPC)
            attach_needed(out, n_out);
        goto out;
    }
    /* Check every answer before handing any to Python: dtype known, shape valid, used exactly
     * the shape's bytes and within the buffer. */
    for (i = 0; i < n_out; i++) {
        Py_ssize_t nb = tensor_bytes(&out[i]);
        if (nb < 0 || (size_t)nb != out[i].used || out[i].used > out[i].size ||
            (out[i].used > 0 && out[i].data == NULL)) {
            PyErr_Format(accel_error,
                         "model_run: output %zd came back inconsistent (dtype %u, "
                         "rank %u, %zu bytes)",
                         i, out[i].dtype, out[i].rank, out[i].used);
            goto out;
        }
    }
    ret = PyList_New(n_out);
    for (i = 0; ret != NULL && i < n_out; i++) {
        PyObject *t = PyTuple_New(4), *shape = PyTuple_New(out[i].rank);
        if (t == NULL || shape == NULL) {
            Py_XDECREF(shape);
            goto fail_t;
        }
        PyTuple_SET_ITEM(t, 1, shape);
        for (uint32_t d = 0; d < out[i].rank; d++)
            PyTuple_SET_ITEM(shape, d, PyLong_FromLongLong(out[i].shape[d]));
        PyTuple_SET_ITEM(t, 0, PyLong_FromUnsignedLong(out[i].dtype));
        PyTuple_SET_ITEM(t, 2, PyLong_FromSize_t(out[i].used));
        if (out[i].flags & FUNK_ACCEL_TENSOR_F_OWNED) {
            TensorDataObject *td = PyObject_New(TensorDataObject, &TensorDataType);
            if (td == NULL)
                goto fail_t;
            td->t = out[i];
            memset(&out[i], 0, sizeof(out[i])); /* the object owns the data now */
            PyTuple_SET_ITEM(t, 3, (PyObject *)td);
        } else {
            PyTuple_SET_ITEM(t, 3, Py_NewRef(Py_None));
        }
        PyList_SET_ITEM(ret, i, t);
        if (PyErr_Occurred()) /* a PyLong above failed */
            Py_CLEAR(ret);
        continue;
    fail_t:
        Py_XDECREF(t);
        Py_CLEAR(ret);
    }
out:
    for (i = 0; i < n_out; i++) {
        if (outheld[i])
            PyBuffer_Release(&outb[i]);
        funk_accel_tensor_release(&out[i]); /* whatever no Python object took */
    }
    for (i = 0; i < held_in; i++)
        PyBuffer_Release(&inb[i]);
    Py_XDECREF(fin);
    Py_XDECREF(fout);
    return ret;
}

static PyMethodDef Session_methods[] = {
    {"delete", FN(Session_delete), METH_NOARGS,
     "Deletes the session (unregistering its resources)."},
    {"close", FN(Session_exit), METH_NOARGS, "delete() unless already deleted."},
    {"register", FN(Session_register), METH_O, "register(resource)"},
    {"unregister", FN(Session_unregister), METH_O, "unregister(resource)"},
    {"noop", FN(Session_noop), METH_NOARGS, "The whole dispatch path, no work."},
    {"image_classify", FN(Session_image_classify), METH_VARARGS | METH_KEYWORDS,
     "image_classify(image, model=None, max=5) -> [Label]: image is JPEG/PNG bytes (any "
     "contiguous buffer)."},
    {"image_detect", FN(Session_image_detect), METH_VARARGS | METH_KEYWORDS,
     "image_detect(image, model=None, min_score_pct=0, max=16) -> [Detection]"},
    {"sgemm_into", FN(Session_sgemm), METH_VARARGS | METH_KEYWORDS,
     "sgemm_into(a, b, c, alpha=1.0, beta=0.0) -> c: c = alpha*a@b + beta*c in place "
     "(float32, rows contiguous)."},
    {"exec_args", FN(Session_exec_args), METH_VARARGS | METH_KEYWORDS,
     "exec_args(library, symbol, inputs, outputs, used=None) -> int: (type, buffer) pairs."},
    {"op_args", FN(Session_op_args), METH_VARARGS | METH_KEYWORDS,
     "op_args(name, inputs, outputs, used=None) -> int: (type, buffer) pairs."},
    {"model_run_raw", FN(Session_model_run), METH_VARARGS,
     "model_run_raw(model, inputs, outputs) -> [(dtype, shape, used, data)]: (name, array) "
     "pairs; an output array None lets the library allocate."},
    {"__enter__", FN(Session_enter), METH_NOARGS, NULL},
    {"__exit__", FN(Session_exit), METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Session_getset[] = {
    {"closed", (getter)(void (*)(void))Session_get_closed, NULL, "True once deleted.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "funk_accel._native.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Session(): a tenant's context; resources are registered to it.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)(void (*)(void))Session_init,
    .tp_dealloc = (destructor)(void (*)(void))Session_dealloc,
    .tp_weaklistoffset = offsetof(SessionObject, weakrefs),
    .tp_methods = Session_methods,
    .tp_getset = Session_getset,
};

/* ---- module functions ---------------------------------------------------------------------- */

static PyObject *mod_version(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyLong_FromUnsignedLong(funk_accel_version());
}

static PyObject *mod_strerror(PyObject *m, PyObject *arg)
{
    (void)m;
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    if (v < -INT32_MAX || v > INT32_MAX)
        v = INT32_MAX;
    return PyUnicode_FromString(funk_accel_strerror(v > 0 ? -(int)v : (int)v));
}

static PyObject *mod_init(PyObject *m, PyObject *args)
{
    (void)m;
    const char *plugins = NULL;
    if (!PyArg_ParseTuple(args, "|z:init", &plugins))
        return NULL;
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = funk_accel_init(plugins);
    PyEval_RestoreThread(ts);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

static PyObject *mod_fini(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    PyThreadState *ts = PyEval_SaveThread();
    funk_accel_fini();
    PyEval_RestoreThread(ts);
    Py_RETURN_NONE;
}

static PyObject *mod_plugin_load(PyObject *m, PyObject *arg)
{
    (void)m;
    PyObject *enc;
    if (!PyUnicode_FSConverter(arg, &enc))
        return NULL;
    int rc;
    const char *p = PyBytes_AS_STRING(enc);
    PyThreadState *ts = PyEval_SaveThread();
    rc = funk_accel_plugin_load(p);
    PyEval_RestoreThread(ts);
    Py_DECREF(enc);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

static PyObject *opt_str(const char *s)
{
    if (s == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

/* [(name, version, description, priority, ops, path, available)] */
static PyObject *mod_plugins(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    funk_accel_plugin_info info[64];
    int n = funk_accel_plugins(info, 64);
    if (n < 0)
        return raise_rc(n);
    if (n > 64)
        n = 64;
    PyObject *list = PyList_New(n);
    for (int i = 0; list != NULL && i < n; i++) {
        const funk_accel_plugin_info *p = &info[i];
        PyObject *t = Py_BuildValue("(NNNikNO)", opt_str(p->name), opt_str(p->version),
                                    opt_str(p->description), p->priority, (unsigned long)p->ops,
                                    opt_str(p->path), p->available ? Py_True : Py_False);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *mod_op_name(PyObject *m, PyObject *arg)
{
    (void)m;
    long op = PyLong_AsLong(arg);
    if (op == -1 && PyErr_Occurred())
        return NULL;
    if (op < 0 || op >= FUNK_ACCEL_OP_COUNT) {
        PyErr_Format(PyExc_ValueError, "no operation %ld", op);
        return NULL;
    }
    return opt_str(funk_accel_op_name((funk_accel_op_id)op));
}

static PyMethodDef module_methods[] = {
    {"version", mod_version, METH_NOARGS, "Version of the linked libfunk-accel (major<<16|...)."},
    {"strerror", mod_strerror, METH_O, "strerror(errno) -> funk_accel_strerror text."},
    {"init", mod_init, METH_VARARGS, "init(plugins=None): explicit plugin list (colon-separated)."},
    {"fini", mod_fini, METH_NOARGS, "Unloads every plugin; open sessions are deleted."},
    {"plugin_load", mod_plugin_load, METH_O, "plugin_load(name_or_path)"},
    {"plugins", mod_plugins, METH_NOARGS, "Loaded plugins as tuples."},
    {"op_name", mod_op_name, METH_O, "op_name(op_id) -> str"},
    {NULL, NULL, 0, NULL},
};

static PyStructSequence_Field label_fields[] = {
    {"label", "class name"},
    {"class_id", "class index"},
    {"score", "0..1"},
    {NULL, NULL},
};
static PyStructSequence_Desc label_desc = {"funk_accel.Label", "One classification result.",
                                           label_fields, 3};

static PyStructSequence_Field detection_fields[] = {
    {"label", "class name"},
    {"class_id", "class index"},
    {"score", "0..1"},
    {"x", "left, fraction of the width"},
    {"y", "top, fraction of the height"},
    {"w", "width fraction"},
    {"h", "height fraction"},
    {NULL, NULL},
};
static PyStructSequence_Desc detection_desc = {
    "funk_accel.Detection", "One detected object: label, score and box.", detection_fields, 7};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    "funk_accel._native",
    "CPython extension over libfunk-accel; use the funk_accel package.",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

static int add_int(PyObject *m, const char *name, long v)
{
    return PyModule_AddIntConstant(m, name, v);
}

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&ResourceType) < 0 || PyType_Ready(&SessionType) < 0 ||
        PyType_Ready(&TensorDataType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL)
        return NULL;
    label_type = PyStructSequence_NewType(&label_desc);
    detection_type = PyStructSequence_NewType(&detection_desc);
    accel_error = PyErr_NewExceptionWithDoc(
        "funk_accel.Error",
        "A libfunk-accel call failed: errno is the code, strerror funk_accel_strerror's text.",
        PyExc_OSError, NULL);
    if (label_type == NULL || detection_type == NULL || accel_error == NULL)
        goto fail;
    if (PyModule_AddObjectRef(m, "Error", accel_error) < 0 ||
        PyModule_AddObjectRef(m, "Label", (PyObject *)label_type) < 0 ||
        PyModule_AddObjectRef(m, "Detection", (PyObject *)detection_type) < 0 ||
        PyModule_AddObjectRef(m, "Session", (PyObject *)&SessionType) < 0 ||
        PyModule_AddObjectRef(m, "Resource", (PyObject *)&ResourceType) < 0)
        goto fail;
    if (add_int(m, "RES_MODEL", FUNK_ACCEL_RES_MODEL) < 0 ||
        add_int(m, "RES_DATA", FUNK_ACCEL_RES_DATA) < 0 ||
        add_int(m, "RES_LIBRARY", FUNK_ACCEL_RES_LIBRARY) < 0 ||
        add_int(m, "ARG_BYTES", FUNK_ACCEL_ARG_BYTES) < 0 ||
        add_int(m, "ARG_I32", FUNK_ACCEL_ARG_I32) < 0 ||
        add_int(m, "ARG_I64", FUNK_ACCEL_ARG_I64) < 0 ||
        add_int(m, "ARG_F32", FUNK_ACCEL_ARG_F32) < 0 ||
        add_int(m, "ARG_F64", FUNK_ACCEL_ARG_F64) < 0 ||
        add_int(m, "ARG_STRING", FUNK_ACCEL_ARG_STRING) < 0 ||
        add_int(m, "ARG_F32_ARRAY", FUNK_ACCEL_ARG_F32_ARRAY) < 0 ||
        add_int(m, "HASH_SIZE", FUNK_ACCEL_HASH_SIZE) < 0 ||
        add_int(m, "LABEL_MAX", FUNK_ACCEL_LABEL_MAX) < 0 ||
        add_int(m, "API_VERSION", FUNK_ACCEL_VERSION) < 0 ||
        add_int(m, "DT_F32", FUNK_ACCEL_DT_F32) < 0 ||
        add_int(m, "DT_F64", FUNK_ACCEL_DT_F64) < 0 || add_int(m, "DT_I8", FUNK_ACCEL_DT_I8) < 0 ||
        add_int(m, "DT_U8", FUNK_ACCEL_DT_U8) < 0 || add_int(m, "DT_I16", FUNK_ACCEL_DT_I16) < 0 ||
        add_int(m, "DT_I32", FUNK_ACCEL_DT_I32) < 0 ||
        add_int(m, "DT_I64", FUNK_ACCEL_DT_I64) < 0 ||
        add_int(m, "DT_BOOL", FUNK_ACCEL_DT_BOOL) < 0 ||
        add_int(m, "DT_F16", FUNK_ACCEL_DT_F16) < 0 ||
        add_int(m, "TENSOR_MAX", FUNK_ACCEL_TENSOR_MAX) < 0 ||
        add_int(m, "TENSOR_MAX_RANK", FUNK_ACCEL_TENSOR_MAX_RANK) < 0)
        goto fail;
    for (int op = 0; op < FUNK_ACCEL_OP_COUNT; op++) {
        char name[64];
        const char *n = funk_accel_op_name((funk_accel_op_id)op);
        snprintf(name, sizeof(name), "OP_%s", n ? n : "UNKNOWN");
        for (char *p = name; *p; p++)
            *p = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : (*p == '-' ? '_' : *p);
        if (add_int(m, name, op) < 0)
            goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
