/* SPDX-License-Identifier: Apache-2.0 */
/* The KVM backend's architecture-neutral hooks (kvm_x86_64.c and kvm_aarch64.c share them). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vm_backend.h"
#include "vm_internal.h"

/* Copies the segments into guest memory and builds the page tables (funk_vm_load). */
int vm_kvm_place(struct funk_vm *vm, const void *elf, size_t elf_len)
{
    (void)elf_len;
    if (vm->img.spt)
        return vm_load_error(vm, -ENOTSUP,
                             "a Solo5 spt guest (ABI1 target spt) runs under the process backend "
                             "(--isolation=process), not KVM");
    /* A fresh shell's memory is an untouched anonymous mapping: bss is already zero. A second
     * load into the same shell (after a failed one) zeroes it, and first makes writable again
     * what the failed load of a plain Solo5 guest made read-only. */
    if (vm->mem_written && mprotect(vm->mem, vm->mem_size, PROT_READ | PROT_WRITE) != 0)
        return vm_load_error(vm, -errno, "mprotect of guest memory failed: %s", strerror(errno));
    elf_copy(&vm->img, elf, vm->mem, !vm->mem_written);
    vm->mem_written = true;
    /* Plain Solo5 guests get Solo5's protection model: read-only segments are read-only in the
     * host mapping, so a guest write there fails KVM_RUN (EFAULT) and the run ends as a
     * host/guest translation fault, not in the guest's own trap handler. funk guests keep the
     * protection in their page tables (their faults are reported with the vector). */
    vm->img.host_ro = !vm->funk_guest;
    int rc = vm_backend_mem_setup(vm);
    if (rc)
        return vm_load_error(vm, rc, "kernel too large for the page-table pool");
    if (vm->img.host_ro && (rc = vm_protect_kernel(vm)) != 0)
        return vm_load_error(vm, rc, "mprotect of the kernel's read-only pages failed: %s",
                             strerror(-rc));
    return 0;
}

uint64_t vm_kvm_hypercall_entry(void)
{
    return vm_backend_hc_stub(); /* the monitor-built stub page the guest calls for an exit */
}

int vm_kvm_boot(struct funk_vm *vm)
{
    int rc = vm_backend_boot(vm);
    return rc ? vm_load_error(vm, rc, "setting up the vCPU failed: %s", strerror(-rc)) : 0;
}

/* The pages the guest (or the monitor) touched, packed into snap->image with their guest
 * offsets in snap->ranges: restoring copies them (cheaper here than a copy-on-write file
 * mapping, whose faults are slow under software KVM). 0 or -ENOMEM. */
int vm_kvm_snap_pages(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    size_t pages = vm->mem_size / 4096, total = 0, nr = 0;
    unsigned char *vec = malloc(pages);
    if (!vec || mincore(vm->mem, vm->mem_size, vec) != 0) {
        free(vec);
        return -ENOMEM;
    }
    for (size_t i = 0; i < pages; i++) {
        total += vec[i] & 1;
        if ((vec[i] & 1) && (i == 0 || !(vec[i - 1] & 1)))
            nr++;
    }
    snap->ranges = calloc(nr ? nr : 1, sizeof *snap->ranges);
    snap->image = malloc(total ? total * 4096 : 1);
    if (!snap->ranges || !snap->image) {
        free(vec);
        return -ENOMEM;
    }
    for (size_t i = 0, at = 0; i < pages;) {
        if (!(vec[i] & 1)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < pages && (vec[j] & 1))
            j++;
        size_t off = i * 4096, n = (j - i) * 4096;
        memcpy(snap->image + at, vm->mem + off, n);
        snap->ranges[snap->nranges][0] = off;
        snap->ranges[snap->nranges][1] = n;
        snap->nranges++;
        at += n;
        i = j;
    }
    free(vec);
    return 0;
}

/* Into a fresh (zero) shell: the snapshot's pages back at their offsets. */
void vm_kvm_snap_pages_restore(struct funk_vm *vm, const struct funk_vm_snapshot *snap)
{
    size_t at = 0;
    for (size_t i = 0; i < snap->nranges; i++) {
        memcpy(vm->mem + snap->ranges[i][0], snap->image + at, snap->ranges[i][1]);
        at += snap->ranges[i][1];
    }
}
