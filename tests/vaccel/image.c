/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel-style classify / detect program: <classify|classify_generic|detect|detect_generic|
 * segment|pose|depth> <image_file> [iterations] [model_path], output lines as vAccel's examples. */
#include "utils/fs.h"
#include "vaccel.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STR_SIZE_MAX = 512 };

static int generic(struct vaccel_session *sess, vaccel_op_type_t op, char *image, size_t image_size,
                   unsigned char *out_imagename, unsigned char *out_text)
{
    struct vaccel_arg_array read_args, write_args;
    int ret = vaccel_arg_array_init(&read_args, 2);
    if (ret)
        return ret;
    if ((ret = vaccel_arg_array_init(&write_args, 2))) {
        vaccel_arg_array_release(&read_args);
        return ret;
    }
    const uint8_t op_type = (uint8_t)op;
    if ((ret = vaccel_arg_array_add_uint8(&read_args, (uint8_t *)&op_type)) ||
        (ret = vaccel_arg_array_add_buffer(&read_args, image, image_size)) ||
        (ret = vaccel_arg_array_add_uchar_array(&write_args, out_imagename, STR_SIZE_MAX)) ||
        (op == VACCEL_OP_IMAGE_CLASSIFY &&
         (ret = vaccel_arg_array_add_uchar_array(&write_args, out_text, STR_SIZE_MAX))))
        fprintf(stderr, "Failed to pack args\n");
    else
        ret = vaccel_genop(sess, read_args.args, (int)read_args.count, write_args.args,
                           (int)write_args.count);
    vaccel_arg_array_release(&write_args);
    vaccel_arg_array_release(&read_args);
    return ret;
}

int main(int argc, char *argv[])
{
    int ret;
    char *image = NULL;
    size_t image_size;
    unsigned char out_text[STR_SIZE_MAX] = {'\0'};
    unsigned char out_imagename[STR_SIZE_MAX] = {'\0'};
    struct vaccel_session sess;
    struct vaccel_resource model = {.id = 0};
    struct vaccel_prof_region stats = VACCEL_PROF_REGION_INIT("image");

    if (argc < 3 || argc > 5) {
        fprintf(stderr, "Usage: %s <op> <image_file> [iterations] [model_path]\n", argv[0]);
        return VACCEL_EINVAL;
    }
    const char *op = argv[1];
    ret = vaccel_session_init(&sess, 0);
    if (ret) {
        fprintf(stderr, "Could not initialize session\n");
        return ret;
    }
    printf("Initialized session with id: %" PRId64 "\n", sess.id);

    if (argc == 5) {
        ret = vaccel_resource_init(&model, argv[4], VACCEL_RESOURCE_MODEL);
        if (ret) {
            fprintf(stderr, "Could not create model resource\n");
            goto release_session;
        }
        ret = vaccel_resource_register(&model, &sess);
        if (ret) {
            fprintf(stderr, "Could not register model to session\n");
            goto release_resource;
        }
    }
    ret = fs_file_read(argv[2], (void **)&image, &image_size);
    if (ret)
        goto unregister_resource;

    const int iter = (argc > 3) ? atoi(argv[3]) : 1;
    for (int i = 0; i < iter; i++) {
        vaccel_prof_region_start(&stats);
        if (!strcmp(op, "classify"))
            ret = vaccel_image_classification(&sess, image, out_text, out_imagename, image_size,
                                              sizeof(out_text), sizeof(out_imagename));
        else if (!strcmp(op, "classify_generic"))
            ret = generic(&sess, VACCEL_OP_IMAGE_CLASSIFY, image, image_size, out_imagename,
                          out_text);
        else if (!strcmp(op, "detect"))
            ret = vaccel_image_detection(&sess, image, out_imagename, image_size,
                                         sizeof(out_imagename));
        else if (!strcmp(op, "detect_generic"))
            ret = generic(&sess, VACCEL_OP_IMAGE_DETECT, image, image_size, out_imagename, NULL);
        else if (!strcmp(op, "segment"))
            ret = vaccel_image_segmentation(&sess, image, out_imagename, image_size,
                                            sizeof(out_imagename));
        else if (!strcmp(op, "pose"))
            ret = vaccel_image_pose(&sess, image, out_imagename, image_size, sizeof(out_imagename));
        else if (!strcmp(op, "depth"))
            ret =
                vaccel_image_depth(&sess, image, out_imagename, image_size, sizeof(out_imagename));
        else
            ret = VACCEL_EINVAL;
        vaccel_prof_region_stop(&stats);
        if (ret) {
            fprintf(stderr, "Could not run op: %d\n", ret);
            goto unregister_resource;
        }
        if (!strncmp(op, "classify", 8)) {
            printf("classification tags: %s\n", out_text);
            printf("classification imagename: %s\n", out_imagename);
        } else {
            printf("detection imagename: %s\n", out_imagename);
        }
    }
unregister_resource:
    if (model.id > 0 && vaccel_resource_unregister(&model, &sess))
        fprintf(stderr, "Could not unregister model from session\n");
release_resource:
    if (model.id > 0 && vaccel_resource_release(&model))
        fprintf(stderr, "Could not release model\n");
release_session:
    if (vaccel_session_release(&sess))
        fprintf(stderr, "Could not release session\n");
    free(image);
    vaccel_prof_region_print(&stats);
    vaccel_prof_region_release(&stats);
    return ret;
}
