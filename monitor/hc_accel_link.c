/* SPDX-License-Identifier: Apache-2.0 */
/* Linked into dynamically linked monitors only: hands libfunk-accel's entry points to the ACCEL
 * module (hc_accel.c) so that it can serve guests in process. */
#include "hc_accel.h"

static const struct hc_accel_rt rt = {
    .init = funk_accel_init,
    .strerror = funk_accel_strerror,
    .session_new = funk_accel_session_new,
    .session_delete = funk_accel_session_delete,
    .resource_new_buffer = funk_accel_resource_new_buffer,
    .resource_set_attr = funk_accel_resource_set_attr,
    .resource_release = funk_accel_resource_release,
    .session_register = funk_accel_session_register,
    .session_unregister = funk_accel_session_unregister,
    .noop = funk_accel_noop,
    .sgemm = funk_accel_sgemm,
    .image_classify = funk_accel_image_classify,
    .image_detect = funk_accel_image_detect,
    .exec = funk_accel_exec,
    .op = funk_accel_op,
};

__attribute__((constructor)) static void hc_accel_link(void)
{
    hc_accel_runtime(&rt);
}
