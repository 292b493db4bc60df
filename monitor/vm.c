/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-vm: loading a guest into a shell (backend-independent part), results and errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vm_backend.h"
#include "vm_internal.h"
#include "linux.h"

int vm_stop(struct funk_vm *vm, enum funk_vm_exit exit, const char *fmt, ...)
{
    vm->res->exit = exit;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->res->reason, sizeof vm->res->reason, fmt, ap);
    va_end(ap);
    return HC_STOP;
}

void vm_log(const struct funk_vm *vm, const char *fmt, ...)
{
    if (!(vm->flags & FUNK_VM_F_VERBOSE))
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("funk-monitor: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int vm_load_error(struct funk_vm *vm, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->err, sizeof vm->err, fmt, ap);
    va_end(ap);
    return rc;
}

const char *funk_vm_error(const struct funk_vm *vm)
{
    return vm ? vm->err : "no VM";
}

int funk_vm_result_exit_code(const struct funk_vm_result *res)
{
    if (res->exit == FUNK_VM_EXIT_HALT)
        return res->status & 0xff;
    return (int)res->exit;
}

int funk_vm_isolation_parse(const char *s)
{
    if (!s)
        return -EINVAL;
    if (strcmp(s, "kvm") == 0)
        return FUNK_ISOLATION_KVM;
    if (strcmp(s, "process") == 0)
        return FUNK_ISOLATION_PROCESS;
    if (strcmp(s, "auto") == 0)
        return FUNK_ISOLATION_AUTO;
    return -EINVAL;
}

int funk_vm_isolation_auto(void)
{
    static int cached;
    if (cached)
        return cached;
    int hw = vm_backend_hw_virt();
    int kvm = access("/dev/kvm", R_OK | W_OK) == 0;
    cached = hw && kvm ? FUNK_ISOLATION_KVM : FUNK_ISOLATION_PROCESS;
    return cached;
}

/* Copies the manifest to FUNK_MFT_GPA and attaches every declared device to a host fd. */
static int attach_devices(struct funk_vm *vm, const void *elf, const struct funk_vm_boot *boot)
{
    const struct funk_vm_device *devs = boot ? boot->devs : NULL;
    size_t ndevs = boot ? boot->ndevs : 0;
    struct mft *m = vm_gpa(vm, FUNK_MFT_GPA, FUNK_MFT_MAX);
    _Static_assert(sizeof(struct mft) + MFT_MAX_ENTRIES * sizeof(struct mft_entry) <= FUNK_MFT_MAX,
                   "manifest area too small");
    m->version = MFT_VERSION;
    m->entries = 0;
    vm->ndev = 0;
    if (vm->img.has_mft) {
        memcpy(m, (const uint8_t *)elf + vm->img.mft_offset, vm->img.mft_size);
        vm->ndev = m->entries;
    }
    for (size_t d = 0; d < ndevs; d++) {
        uint32_t i;
        for (i = 0; i < vm->ndev; i++)
            if (devs[d].name && m->e[i].type != MFT_RESERVED_FIRST &&
                strcmp(m->e[i].name, devs[d].name) == 0)
                break;
        if (i == vm->ndev)
            return vm_load_error(vm, -ENOENT, "the unikernel declares no device '%s' in its manifest",
                              devs[d].name ? devs[d].name : "(null)");
        uint32_t want = devs[d].type == FUNK_VM_DEV_BLOCK ? MFT_DEV_BLOCK_BASIC : MFT_DEV_NET_BASIC;
        if (m->e[i].type != want)
            return vm_load_error(vm, -EINVAL, "device '%s' is declared as a %s device", devs[d].name,
                              m->e[i].type == MFT_DEV_BLOCK_BASIC ? "block" : "net");
        if (m->e[i].attached)
            return vm_load_error(vm, -EINVAL, "device '%s' attached twice", devs[d].name);
        struct vm_dev *vd = &vm->dev[i];
        vd->fd = devs[d].fd;
        vd->type = want;
        if (want == MFT_DEV_BLOCK_BASIC) {
            struct stat st;
            if (fstat(vd->fd, &st) != 0)
                return vm_load_error(vm, -errno, "block device '%s': %s", devs[d].name, strerror(errno));
            unsigned bs = devs[d].block_size ? devs[d].block_size : 512;
            /* Solo5's rules and wording (hvt_module_blk.c), so its scripts match. */
            if (bs < 512 || bs > 32768 || (bs & (bs - 1)))
                return vm_load_error(vm, -EINVAL,
                                  "%s: Block size must be a multiple of 2 greater than or equal "
                                  "512 (got %u; at most 32768)", devs[d].name, bs);
            uint64_t size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
            if (size & (bs - 1))
                return vm_load_error(vm, -EINVAL,
                                  "%s: Backing storage size must be block aligned (%u bytes; "
                                  "the file has %llu)", devs[d].name, bs, (unsigned long long)size);
            if (size < bs)
                return vm_load_error(vm, -EINVAL,
                                  "%s: Backing storage must be at least 1 block (%u bytes) in size",
                                  devs[d].name, bs);
            vd->block_size = (uint16_t)bs;
            vd->capacity = size;
            m->e[i].u.block_basic.capacity = vd->capacity;
            m->e[i].u.block_basic.block_size = vd->block_size;
        } else {
            unsigned mtu = devs[d].mtu ? devs[d].mtu : 1500;
            if (mtu < 68 || mtu > 65535 - 14)
                return vm_load_error(vm, -EINVAL, "net device '%s': MTU %u out of range (68..65521)",
                                  devs[d].name, mtu);
            vd->frame_max = mtu + 14;
            uint8_t mac[6];
            memcpy(mac, devs[d].mac, 6);
            static const uint8_t none[6];
            if (memcmp(mac, none, 6) == 0) {
                /* Unique per guest and interface, like Solo5's tender: random, then made
                 * locally administered and unicast. */
                if (getrandom(mac, sizeof mac, 0) != (ssize_t)sizeof mac)
                    return vm_load_error(vm, -EIO, "net device '%s': no random MAC: %s",
                                      devs[d].name, strerror(errno));
                mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
            }
            memcpy(m->e[i].u.net_basic.mac, mac, 6);
            m->e[i].u.net_basic.mtu = (uint16_t)mtu;
        }
        m->e[i].b.data = 0;
        m->e[i].b.hostfd = -1; /* the guest never learns host fds */
        m->e[i].attached = 1;
    }
    for (uint32_t i = 0; i < vm->ndev; i++) {
        if (m->e[i].type == MFT_RESERVED_FIRST) {
            vm->dev[i].fd = -1;
            continue;
        }
        if (!m->e[i].attached)
            return vm_load_error(vm, -ENODEV,
                              "device '%s' declared in the manifest is not attached (use --%s:%s=...)",
                              m->e[i].name, m->e[i].type == MFT_DEV_BLOCK_BASIC ? "block" : "net",
                              m->e[i].name);
    }
    for (uint32_t i = vm->ndev; i < MFT_MAX_ENTRIES; i++)
        vm->dev[i].fd = -1;
    return 0;
}

/* Makes the kernel's pages without write permission read-only in the host mapping. */
int vm_protect_kernel(struct funk_vm *vm)
{
    uint64_t start = 0;
    bool in = false;
    for (uint64_t a = HVT_GUEST_MIN_BASE; a <= vm->img.kernel_end; a += 4096) {
        bool ro = a < vm->img.kernel_end && !(elf_page_perm(&vm->img, a) & ELF_W);
        if (ro && !in) {
            start = a;
            in = true;
        } else if (!ro && in) {
            if (mprotect(vm->mem + start, a - start, PROT_READ) != 0)
                return -errno;
            in = false;
        }
    }
    return 0;
}

bool vm_host_ro(const struct funk_vm *vm, uint64_t gpa, uint64_t len)
{
    if ((vm->flags & FUNK_VM_F_LINUX) && len)
        return !linux_guest_writable(gpa, len); /* the program's own page map */
    if (!vm->img.host_ro || len == 0)
        return false;
    for (unsigned i = 0; i < vm->img.nseg; i++) {
        const struct elf_segment *s = &vm->img.seg[i];
        if (s->perm & ELF_W)
            continue;
        uint64_t lo = s->vaddr > gpa ? s->vaddr : gpa;
        uint64_t hi = s->vaddr + s->memsz < gpa + len ? s->vaddr + s->memsz : gpa + len;
        if (lo >= hi)
            continue;
        /* vm_gpa() has checked gpa + len; a page of the overlap shared with a writable
         * segment stays writable on the host. */
        for (uint64_t a = lo & ~4095ull; a < hi; a += 4096)
            if (!(elf_page_perm(&vm->img, a) & ELF_W))
                return true;
    }
    return false;
}

static int write_env(struct funk_vm *vm, const char *const *env, struct funk_boot_info *fbi)
{
    char *dst = vm_gpa(vm, FUNK_ENV_GPA, FUNK_ENV_MAX);
    size_t used = 0;
    uint32_t n = 0;
    for (; env && env[n]; n++) {
        size_t l = strlen(env[n]);
        if (!strchr(env[n], '='))
            return vm_load_error(vm, -EINVAL, "environment entry '%s' is not KEY=VALUE", env[n]);
        if (l + 2 > FUNK_ENV_MAX - used)
            return vm_load_error(vm, -E2BIG, "environment larger than %u bytes", FUNK_ENV_MAX);
        memcpy(dst + used, env[n], l + 1);
        used += l + 1;
    }
    dst[used++] = '\0';
    fbi->env = FUNK_ENV_GPA;
    fbi->env_size = used;
    fbi->env_count = n;
    return 0;
}

int funk_vm_load(struct funk_vm *vm, const void *elf, size_t elf_len, const struct funk_vm_boot *boot)
{
    if (!vm || !elf)
        return -EINVAL;
    if (vm->loaded)
        return vm_load_error(vm, -EBUSY, "a guest is already loaded in this VM shell");
    vm->err[0] = '\0';
    if (vm->flags & FUNK_VM_F_LINUX)
        return linux_vm_load(vm, elf, elf_len, boot); /* linux_elf.c: a static Linux program */
    int rc = elf_parse(elf, elf_len, vm->mem_size, &vm->img, vm->err, sizeof vm->err);
    if (rc)
        return rc;
    vm->funk_guest = vm->img.has_funk;
    const char *cmdline = boot && boot->cmdline ? boot->cmdline : "";
    size_t cl = strlen(cmdline);
    if (cl >= HVT_CMDLINE_SIZE)
        return vm_load_error(vm, -E2BIG, "command line is %zu bytes (at most %u)", cl,
                          HVT_CMDLINE_SIZE - 1);
    if (boot && boot->env && boot->env[0] && !vm->funk_guest)
        return vm_load_error(vm, -EINVAL, "environment given but the guest has no funk note");

    rc = vm->ops->place(vm, elf, elf_len);
    if (rc)
        return rc;
    rc = attach_devices(vm, elf, boot);
    if (rc)
        return rc;
    rc = hc_setup(vm);
    if (rc)
        return vm_load_error(vm, rc, "preparing devices failed: %s", strerror(-rc));
    memcpy(vm_gpa(vm, FUNK_CMDLINE_GPA, HVT_CMDLINE_SIZE), cmdline, cl + 1);

    struct hvt_boot_info bi = {
        .mem_size = vm->mem_size,
        .kernel_end = vm->img.kernel_end,
        /* 0 where guests use WALLTIME (a ~25 ns call in a process) for time. */
        .cpu_cycle_freq = vm->ops->cycle_freq(),
        .cmdline = FUNK_CMDLINE_GPA,
        .mft = FUNK_MFT_GPA,
    };
    memcpy(vm_gpa(vm, HVT_BOOT_INFO_GPA, sizeof bi), &bi, sizeof bi);
    if (vm->img.spt)
        spt_stage(vm); /* spt_x86_64.c: Solo5 spt's boot info and manifest instead */
    if (vm->funk_guest) {
        struct funk_boot_info fbi = {
            .magic = FUNK_BOOT_MAGIC,
            .version = FUNK_ABI_VERSION,
            .hypercall = vm->ops->hypercall_entry(),
            .isolation = (uint32_t)vm->ops->isolation,
        };
        rc = write_env(vm, boot ? boot->env : NULL, &fbi);
        if (rc)
            return rc;
        memcpy(vm_gpa(vm, FUNK_BOOT_INFO_GPA, sizeof fbi), &fbi, sizeof fbi);
    }
    rc = vm->ops->boot(vm);
    if (rc)
        return rc;
    vm->loaded = true;
    vm_log(vm, "loaded (%s): entry 0x%llx, kernel_end 0x%llx, %u device(s), %s guest",
           vm->ops->name,
           (unsigned long long)vm->img.entry, (unsigned long long)vm->img.kernel_end, vm->ndev,
           vm->funk_guest ? "funk" : vm->img.spt ? "plain Solo5 spt" : "plain Solo5");
    return 0;
}

/* ---- Backend-independent lifecycle ------------------------------------------------------ */

/* The one place flags name a backend. FUNK_KVM_SPAWN=off (an operator's switch, for
 * comparison and emergencies) runs FUNK_VM_F_KVM_SPAWN shells in this process again. */
static const struct vm_backend_ops *vm_backend_for(unsigned flags)
{
    if (flags & FUNK_VM_F_PROCESS)
        return &vm_process_ops;
    const char *e = getenv("FUNK_KVM_SPAWN");
    /* a Linux guest under KVM keeps the personality in this process (linux_kvm_x86_64.c) */
    if ((flags & FUNK_VM_F_KVM_SPAWN) && !(flags & FUNK_VM_F_LINUX) && !(e && strcmp(e, "off") == 0))
        return &vm_kvm_spawn_ops;
    return &vm_kvm_ops;
}

int funk_vm_shell_new(size_t mem_bytes, unsigned flags, struct funk_vm **out)
{
    if (!out || mem_bytes < (2u << 20) || mem_bytes > VM_MAX_MEM || (mem_bytes & ((2u << 20) - 1)))
        return -EINVAL;
    struct funk_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return -ENOMEM;
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
    vm->flags = flags;
    vm->mem_size = mem_bytes;
    vm->child_pid = -1;
    vm->child_pidfd = -1;
    vm->restored_fd = -1;
    for (unsigned i = 0; i < MFT_MAX_ENTRIES; i++)
        vm->dev[i].fd = -1;
    for (unsigned i = 0; i < VM_CGROUP_MAX; i++)
        vm->cg.dirfd[i] = -1;
    vm->ops = vm_backend_for(flags);
    vm->backend = vm->ops->isolation;
    int rc = vm->ops->shell_new(vm);
    if (rc) {
        funk_vm_delete(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

int funk_vm_run(struct funk_vm *vm, const struct funk_vm_io *io, struct funk_vm_result *res)
{
    static const struct funk_vm_io no_io;
    if (!vm || !res)
        return -EINVAL;
    if (!vm->loaded)
        return -ENOEXEC;
    memset(res, 0, sizeof *res);
    vm->io = io ? io : &no_io;
    vm->res = res;
    vm->loaded = false; /* a shell runs one guest */
    int rc = vm->ops->run(vm);
    if (rc)
        return rc;
    vm_log(vm, "guest ended after %llu hypercalls: %s", (unsigned long long)res->hypercalls,
           res->exit == FUNK_VM_EXIT_HALT ? "halt" : res->reason);
    return 0;
}

void funk_vm_kick(struct funk_vm *vm)
{
    if (!vm)
        return;
    vm->ops->kick(vm);
}

int funk_vm_isolation(const struct funk_vm *vm)
{
    return vm ? vm->ops->isolation : -EINVAL;
}

void funk_vm_delete(struct funk_vm *vm)
{
    if (!vm)
        return;
    hc_accel_free(vm);
    if (vm->ops)
        vm->ops->release(vm);
    /* what any backend's guest may hold: its cgroup, a cached Linux image, a staged image
     * (a Linux guest under KVM keeps its ELF copy too) */
    vm_cgroup_destroy(&vm->cg);
    if (vm->image_fd1 > 0)
        close(vm->image_fd1 - 1);
    free(vm->staging);
    free(vm->elf_copy);
    free(vm);
}

int funk_vm_set_limits(struct funk_vm *vm, const struct funk_vm_limits *lim)
{
    if (!vm || !lim)
        return -EINVAL;
    /* Below 4 MiB not even the monitor code of the guest's process starts. A limit below the
     * guest memory is allowed: the guest dies (FUNK_VM_EXIT_LIMIT) when it touches more. */
    if (lim->memory_bytes && lim->memory_bytes < (4u << 20))
        return -EINVAL;
    if (lim->cpu_millicores > 1000u * 4096u)
        return -EINVAL;
    vm->limits = *lim;
    return 0;
}

/* ---- Snapshots ------------------------------------------------------------------------- */

int funk_vm_snapshot_new(struct funk_vm *vm, const struct funk_vm_io *io, struct funk_vm_result *res,
                         struct funk_vm_snapshot **out)
{
    static const struct funk_vm_io no_io;
    if (!vm || !res || !out)
        return -EINVAL;
    if (!vm->loaded || vm->restored_fd >= 0 || vm->resume_recv)
        return -ENOEXEC;
    for (unsigned i = 0; i < vm->ndev; i++)
        if (vm->dev[i].fd >= 0)
            return -ENOTSUP; /* devices would be shared by every instance */
    if (!vm->funk_guest)
        return -ENOTSUP; /* the snapshot point is the first FN_RECV */
    memset(res, 0, sizeof *res);
    vm->io = io ? io : &no_io;
    vm->res = res;
    vm->loaded = false;
    return vm->ops->snapshot_new(vm, out);
}

int funk_vm_restore(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    if (!vm || !snap)
        return -EINVAL;
    if (vm->ops != snap->ops || vm->mem_size != snap->mem_size)
        return -EINVAL; /* a shell of the snapshot's backend and memory size */
    if (vm->loaded || vm->restored_fd >= 0 || vm->kicked)
        return -EBUSY;
    return vm->ops->restore(vm, snap);
}

void funk_vm_snapshot_delete(struct funk_vm_snapshot *snap)
{
    if (!snap)
        return;
    snap->ops->snapshot_delete(snap);
    free(snap);
}
