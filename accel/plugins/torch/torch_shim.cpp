// SPDX-License-Identifier: Apache-2.0
// C++ shim over libtorch for the torch plugin: TorchScript load and forward; no exception crosses
// into C.
#include "torch_shim.h"

#include <torch/script.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <vector>

struct torch_net {
    torch::jit::Module module;
    std::vector<std::string> params; // forward's parameter names, without self
};

static void set_err(char *err, size_t len, const char *what)
{
    if (err && len)
        snprintf(err, len, "%s", what);
}

extern "C" int torch_shim_load(torch_net **out, const void *data, size_t len, char *err,
                               size_t err_len)
{
    torch_net *n = nullptr;
    try {
        n = new torch_net;
        std::istringstream in(std::string(static_cast<const char *>(data), len));
        n->module = torch::jit::load(in, torch::kCPU);
        n->module.eval();
        const auto &args = n->module.get_method("forward").function().getSchema().arguments();
        for (size_t i = 1; i < args.size(); i++)
            n->params.push_back(args[i].name());
        *out = n;
        return 0;
    } catch (const std::bad_alloc &) {
        delete n;
        return -ENOMEM;
    } catch (const std::exception &e) { // c10::Error included
        std::string what = e.what();
        set_err(err, err_len, what.substr(0, what.find('\n')).c_str());
        delete n;
        return -EBADMSG;
    }
}

extern "C" void torch_shim_free(torch_net *n)
{
    delete n;
}

static bool scalar_of(uint32_t dtype, c10::ScalarType *t)
{
    switch (dtype) {
    case FUNK_ACCEL_DT_F32:
        *t = torch::kFloat32;
        return true;
    case FUNK_ACCEL_DT_F64:
        *t = torch::kFloat64;
        return true;
    case FUNK_ACCEL_DT_I8:
        *t = torch::kInt8;
        return true;
    case FUNK_ACCEL_DT_U8:
        *t = torch::kUInt8;
        return true;
    case FUNK_ACCEL_DT_I16:
        *t = torch::kInt16;
        return true;
    case FUNK_ACCEL_DT_I32:
        *t = torch::kInt32;
        return true;
    case FUNK_ACCEL_DT_I64:
        *t = torch::kInt64;
        return true;
    case FUNK_ACCEL_DT_BOOL:
        *t = torch::kBool;
        return true;
    case FUNK_ACCEL_DT_F16:
        *t = torch::kFloat16;
        return true;
    default:
        return false;
    }
}

static uint32_t dtype_of(c10::ScalarType t)
{
    switch (t) {
    case torch::kFloat32:
        return FUNK_ACCEL_DT_F32;
    case torch::kFloat64:
        return FUNK_ACCEL_DT_F64;
    case torch::kInt8:
        return FUNK_ACCEL_DT_I8;
    case torch::kUInt8:
        return FUNK_ACCEL_DT_U8;
    case torch::kInt16:
        return FUNK_ACCEL_DT_I16;
    case torch::kInt32:
        return FUNK_ACCEL_DT_I32;
    case torch::kInt64:
        return FUNK_ACCEL_DT_I64;
    case torch::kBool:
        return FUNK_ACCEL_DT_BOOL;
    case torch::kFloat16:
        return FUNK_ACCEL_DT_F16;
    default:
        return 0;
    }
}

static int put_output(funk_accel_tensor *t, const torch::Tensor &v, char *err, size_t err_len)
{
    torch::Tensor c = v.contiguous();
    uint32_t dt = dtype_of(c.scalar_type());
    if (dt == 0 || c.dim() > (int64_t)FUNK_ACCEL_TENSOR_MAX_RANK || !c.device().is_cpu()) {
        set_err(err, err_len, "an output of a type or rank funk has no tensor for");
        return -EBADMSG;
    }
    int64_t shape[FUNK_ACCEL_TENSOR_MAX_RANK];
    for (int64_t d = 0; d < c.dim(); d++)
        shape[d] = c.size(d);
    void *dst;
    int rc = funk_accel_tensor_output(t, dt, (uint32_t)c.dim(), shape, &dst);
    if (rc < 0)
        return rc;
    if (t->used != (size_t)c.nbytes()) {
        set_err(err, err_len, "output size disagrees with its shape");
        return -EPROTO;
    }
    std::memcpy(dst, c.data_ptr(), t->used);
    return 0;
}

