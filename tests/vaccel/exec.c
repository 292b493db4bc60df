/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel-style exec programs: exec <lib_file> [iterations] | exec_generic <lib_file> |
 * exec_with_resource <lib_file> (a file resource and a buffer resource, "output1/2: N") |
 * exec_symbol <lib_file> <symbol> (prints the return code). */
#include "utils/fs.h"
#include "vaccel.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { INPUT_VAL = 10 };

static int with_resource(struct vaccel_session *sess, const char *lib,
                         struct vaccel_arg_array *read_args, struct vaccel_arg_array *write_args)
{
    int32_t output1 = 0, output2 = 0;
    struct vaccel_resource res1, res2;
    unsigned char *buff = NULL;
    size_t len;
    int ret = vaccel_resource_init(&res1, lib, VACCEL_RESOURCE_LIB);
    if (ret) {
        fprintf(stderr, "Could not initialize lib resource: %s\n", strerror(ret));
        return ret;
    }
    if ((ret = vaccel_resource_register(&res1, sess)))
        goto release1;
    if ((ret = fs_file_read(lib, (void **)&buff, &len)))
        goto unregister1;
    ret = vaccel_resource_init_from_buf(&res2, buff, len, VACCEL_RESOURCE_LIB, "lib.so", false);
    if (ret)
        goto free_buff;
    if ((ret = vaccel_resource_register(&res2, sess)))
        goto release2;
    if ((ret = vaccel_arg_array_add_int32(write_args, &output1)))
        goto unregister2;
    ret = vaccel_exec_with_resource(sess, &res1, "mytestfunc", read_args->args, read_args->count,
                                    write_args->args, write_args->count);
    if (ret) {
        fprintf(stderr, "Could not run op: %d\n", ret);
        goto unregister2;
    }
    printf("output1: %" PRId32 "\n", output1);
    vaccel_arg_array_clear(write_args);
    if ((ret = vaccel_arg_array_add_int32(write_args, &output2)))
        goto unregister2;
    ret = vaccel_exec_with_resource(sess, &res2, "mytestfunc", read_args->args, read_args->count,
                                    write_args->args, write_args->count);
    if (ret) {
        fprintf(stderr, "Could not run op: %d\n", ret);
        goto unregister2;
    }
    printf("output2: %" PRId32 "\n", output2);
unregister2:
    if (vaccel_resource_unregister(&res2, sess))
        fprintf(stderr, "Could not unregister lib 2 from session\n");
release2:
    if (vaccel_resource_release(&res2))
        fprintf(stderr, "Could not release lib resource 2\n");
free_buff:
    free(buff);
unregister1:
    if (vaccel_resource_unregister(&res1, sess))
        fprintf(stderr, "Could not unregister lib from session\n");
release1:
    if (vaccel_resource_release(&res1))
        fprintf(stderr, "Could not release lib resource\n");
    return ret;
}

int main(int argc, char *argv[])
{
    int ret;
    struct vaccel_session sess;
    int32_t input = INPUT_VAL;
    int32_t output = 0;
    char func[] = "mytestfunc";
    struct vaccel_prof_region mytestfunc_stats = VACCEL_PROF_REGION_INIT("mytestfunc");

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "Usage: %s <exec|exec_generic|exec_with_resource> <lib_file> [iter]\n",
                argv[0]);
        return VACCEL_EINVAL;
    }
    const char *mode = argv[1];
    sess.hint = VACCEL_PLUGIN_DEBUG;
    ret = vaccel_session_init(&sess, sess.hint);
    if (ret) {
        fprintf(stderr, "Could not initialize session\n");
        return ret;
    }
    printf("Initialized session with id: %" PRId64 "\n", sess.id);

    struct vaccel_arg_array read_args, write_args;
    if ((ret = vaccel_arg_array_init(&read_args, 1)))
        goto release_session;
    if ((ret = vaccel_arg_array_init(&write_args, 1)))
        goto release_read;

    if (!strcmp(mode, "exec_symbol") && argc == 4) { /* exec_symbol <lib> <symbol>: rc only */
        if (!(ret = vaccel_arg_array_add_int32(&read_args, &input)) &&
            !(ret = vaccel_arg_array_add_int32(&write_args, &output)))
            ret = vaccel_exec(&sess, argv[2], argv[3], read_args.args, read_args.count,
                              write_args.args, write_args.count);
        printf("exec_symbol %s: %d\n", argv[3], ret);
        goto release_write;
    }
    if (!strcmp(mode, "exec_with_resource")) {
        if (!(ret = vaccel_arg_array_add_int32(&read_args, &input)))
            ret = with_resource(&sess, argv[2], &read_args, &write_args);
        goto release_write;
    }
    const uint8_t op_type = (uint8_t)VACCEL_OP_EXEC;
    if (!strcmp(mode, "exec_generic")) {
        if ((ret = vaccel_arg_array_add_uint8(&read_args, (uint8_t *)&op_type)) ||
            (ret = vaccel_arg_array_add_string(&read_args, argv[2])) ||
            (ret = vaccel_arg_array_add_string(&read_args, func)))
            goto release_write;
    }
    if ((ret = vaccel_arg_array_add_int32(&read_args, &input)) ||
        (ret = vaccel_arg_array_add_int32(&write_args, &output))) {
        fprintf(stderr, "Failed to pack args\n");
        goto release_write;
    }
    const int iter = (argc > 3) ? atoi(argv[3]) : 1;
    for (int i = 0; i < iter; i++) {
        vaccel_prof_region_start(&mytestfunc_stats);
        if (!strcmp(mode, "exec_generic"))
            ret = vaccel_genop(&sess, read_args.args, (int)read_args.count, write_args.args,
                               (int)write_args.count);
        else
            ret = vaccel_exec(&sess, argv[2], "mytestfunc", read_args.args, read_args.count,
                              write_args.args, write_args.count);
        vaccel_prof_region_stop(&mytestfunc_stats);
        if (ret) {
            fprintf(stderr, "Could not run op: %d\n", ret);
            goto release_write;
        }
        printf("output: %" PRId32 "\n", output);
    }
release_write:
    if (vaccel_arg_array_release(&write_args))
        fprintf(stderr, "Could not release write args array\n");
release_read:
    if (vaccel_arg_array_release(&read_args))
        fprintf(stderr, "Could not release read args array\n");
release_session:
    if (vaccel_session_release(&sess))
        fprintf(stderr, "Could not release session\n");
    vaccel_prof_region_print(&mytestfunc_stats);
    vaccel_prof_region_release(&mytestfunc_stats);
    return ret;
}
