/* SPDX-License-Identifier: Apache-2.0 */
/* Core Solo5 hypercall modules: console (PUTS), clock (WALLTIME), poll (POLL), halt (HALT). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>

#include "vm_internal.h"

static int hc_puts(struct funk_vm *vm, void *arg)
{
    struct hvt_hc_puts *a = arg;
    const char *data = vm_gpa(vm, a->data, a->len);
    if (!data)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "PUTS: buffer 0x%llx+0x%llx outside guest memory",
                       (unsigned long long)a->data, (unsigned long long)a->len);
    if (vm->io->console) {
        vm->io->console(vm->io->opaque, data, a->len);
    } else {
        fwrite(data, 1, a->len, stdout);
        fflush(stdout);
    }
    return HC_CONTINUE;
}

static const struct hc_call console_calls[] = {
    {HVT_HYPERCALL_PUTS, sizeof(struct hvt_hc_puts), false, hc_puts, true},
};
const struct hc_module hc_console = {"console", NULL, console_calls, 1, NULL};

static int hc_walltime(struct funk_vm *vm, void *arg)
{
    (void)vm;
    struct hvt_hc_walltime *a = arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    a->nsecs = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    return HC_CONTINUE;
}

static const struct hc_call clock_calls[] = {
    {HVT_HYPERCALL_WALLTIME, sizeof(struct hvt_hc_walltime), false, hc_walltime, false},
};
const struct hc_module hc_clock = {"clock", NULL, clock_calls, 1, NULL};

/* Waits for input on the attached net devices (or just the timeout when there are none). */
static int hc_poll_call(struct funk_vm *vm, void *arg)
{
    struct hvt_hc_poll *a = arg;
    struct pollfd fds[MFT_MAX_ENTRIES];
    unsigned idx[MFT_MAX_ENTRIES];
    nfds_t n = 0;
    for (unsigned i = 0; i < vm->ndev; i++)
        if (vm->dev[i].type == MFT_DEV_NET_BASIC && vm->dev[i].fd >= 0) {
            fds[n] = (struct pollfd){.fd = vm->dev[i].fd, .events = POLLIN};
            idx[n++] = i;
        }
    struct timespec ts = {.tv_sec = (time_t)(a->timeout_nsecs / 1000000000ull),
                          .tv_nsec = (long)(a->timeout_nsecs % 1000000000ull)};
    int r = ppoll(fds, n, &ts, NULL);
    a->ready_set = 0;
    if (r > 0)
        for (nfds_t i = 0; i < n; i++)
            if (fds[i].revents & POLLIN)
                a->ready_set |= 1ull << idx[i];
    a->ret = a->ready_set ? 1 : 0;
    return HC_CONTINUE;
}

static const struct hc_call poll_calls[] = {
    {HVT_HYPERCALL_POLL, sizeof(struct hvt_hc_poll), false, hc_poll_call, false},
};
const struct hc_module hc_poll = {"poll", NULL, poll_calls, 1, NULL};

static int hc_halt_call(struct funk_vm *vm, void *arg)
{
    struct hvt_hc_halt *a = arg;
    vm->res->exit = FUNK_VM_EXIT_HALT;
    vm->res->status = a->exit_status;
    vm->halt_cookie = a->cookie; /* a trap frame for --dumpcore (checked when it is read) */
    snprintf(vm->res->reason, sizeof vm->res->reason, "guest halted with status %d", a->exit_status);
    return HC_STOP;
}

static const struct hc_call halt_calls[] = {
    {HVT_HYPERCALL_HALT, sizeof(struct hvt_hc_halt), false, hc_halt_call, true},
};
const struct hc_module hc_halt = {"halt", NULL, halt_calls, 1, NULL};