extern "C" int torch_shim_run(torch_net *n, const funk_accel_tensor *in, size_t n_in,
                              funk_accel_tensor *out, size_t n_out, char *err, size_t err_len)
{
    try {
        c10::InferenceMode guard;
        // Bind inputs: by name to forward's parameters, else by position. (No allocations
        // here besides forward's argument vector: this runs on every call.)
        size_t np = n->params.size();
        std::vector<c10::IValue> args(np);
        bool bound[FUNK_ACCEL_TENSOR_MAX] = {false};
        if (n_in > np || np > FUNK_ACCEL_TENSOR_MAX) {
            set_err(err, err_len,
                    "more inputs than forward() takes, or a forward() of more "
                    "parameters than funk passes");
            return -EINVAL;
        }
        for (size_t i = 0; i < n_in; i++) {
            size_t at = i;
            if (in[i].name && in[i].name[0]) {
                at = np;
                for (size_t p = 0; p < np; p++)
                    if (n->params[p] == in[i].name)
                        at = p;
                if (at == np) {
                    set_err(err, err_len, "an input name forward() has no parameter for");
                    return -EINVAL;
                }
            }
            if (bound[at]) {
                set_err(err, err_len, "two inputs bound to one parameter");
                return -EINVAL;
            }
            c10::ScalarType st;
            if (!scalar_of(in[i].dtype, &st))
                return -EINVAL;
            // A view of the caller's bytes (read-only use: inference does not write inputs).
            args[at] = torch::from_blob(in[i].data, c10::IntArrayRef(in[i].shape, in[i].rank),
                                        torch::TensorOptions().dtype(st));
            bound[at] = true;
        }
        for (size_t p = 0; p < np; p++) {
            if (!bound[p]) {
                set_err(err, err_len, "forward() has a parameter no input was given for");
                return -EINVAL;
            }
        }
        c10::IValue r = n->module.forward(std::move(args));
        // The result's tensors, read in place: one tensor, or a tuple or list of them.
        size_t n_res;
        if (r.isTensor()) {
            n_res = 1;
        } else if (r.isTuple()) {
            n_res = r.toTupleRef().elements().size();
        } else if (r.isTensorList()) {
            n_res = r.toTensorList().size();
        } else {
            set_err(err, err_len, "forward() returned neither a tensor nor a tuple/list of them");
            return -EBADMSG;
        }
        auto result = [&r](size_t k) -> torch::Tensor {
            if (r.isTensor())
                return r.toTensor();
            if (r.isTuple()) {
                const c10::IValue &e = r.toTupleRef().elements()[k];
                return e.isTensor() ? e.toTensor() : torch::Tensor();
            }
            return r.toTensorList().get(k);
        };
        int rc = 0;
        for (size_t i = 0; i < n_out; i++) {
            size_t at = i;
            if (out[i].name && out[i].name[0]) {
                char *end;
                unsigned long k = strtoul(out[i].name, &end, 10);
                if (*end != '\0' || end == out[i].name) {
                    set_err(err, err_len, "TorchScript outputs are named by index (\"0\", \"1\")");
                    return -EINVAL;
                }
                at = k;
            }
            if (at >= n_res) {
                set_err(err, err_len, "more outputs asked for than forward() returns");
                return -EINVAL;
            }
            torch::Tensor t = result(at);
            if (!t.defined()) {
                set_err(err, err_len, "forward() returned a tuple holding a non-tensor");
                return -EBADMSG;
            }
            int orc = put_output(&out[i], t, err, err_len);
            if (orc < 0 && orc != -ENOSPC)
                return orc;
            if (orc < 0)
                rc = orc; // the remaining outputs still get their shapes
        }
        return rc;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const std::exception &e) {
        std::string what = e.what();
        set_err(err, err_len, what.substr(0, what.find('\n')).c_str());
        return -EINVAL; // shapes or dtypes the model does not accept
    }
}

extern "C" const char *torch_shim_version(void)
{
    return TORCH_VERSION;
}

extern "C" int torch_shim_cuda(void)
{
    try {
        return torch::cuda::is_available() ? 1 : 0;
    } catch (const std::exception &) {
        return 0;
    }
}

extern "C" void torch_shim_set_threads(int threads)
{
    try {
        at::set_num_threads(threads);
    } catch (const std::exception &) {
    }
}
