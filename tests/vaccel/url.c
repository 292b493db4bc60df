/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel-style exec_with_resource from a URL resource: url <lib_url> (prints "output: N", as
 * vAccel's exec examples do, or "Could not create resource: CODE" and returns CODE). */
#include "vaccel.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char *argv[])
{
    int ret;
    struct vaccel_session sess;
    struct vaccel_resource *res = NULL;
    int32_t input = 10, output = 0;
    struct vaccel_arg_array read_args = {0}, write_args = {0};

    if (argc != 2) {
        fprintf(stderr, "Usage: %s <lib_url>\n", argv[0]);
        return VACCEL_EINVAL;
    }
    ret = vaccel_resource_new(&res, argv[1], VACCEL_RESOURCE_LIB);
    if (ret) {
        fprintf(stderr, "Could not create resource: %d\n", ret);
        printf("Could not create resource: %d\n", ret);
        return ret;
    }
    printf("resource path type: %s\n",
           res->path_type == VACCEL_PATH_REMOTE_FILE ? "remote" : "local");
    ret = vaccel_session_init(&sess, 0);
    if (ret) {
        fprintf(stderr, "Could not initialize session\n");
        goto release_resource;
    }
    printf("Initialized session with id: %" PRId64 "\n", sess.id);
    ret = vaccel_resource_register(res, &sess);
    if (ret) {
        fprintf(stderr, "Could not register resource to session\n");
        goto release_session;
    }
    if ((ret = vaccel_arg_array_init(&read_args, 1)) ||
        (ret = vaccel_arg_array_init(&write_args, 1)) ||
        (ret = vaccel_arg_array_add_int32(&read_args, &input)) ||
        (ret = vaccel_arg_array_add_int32(&write_args, &output))) {
        fprintf(stderr, "Failed to pack args\n");
        goto unregister;
    }
    ret = vaccel_exec_with_resource(&sess, res, "mytestfunc", read_args.args, read_args.count,
                                    write_args.args, write_args.count);
    if (ret) {
        fprintf(stderr, "Could not run op: %d\n", ret);
        goto unregister;
    }
    printf("output: %" PRId32 "\n", output);
unregister:
    vaccel_arg_array_release(&read_args);
    vaccel_arg_array_release(&write_args);
    if (vaccel_resource_unregister(res, &sess))
        fprintf(stderr, "Could not unregister resource\n");
release_session:
    if (vaccel_session_release(&sess))
        fprintf(stderr, "Could not release session\n");
release_resource:
    if (vaccel_resource_delete(res))
        fprintf(stderr, "Could not delete resource\n");
    return ret;
}
