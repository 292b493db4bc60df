/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel-style segment program: <image_file> [iterations] [generic], output as vAccel's examples
 * print it ("segmentation imagename: ..."), with a profiling region over the calls. */
#include "utils/fs.h"
#include "vaccel.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STR_SIZE_MAX = 512 };

/* The same operation through vaccel_genop: op type, image in; the text buffer out. */
static int run_generic(struct vaccel_session *sess, char *image, size_t image_size,
                       unsigned char *out_imagename)
{
    struct vaccel_arg_array read_args = {0}, write_args = {0};
    const uint8_t op_type = (uint8_t)VACCEL_OP_IMAGE_SEGMENT;
    int ret;
    if ((ret = vaccel_arg_array_init(&read_args, 2)) ||
        (ret = vaccel_arg_array_init(&write_args, 1)) ||
        (ret = vaccel_arg_array_add_uint8(&read_args, (uint8_t *)&op_type)) ||
        (ret = vaccel_arg_array_add_buffer(&read_args, image, image_size)) ||
        (ret = vaccel_arg_array_add_uchar_array(&write_args, out_imagename, STR_SIZE_MAX)))
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
    unsigned char out_imagename[STR_SIZE_MAX] = {'\0'};
    struct vaccel_session sess;
    struct vaccel_prof_region stats = VACCEL_PROF_REGION_INIT("segment");

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "Usage: %s <image_file> [iterations] [generic]\n", argv[0]);
        return VACCEL_EINVAL;
    }
    ret = vaccel_session_init(&sess, 0);
    if (ret) {
        fprintf(stderr, "Could not initialize session\n");
        return ret;
    }
    printf("Initialized session with id: %" PRId64 "\n", sess.id);

    ret = fs_file_read(argv[1], (void **)&image, &image_size);
    if (ret)
        goto close_session;

    const int iter = (argc > 2) ? atoi(argv[2]) : 1;
    const int generic = argc > 3 && !strcmp(argv[3], "generic");
    for (int i = 0; i < iter; i++) {
        vaccel_prof_region_start(&stats);
        if (generic)
            ret = run_generic(&sess, image, image_size, out_imagename);
        else
            ret = vaccel_image_segmentation(&sess, image, out_imagename, image_size,
                                            sizeof(out_imagename));
        vaccel_prof_region_stop(&stats);
        if (ret) {
            fprintf(stderr, "Could not run op: %d\n", ret);
            goto close_session;
        }
        if (i == 0)
            printf("segmentation imagename: %s\n", out_imagename);
    }

close_session:
    free(image);
    if (vaccel_session_release(&sess) != VACCEL_OK)
        fprintf(stderr, "Could not clear session\n");
    vaccel_prof_region_print(&stats);
    vaccel_prof_region_release(&stats);
    return ret;
}
