/* SPDX-License-Identifier: Apache-2.0 */
/* The libfunk-accel entry points hc_accel.c uses in process, handed over by hc_accel_link.c
 * (linked into dynamically linked monitors only: a static-pie monitor cannot load plugins, and
 * weak references are unreliable there: they relocate to the load address, not to NULL). */
#ifndef FUNK_MONITOR_HC_ACCEL_H
#define FUNK_MONITOR_HC_ACCEL_H

#include <funk/accel.h>

struct hc_accel_rt {
    __typeof__(funk_accel_init) *init;
    __typeof__(funk_accel_strerror) *strerror;
    __typeof__(funk_accel_session_new) *session_new;
    __typeof__(funk_accel_session_delete) *session_delete;
    __typeof__(funk_accel_resource_new_buffer) *resource_new_buffer;
    __typeof__(funk_accel_resource_set_attr) *resource_set_attr;
    __typeof__(funk_accel_resource_release) *resource_release;
    __typeof__(funk_accel_session_register) *session_register;
    __typeof__(funk_accel_session_unregister) *session_unregister;
    __typeof__(funk_accel_noop) *noop;
    __typeof__(funk_accel_sgemm) *sgemm;
    __typeof__(funk_accel_image_classify) *image_classify;
    __typeof__(funk_accel_image_detect) *image_detect;
    __typeof__(funk_accel_exec) *exec;
    __typeof__(funk_accel_op) *op;
};

/* Called before main by hc_accel_link.c's constructor. */
void hc_accel_runtime(const struct hc_accel_rt *rt);

#endif
