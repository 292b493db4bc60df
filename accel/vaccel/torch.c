/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel's Torch model operations on funk_accel_model_run (funk's torch plugin runs TorchScript;
 * any transport funk has carries the call). Output tensors are new, owned by the caller, freed
 * with vaccel_torch_tensor_delete, as vAccel does. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t funk_dtype(enum vaccel_torch_data_type t)
{
    switch (t) {
    case VACCEL_TORCH_BYTE:
        return FUNK_ACCEL_DT_U8;
    case VACCEL_TORCH_CHAR:
        return FUNK_ACCEL_DT_I8;
    case VACCEL_TORCH_SHORT:
        return FUNK_ACCEL_DT_I16;
    case VACCEL_TORCH_INT:
        return FUNK_ACCEL_DT_I32;
    case VACCEL_TORCH_LONG:
        return FUNK_ACCEL_DT_I64;
    case VACCEL_TORCH_HALF:
        return FUNK_ACCEL_DT_F16;
    case VACCEL_TORCH_FLOAT:
        return FUNK_ACCEL_DT_F32;
    default:
        return 0;
    }
}

static int vaccel_dtype(uint32_t t, enum vaccel_torch_data_type *out)
{
    switch (t) {
    case FUNK_ACCEL_DT_U8:
        *out = VACCEL_TORCH_BYTE;
        return 0;
    case FUNK_ACCEL_DT_I8:
        *out = VACCEL_TORCH_CHAR;
        return 0;
    case FUNK_ACCEL_DT_I16:
        *out = VACCEL_TORCH_SHORT;
        return 0;
    case FUNK_ACCEL_DT_I32:
        *out = VACCEL_TORCH_INT;
        return 0;
    case FUNK_ACCEL_DT_I64:
        *out = VACCEL_TORCH_LONG;
        return 0;
    case FUNK_ACCEL_DT_F16:
        *out = VACCEL_TORCH_HALF;
        return 0;
    case FUNK_ACCEL_DT_F32:
        *out = VACCEL_TORCH_FLOAT;
        return 0;
    default:
        return VACCEL_ENOTSUP; /* f64, bool: vAccel's Torch API has no type for them */
    }
}

EXPORT int vaccel_torch_model_load(struct vaccel_session *sess, struct vaccel_resource *model)
{
    funk_accel_session *s;
    funk_accel_resource *m;
    /* The plugin loads the module on its first run (and keeps it while the resource lives). */
    return vaccel_funk_model(sess, model, &s, &m);
}

EXPORT int vaccel_torch_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
                                  const struct vaccel_torch_buffer *run_options,
                                  struct vaccel_torch_tensor *const *inputs, int nr_inputs,
                                  struct vaccel_torch_tensor **outputs, int nr_outputs)
{
    (void)run_options; /* vAccel's examples pass a label ("classify") or NULL: nothing to do */
    funk_accel_session *s;
    funk_accel_resource *m;
    int rc = vaccel_funk_model(sess, model, &s, &m);
    if (rc != VACCEL_OK)
        return rc;
    if (inputs == NULL || outputs == NULL || nr_inputs < 1 || nr_outputs < 1 ||
        nr_inputs > (int)FUNK_ACCEL_TENSOR_MAX || nr_outputs > (int)FUNK_ACCEL_TENSOR_MAX)
        return VACCEL_EINVAL;
    funk_accel_tensor in[FUNK_ACCEL_TENSOR_MAX], out[FUNK_ACCEL_TENSOR_MAX];
    for (int i = 0; i < nr_inputs; i++) {
        const struct vaccel_torch_tensor *t = inputs[i];
        if (t == NULL || t->data == NULL || t->nr_dims < 0 ||
            t->nr_dims > (int64_t)FUNK_ACCEL_TENSOR_MAX_RANK || (t->nr_dims && !t->dims))
            return VACCEL_EINVAL;
        rc = funk_accel_tensor_init(&in[i], NULL, funk_dtype(t->data_type), (uint32_t)t->nr_dims,
                                    t->dims, t->data, t->size);
        if (rc < 0)
            return vaccel_funk_err(rc);
    }
    for (int i = 0; i < nr_outputs; i++)
        funk_accel_tensor_init(&out[i], NULL, 0, 0, NULL, NULL, 0); /* funk allocates */
    rc = funk_accel_model_run(s, m, in, (size_t)nr_inputs, out, (size_t)nr_outputs);
    if (rc < 0)
        return vaccel_funk_err(rc);
    int i = 0;
    for (; i < nr_outputs; i++) {
        enum vaccel_torch_data_type dt;
        rc = vaccel_dtype(out[i].dtype, &dt);
        if (rc == VACCEL_OK)
            rc = vaccel_torch_tensor_new(&outputs[i], out[i].rank, out[i].shape, dt);
        if (rc != VACCEL_OK)
            break;
        /* funk's output buffer is plain malloc memory: the tensor takes it over and
         * vaccel_torch_tensor_delete frees it. */
        outputs[i]->data = out[i].data;
        outputs[i]->size = out[i].used;
        outputs[i]->owned = true;
        out[i].data = NULL;
        out[i].flags = 0;
    }
    if (rc != VACCEL_OK) {
        for (int j = 0; j < i; j++) {
            vaccel_torch_tensor_delete(outputs[j]);
            outputs[j] = NULL;
        }
        for (int j = i; j < nr_outputs; j++)
            funk_accel_tensor_release(&out[j]);
    }
    return rc;
}
