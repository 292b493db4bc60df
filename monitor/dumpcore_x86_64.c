/* SPDX-License-Identifier: Apache-2.0 */
/* Guest core dump (--dumpcore): an ELF core of guest memory and vCPU registers, as Solo5's. */
#include <elf.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include "vm_internal.h"

/* The trap frame Solo5's x86_64 bindings pass as the HALT cookie (and funk's layout too). */
struct trap_cookie {
    uint64_t cr2, ec, rip, cs, rflags, rsp, ss;
};

static int write_full(int fd, const void *buf, size_t len, off_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int funk_vm_dumpcore(struct funk_vm *vm, int fd, size_t *pages_dumped, size_t *pages_total)
{
    if (!vm || fd < 0)
        return -EINVAL;
    /* After funk_vm_run the shell is no longer "loaded" (it runs one guest), but its memory and
     * vCPU are still there: a vCPU fd and memory are what a dump needs. */
    if (vm->backend != FUNK_ISOLATION_KVM || vm->vcpu_fd < 0 || !vm->mem)
        return -ENOTSUP;
    struct kvm_regs kr;
    struct kvm_sregs ks;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &kr) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &ks) < 0)
        return -errno;
    prstatus_t pr;
    memset(&pr, 0, sizeof pr);
    struct user_regs_struct u;
    memset(&u, 0, sizeof u);
    u.r8 = kr.r8, u.r9 = kr.r9, u.r10 = kr.r10, u.r11 = kr.r11;
    u.r12 = kr.r12, u.r13 = kr.r13, u.r14 = kr.r14, u.r15 = kr.r15;
    u.rbp = kr.rbp, u.rsp = kr.rsp, u.rdi = kr.rdi, u.rsi = kr.rsi;
    u.rdx = kr.rdx, u.rcx = kr.rcx, u.rbx = kr.rbx, u.rax = kr.rax;
    u.rip = kr.rip, u.eflags = kr.rflags;
    u.cs = ks.cs.selector, u.ss = ks.ss.selector, u.ds = ks.ds.selector;
    u.es = ks.es.selector, u.fs = ks.fs.selector, u.gs = ks.gs.selector;
    u.fs_base = ks.fs.base, u.gs_base = ks.gs.base;
    /* A trap frame handed over with HALT says where the guest really was (it is guest data:
     * read only through the bounds check, used only as values in the dump). */
    const struct trap_cookie *tc = vm->halt_cookie ? vm_gpa(vm, vm->halt_cookie, sizeof *tc) : NULL;
    if (tc) {
        struct trap_cookie t;
        memcpy(&t, tc, sizeof t);
        u.rip = t.rip, u.cs = t.cs, u.eflags = t.rflags, u.rsp = t.rsp, u.ss = t.ss;
    }
    _Static_assert(sizeof u <= sizeof pr.pr_reg, "user_regs_struct fits pr_reg");
    memcpy(&pr.pr_reg, &u, sizeof u);

    static const char name[8] = "CORE";
    Elf64_Nhdr nh = {.n_namesz = 5, .n_descsz = sizeof pr, .n_type = NT_PRSTATUS};
    size_t note_size = sizeof nh + sizeof name + sizeof pr;
    size_t hdr_size = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
    off_t mem_off = (off_t)((hdr_size + note_size + 4095) & ~(size_t)4095);
    Elf64_Ehdr eh = {
        .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT,
                    ELFOSABI_STANDALONE},
        .e_type = ET_CORE,
        .e_machine = EM_X86_64,
        .e_version = EV_CURRENT,
        .e_phoff = sizeof(Elf64_Ehdr),
        .e_ehsize = sizeof(Elf64_Ehdr),
        .e_phentsize = sizeof(Elf64_Phdr),
        .e_phnum = 2,
    };
    Elf64_Phdr ph[2] = {
        {.p_type = PT_NOTE, .p_offset = hdr_size, .p_filesz = note_size, .p_memsz = note_size},
        {.p_type = PT_LOAD,
         .p_offset = (uint64_t)mem_off,
         .p_vaddr = 0,
         .p_paddr = 0,
         .p_filesz = vm->mem_size,
         .p_memsz = vm->mem_size,
         .p_flags = PF_R | PF_W | PF_X,
         .p_align = 4096},
    };
    uint8_t head[sizeof eh + sizeof ph + sizeof nh + sizeof name + sizeof pr];
    uint8_t *h = head;
    memcpy(h, &eh, sizeof eh), h += sizeof eh;
    memcpy(h, ph, sizeof ph), h += sizeof ph;
    memcpy(h, &nh, sizeof nh), h += sizeof nh;
    memcpy(h, name, sizeof name), h += sizeof name;
    memcpy(h, &pr, sizeof pr);
    int rc = write_full(fd, head, sizeof head, 0);
    if (rc)
        return rc;
    /* Only the pages the guest touched (mincore), the rest stays a hole of zeros. */
    size_t npages = vm->mem_size / 4096, ndumped = 0;
    unsigned char *vec = malloc(npages);
    if (!vec)
        return -ENOMEM;
    if (mincore(vm->mem, vm->mem_size, vec) != 0) {
        rc = -errno;
        free(vec);
        return rc;
    }
    for (size_t pg = 0; pg < npages && !rc; pg++)
        if (vec[pg] & 1) {
            rc = write_full(fd, vm->mem + pg * 4096, 4096, mem_off + (off_t)(pg * 4096));
            ndumped++;
        }
    free(vec);
    if (!rc && ftruncate(fd, mem_off + (off_t)vm->mem_size) != 0)
        rc = -errno;
    if (pages_dumped)
        *pages_dumped = ndumped;
    if (pages_total)
        *pages_total = npages;
    return rc;
}
