/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel-style Torch inference program: a TorchScript model file as a resource, one float
 * tensor in, the model's first output printed, the way vAccel's torch example does it (session,
 * resource, register, tensor_new + set_data, model_load, model_run in a loop, tensor_delete).
 *   usage: vaccel-torch MODEL.pt [ITERATIONS]
 * Input: the 2x4 tensor of tests/accel/tensor; prints "out[i] = v" for the 6 output values. */
#include "vaccel.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char *argv[])
{
    int ret;
    struct vaccel_session sess;
    struct vaccel_resource model;
    struct vaccel_torch_tensor *in = NULL;
    struct vaccel_torch_buffer run_options = {0};
    struct vaccel_prof_region torch_model_run_stats =
        VACCEL_PROF_REGION_INIT("vaccel_torch_model_run");
    float data[8] = {1.0f, -2.0f, 3.0f, 0.5f, -1.0f, 0.25f, 2.0f, -3.0f};
    int64_t dims[] = {2, 4};

    if (argc < 2) {
        fprintf(stderr, "usage: %s <model> [iterations]\n", argv[0]);
        return VACCEL_EINVAL;
    }

    ret = vaccel_resource_init(&model, argv[1], VACCEL_RESOURCE_MODEL);
    if (ret != VACCEL_OK) {
        fprintf(stderr, "Could not create model resource\n");
        return ret;
    }
    printf("Created new model resource %" PRId64 "\n", model.id);

    ret = vaccel_session_init(&sess, 0);
    if (ret != VACCEL_OK) {
        fprintf(stderr, "Could not initialize vAccel session\n");
        goto release_resource;
    }
    printf("Initialized session with id: %" PRId64 "\n", sess.id);

    ret = vaccel_resource_register(&model, &sess);
    if (ret != VACCEL_OK) {
        fprintf(stderr, "Could not register model with session\n");
        goto release_session;
    }

    ret = vaccel_torch_model_load(&sess, &model);
    if (ret != VACCEL_OK) {
        fprintf(stderr, "Could not load model: %d\n", ret);
        goto unregister_resource;
    }

    ret = vaccel_torch_tensor_new(&in, 2, dims, VACCEL_TORCH_FLOAT);
    if (ret != VACCEL_OK) {
        fprintf(stderr, "Could not allocate memory\n");
        goto unregister_resource;
    }
    ret = vaccel_torch_tensor_set_data(in, data, sizeof(data));
    if (ret != VACCEL_OK)
        goto delete_in_tensor;

    vaccel_torch_buffer_init(&run_options, NULL, 0);

    struct vaccel_torch_tensor *out = NULL;
    const int iter = (argc > 2) ? atoi(argv[2]) : 1;
    for (int i = 0; i < iter; i++) {
        vaccel_prof_region_start(&torch_model_run_stats);
        ret = vaccel_torch_model_run(&sess, &model, &run_options, &in, 1, &out, 1);
        vaccel_prof_region_stop(&torch_model_run_stats);
        if (ret != VACCEL_OK) {
            fprintf(stderr, "Could not run op: %d\n", ret);
            goto delete_in_tensor;
        }

        printf("Success!\n");
        printf("Result Tensor :\n");
        printf("Output tensor => type:%u nr_dims:%" PRId64 " size:%zuB\n", out->data_type,
               out->nr_dims, out->size);
        for (size_t j = 0; j < out->size / sizeof(float); j++)
            printf("out[%zu] = %.6f\n", j, (double)((float *)out->data)[j]);

        if (vaccel_torch_tensor_delete(out) != VACCEL_OK) {
            fprintf(stderr, "could not delete output tensor\n");
            goto delete_in_tensor;
        }
    }

delete_in_tensor:
    vaccel_torch_buffer_release(&run_options);
    if (vaccel_torch_tensor_delete(in) != VACCEL_OK)
        fprintf(stderr, "could not delete input tensor\n");
unregister_resource:
    if (vaccel_resource_unregister(&model, &sess) != VACCEL_OK)
        fprintf(stderr, "Could not unregister model from session\n");
release_session:
    vaccel_prof_region_print(&torch_model_run_stats);
    vaccel_prof_region_release(&torch_model_run_stats);
    if (vaccel_session_release(&sess) != VACCEL_OK)
        fprintf(stderr, "Could not release session\n");
release_resource:
    if (vaccel_resource_release(&model) != VACCEL_OK)
        fprintf(stderr, "Could not release model resource\n");
    return ret;
}
