/* SPDX-License-Identifier: Apache-2.0 */
/* Device hypercall modules: block (a host file) and net (a tap fd), addressed by manifest index. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "vm_internal.h"

static struct vm_dev *dev_of(struct funk_vm *vm, uint64_t handle, uint32_t type)
{
    if (handle >= vm->ndev || vm->dev[handle].type != type || vm->dev[handle].fd < 0)
        return NULL;
    return &vm->dev[handle];
}

static int block_io(struct funk_vm *vm, uint64_t handle, uint64_t offset, hvt_gpa_t data,
                    uint64_t len, int32_t *ret, int write)
{
    struct vm_dev *d = dev_of(vm, handle, MFT_DEV_BLOCK_BASIC);
    if (!d || len == 0 || len % d->block_size || offset % d->block_size || offset > d->capacity ||
        len > d->capacity - offset) {
        *ret = HVT_R_EINVAL;
        return HC_CONTINUE;
    }
    void *p = vm_gpa(vm, data, len);
    if (!p)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "BLOCK_%s: buffer 0x%llx+0x%llx outside guest memory",
                       write ? "WRITE" : "READ", (unsigned long long)data, (unsigned long long)len);
    if (!write && vm_host_ro(vm, data, len))
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "host/guest translation fault: BLOCK_READ into read-only guest memory at "
                       "0x%llx", (unsigned long long)data);
    /* One block per system call: the process backend's filter allows exactly that (size ==
     * block size, offset within the capacity), so a guest's own raw calls cannot go past it. */
    *ret = HVT_R_OK;
    for (uint64_t done = 0; done < len; done += d->block_size) {
        uint8_t *b = (uint8_t *)p + done;
        ssize_t n = write ? pwrite(d->fd, b, d->block_size, (off_t)(offset + done))
                          : pread(d->fd, b, d->block_size, (off_t)(offset + done));
        if (n != (ssize_t)d->block_size) {
            *ret = HVT_R_EUNSPEC;
            break;
        }
    }
    return HC_CONTINUE;
}

static int hc_block_write(struct funk_vm *vm, void *arg)
{
    struct hvt_hc_block_write *a = arg;
    return block_io(vm, a->handle, a->offset, a->data, a->len, &a->ret, 1);
}

static int hc_block_read(struct funk_vm *vm, void *arg)
{
    struct hvt_hc_block_read *a = arg;
    return block_io(vm, a->handle, a->offset, a->data, a->len, &a->ret, 0);
}

static const struct hc_call block_calls[] = {
    {HVT_HYPERCALL_BLOCK_WRITE, sizeof(struct hvt_hc_block_write), false, hc_block_write, false},
    {HVT_HYPERCALL_BLOCK_READ, sizeof(struct hvt_hc_block_read), false, hc_block_read, false},
};
const struct hc_module hc_block = {"block", NULL, block_calls, 2, NULL};

static int hc_net_write(struct funk_vm *vm, void *arg)
{
    struct hvt_hc_net_write *a = arg;
    struct vm_dev *d = dev_of(vm, a->handle, MFT_DEV_NET_BASIC);
    if (!d || a->len > d->frame_max) { /* MTU + Ethernet header */
        a->ret = HVT_R_EINVAL;
        return HC_CONTINUE;
    }
    const void *p = vm_gpa(vm, a->data, a->len);
    if (!p)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "NET_WRITE: buffer outside guest memory");
    ssize_t n = write(d->fd, p, a->len);
    a->ret = n == (ssize_t)a->len ? HVT_R_OK : HVT_R_EUNSPEC;
    return HC_CONTINUE;
}

static int hc_net_read(struct funk_vm *vm, void *arg)
{
    struct hvt_hc_net_read *a = arg;
    struct vm_dev *d = dev_of(vm, a->handle, MFT_DEV_NET_BASIC);
    if (!d) {
        a->ret = HVT_R_EINVAL;
        return HC_CONTINUE;
    }
    void *p = vm_gpa(vm, a->data, a->len);
    if (!p)
        return vm_stop(vm, FUNK_VM_EXIT_BADPTR, "NET_READ: buffer outside guest memory");
    if (vm_host_ro(vm, a->data, a->len))
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "host/guest translation fault: NET_READ into read-only guest memory at "
                       "0x%llx", (unsigned long long)a->data);
    ssize_t n = read(d->fd, p, a->len);
    if (n < 0) {
        a->ret = (errno == EAGAIN || errno == EWOULDBLOCK) ? HVT_R_AGAIN : HVT_R_EUNSPEC;
        return HC_CONTINUE;
    }
    a->len = (uint64_t)n;
    a->ret = HVT_R_OK;
    return HC_CONTINUE;
}

/* Net reads must never block the run loop. */
static int net_setup(struct funk_vm *vm)
{
    for (unsigned i = 0; i < vm->ndev; i++)
        if (vm->dev[i].type == MFT_DEV_NET_BASIC && vm->dev[i].fd >= 0) {
            int fl = fcntl(vm->dev[i].fd, F_GETFL);
            if (fl < 0 || fcntl(vm->dev[i].fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        }
    return 0;
}

static const struct hc_call net_calls[] = {
    {HVT_HYPERCALL_NET_WRITE, sizeof(struct hvt_hc_net_write), false, hc_net_write, false},
    {HVT_HYPERCALL_NET_READ, sizeof(struct hvt_hc_net_read), false, hc_net_read, false},
};
const struct hc_module hc_net = {"net", net_setup, net_calls, 2, NULL};
