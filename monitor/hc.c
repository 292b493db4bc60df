/* SPDX-License-Identifier: Apache-2.0 */
/* Hypercall dispatch: modules register their calls in one table; arguments are checked here. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "vm_internal.h"

/* Every hypercall module; the run loop only ever sees the table built from this list. */
static const struct hc_module *const modules[] = {
    &hc_console, &hc_clock, &hc_poll, &hc_block, &hc_net, &hc_halt, &hc_fn, &hc_fault, &hc_accel_module,
};

#define N_MODULES (sizeof modules / sizeof modules[0])
_Static_assert(N_MODULES <= HC_MAX_MODULES, "module fds are indexed by module");
_Static_assert(N_MODULES <= 10, "a module fd is one digit in the process filter's layout key");

static const struct hc_call *table[FUNK_HC_MAX];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
    for (size_t m = 0; m < sizeof modules / sizeof modules[0]; m++)
        for (size_t i = 0; i < modules[m]->ncalls; i++) {
            const struct hc_call *c = &modules[m]->calls[i];
            if (c->nr < FUNK_HC_MAX)
                table[c->nr] = c;
        }
}

int hc_setup(struct funk_vm *vm)
{
    pthread_once(&table_once, build_table);
    for (size_t m = 0; m < sizeof modules / sizeof modules[0]; m++)
        if (modules[m]->setup) {
            int rc = modules[m]->setup(vm);
            if (rc)
                return rc;
        }
    return 0;
}

unsigned hc_fds(struct funk_vm *vm, int **slot, unsigned *mod, unsigned max)
{
    unsigned n = 0;
    for (unsigned m = 0; m < N_MODULES && n < max; m++) {
        int *p = modules[m]->fdops ? modules[m]->fdops->fd(vm) : NULL;
        if (p && *p >= 0) {
            slot[n] = p;
            mod[n++] = m;
        }
    }
    return n;
}

int hc_fd_seccomp(unsigned mod, void *scmp_ctx, int fd)
{
    if (mod >= N_MODULES || !modules[mod]->fdops)
        return -EINVAL;
    return modules[mod]->fdops->seccomp(scmp_ctx, fd);
}

int hc_fd_adopt(struct funk_vm *vm, unsigned mod, int fd)
{
    if (mod >= N_MODULES || !modules[mod]->fdops)
        return -EINVAL;
    return modules[mod]->fdops->adopt(vm, fd);
}

int hc_dispatch(struct funk_vm *vm, unsigned nr, hvt_gpa_t gpa)
{
    const struct hc_call *c = nr < FUNK_HC_MAX ? table[nr] : NULL;
    if (!c || (c->funk_only && !vm->funk_guest && nr != FUNK_HC_FAULT))
        return vm_stop(vm, FUNK_VM_EXIT_BADCALL, "unknown hypercall %u (port 0x%x)%s", nr,
                       HVT_PIO_BASE + nr,
                       c ? ": funk hypercalls need a funk note in the ELF" : "");
    if (gpa & 7)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR,
                       "hypercall %u: argument at 0x%llx is not 8-byte aligned", nr,
                       (unsigned long long)gpa);
    void *arg = vm_gpa(vm, gpa, c->arg_size);
    if (!arg || gpa < 0x1000)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR,
                       "hypercall %u: argument 0x%llx+%zu lies outside guest memory", nr,
                       (unsigned long long)gpa, c->arg_size);
    if (!c->arg_in_only && vm_host_ro(vm, gpa, c->arg_size))
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "host/guest translation fault: hypercall %u argument at 0x%llx lies in "
                       "read-only guest memory", nr, (unsigned long long)gpa);
    if (vm->res->hypercalls++ == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        vm->res->first_hypercall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    return c->fn(vm, arg);
}
