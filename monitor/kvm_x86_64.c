/* SPDX-License-Identifier: Apache-2.0 */
/* KVM backend on x86_64: VM shells created ahead of need, vCPU state, the run loop. */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "linux.h"
#include "vm_backend.h"
#include "vm_internal.h"
#include "x86_64.h"

/* Process-wide: one /dev/kvm fd, the supported CPUID (~300 us to query) and the TSC rate. */
static int kvm_sys_fd = -1;
static int kvm_sys_err;
static struct kvm_cpuid2 *kvm_cpuid;
static uint64_t kvm_tsc_hz;
static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;

/*
 * The vCPU's CPUID: baseline x86-64 only (what guests may assume here), built locally because
 * KVM_GET_SUPPORTED_CPUID costs ~300 us per process on this machine; it is only the fallback.
 * Feature bits are limited to the host's own so a real host never advertises what it lacks.
 */
static struct kvm_cpuid2 *baseline_cpuid(void)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof *c + 4 * sizeof(struct kvm_cpuid_entry2));
    if (!c)
        return NULL;
    unsigned a, b, cx, d, a1, b1, c1, d1, ea, eb, ec, ed;
    __cpuid(0, a, b, cx, d);
    __cpuid(1, a1, b1, c1, d1);
    __cpuid(0x80000001, ea, eb, ec, ed);
    (void)a, (void)b1, (void)c1, (void)eb, (void)ec, (void)ea;
    /* FPU DE PSE TSC MSR PAE MCE CX8 SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2 */
    const unsigned edx1 = 0x1 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x800 | 0x1000 |
                          0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x80000 | 0x800000 |
                          0x1000000 | 0x2000000 | 0x4000000;
    const unsigned edx8 = (1u << 11) | (1u << 20) | (1u << 29); /* SYSCALL NX LM */
    c->nent = 4;
    c->entries[0] = (struct kvm_cpuid_entry2){.function = 0, .eax = 1, .ebx = b, .ecx = cx, .edx = d};
    c->entries[1] = (struct kvm_cpuid_entry2){
        .function = 1, .eax = a1, .ebx = 8u << 8 /* clflush line 64 bytes */, .edx = d1 & edx1};
    c->entries[2] = (struct kvm_cpuid_entry2){.function = 0x80000000, .eax = 0x80000001};
    c->entries[3] = (struct kvm_cpuid_entry2){.function = 0x80000001, .edx = ed & edx8};
    return c;
}

static int supported_cpuid(void)
{
    for (int n = 64; n <= 1024; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof *c + n * sizeof(struct kvm_cpuid_entry2));
        if (!c)
            return -ENOMEM;
        c->nent = n;
        if (ioctl(kvm_sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            free(kvm_cpuid);
            kvm_cpuid = c;
            return 0;
        }
        int e = errno;
        free(c);
        if (e != E2BIG)
            return -e;
    }
    return -E2BIG;
}

static void kvm_init_once(void)
{
    kvm_sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_sys_fd < 0) {
        kvm_sys_err = -errno;
        return;
    }
    if (ioctl(kvm_sys_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        kvm_sys_err = -ENOTSUP;
        return;
    }
    kvm_cpuid = baseline_cpuid();
    if (!kvm_cpuid)
        kvm_sys_err = -ENOMEM;
}

uint64_t vm_backend_tsc_freq(void)
{
    return kvm_tsc_hz;
}

static void kick_signal_once(void);
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

int vm_kvm_shell_new(struct funk_vm *vm)
{
    vm->mem_base = 0;
    vm->mem_end = vm->mem_size;
    pthread_once(&kvm_once, kvm_init_once);
    if (kvm_sys_err)
        return kvm_sys_err;
    pthread_once(&kick_once, kick_signal_once); /* before any sandbox forbids sigaction */
    vm->kvm_fd = kvm_sys_fd;
    vm->mem = MAP_FAILED;
    vm->run = MAP_FAILED;
    size_t mem_bytes = vm->mem_size;
    int rc;

    vm->vm_fd = ioctl(kvm_sys_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        goto fail_errno;
    /* Host mapping of guest memory: never executable on the host side. */
    vm->mem = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->mem == MAP_FAILED)
        goto fail_errno;
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = mem_bytes,
        .userspace_addr = (uint64_t)(uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        goto fail_errno;
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        goto fail_errno;
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, kvm_cpuid) < 0) {
        /* Fall back to what KVM reports as supported (once per process). */
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&lock);
        rc = kvm_cpuid->nent == 4 ? supported_cpuid() : -EINVAL;
        pthread_mutex_unlock(&lock);
        if (rc || ioctl(vm->vcpu_fd, KVM_SET_CPUID2, kvm_cpuid) < 0)
            goto fail_errno;
    }
    int run_size = ioctl(kvm_sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0)
        goto fail_errno;
    vm->run_size = (size_t)run_size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED)
        goto fail_errno;
    if (!kvm_tsc_hz) {
        int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
        if (khz > 0)
            kvm_tsc_hz = (uint64_t)khz * 1000;
    }
    return 0;

fail_errno:
    rc = errno ? -errno : -EINVAL;
    return rc;
}

void vm_kvm_delete(struct funk_vm *vm)
{
    if (vm->flags & FUNK_VM_F_LINUX)
        linux_kvm_release(vm); /* its privileged memory slot (linux_kvm_x86_64.c) */
    if (vm->run != MAP_FAILED && vm->run)
        munmap(vm->run, vm->run_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->mem != MAP_FAILED && vm->mem)
        munmap(vm->mem, vm->mem_size);
    vm->mem = NULL;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
    memset(s, 0, sizeof *s);
    s->base = 0;
    s->limit = 0xffffffff;
    s->selector = sel;
    s->type = type;
    s->present = 1;
    s->dpl = 0;
    s->s = 1;
    s->g = 1;
    s->l = code ? 1 : 0;
    s->db = code ? 0 : 1;
}

int vm_backend_boot(struct funk_vm *vm)
{
    struct kvm_sregs sr;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
        return -errno;
    set_seg(&sr.cs, X86_GDT_CODE, 0xb, 1);
    set_seg(&sr.ds, X86_GDT_DATA, 0x3, 0);
    sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
    memset(&sr.tr, 0, sizeof sr.tr);
    sr.tr.base = X86_TSS_GPA;
    sr.tr.limit = 103;
    sr.tr.selector = X86_GDT_TSS;
    sr.tr.type = 0xb; /* busy 64-bit TSS */
    sr.tr.present = 1;
    memset(&sr.ldt, 0, sizeof sr.ldt);
    sr.ldt.type = 0x2;
    sr.ldt.unusable = 1;
    sr.gdt.base = X86_GDT_GPA;
    sr.gdt.limit = X86_GDT_TSS + 16 - 1;
    sr.idt.base = X86_IDT_GPA;
    sr.idt.limit = 32 * 16 - 1;
    sr.cr3 = X86_PML4_GPA;
    sr.cr4 = (1u << 5) | (1u << 9) | (1u << 10); /* PAE, OSFXSR, OSXMMEXCPT */
    sr.cr0 = (1u << 0) | (1u << 1) | (1u << 4) | (1u << 5) | (1u << 16) | (1u << 31);
    /* PE, MP, ET, NE, WP (ring-0 writes to read-only pages fault), PG */
    sr.efer = (1u << 8) | (1u << 10) | (1u << 11); /* LME, LMA, NXE */
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sr) < 0)
        return -errno;
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = vm->img.entry;
    r.rsp = vm->mem_size - 8;
    r.rdi = HVT_BOOT_INFO_GPA;
    r.rflags = 0x2;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    return 0;
}

uint64_t vm_backend_fault_addr(struct funk_vm *vm)
{
    struct kvm_sregs sr;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
        return 0;
    return sr.cr2;
}

static uint64_t guest_rip(struct funk_vm *vm)
{
    struct kvm_regs r;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0)
        return 0;
    return r.rip;
}

/* A signal with an empty handler (no SA_RESTART) pulls the vCPU thread out of KVM_RUN. */
static void kick_handler(int sig)
{
    (void)sig;
}

static void kick_signal_once(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(FUNK_VM_KICK_SIGNAL, &sa, NULL);
}

static void vm_kvm_kick(struct funk_vm *vm)
{
    vm->kicked = 1;
    if (vm->run != MAP_FAILED && vm->run)
        vm->run->immediate_exit = 1; /* covers a kick just before KVM_RUN is entered */
    if (vm->running && !pthread_equal(pthread_self(), vm->thread))
        pthread_kill(vm->thread, FUNK_VM_KICK_SIGNAL);
}

static int handle_exit(struct funk_vm *vm)
{
    struct kvm_run *run = vm->run;
    if (vm->flags & FUNK_VM_F_LINUX) {
        int r = linux_kvm_exit(vm); /* linux_kvm_x86_64.c: its system calls and faults */
        if (r >= 0)
            return r;
    }
    switch (run->exit_reason) {
    case KVM_EXIT_IO: {
        unsigned port = run->io.port;
        if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 || run->io.count != 1 ||
            port < HVT_PIO_BASE || port >= HVT_PIO_BASE + FUNK_HC_MAX)
            return vm_stop(vm, FUNK_VM_EXIT_BADCALL,
                           "guest accessed unknown I/O port 0x%x (%s, size %u) at rip=0x%llx", port,
                           run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.size,
                           (unsigned long long)guest_rip(vm));
        uint32_t gpa;
        memcpy(&gpa, (uint8_t *)run + run->io.data_offset, sizeof gpa);
        return hc_dispatch(vm, port - HVT_PIO_BASE, gpa);
    }
    case KVM_EXIT_HLT:
        return vm_stop(vm, FUNK_VM_EXIT_BADCALL, "guest executed hlt at rip=0x%llx without HALT",
                       (unsigned long long)guest_rip(vm));
    case KVM_EXIT_SHUTDOWN:
        return vm_stop(vm, FUNK_VM_EXIT_TRIPLE, "guest triple fault (shutdown) at rip=0x%llx",
                       (unsigned long long)guest_rip(vm));
    case KVM_EXIT_INTERNAL_ERROR:
        if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
            return vm_stop(vm, FUNK_VM_EXIT_INTERNAL,
                           "KVM emulation failure at rip=0x%llx (an instruction this KVM cannot "
                           "emulate, e.g. SSE/x87 arithmetic under software virtualization)",
                           (unsigned long long)guest_rip(vm));
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "KVM internal error %u at rip=0x%llx",
                       run->internal.suberror, (unsigned long long)guest_rip(vm));
    case KVM_EXIT_MMIO:
        /* A write to a page that is read-only in the host mapping (plain Solo5 guests) comes
         * back as an MMIO exit on some KVMs (software-virtualized PVM here) instead of EFAULT. */
        if (vm->img.host_ro && run->mmio.is_write && run->mmio.phys_addr < vm->mem_size)
            return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                           "host/guest translation fault: rip=0x%llx (write to read-only guest "
                           "memory at 0x%llx)", (unsigned long long)guest_rip(vm),
                           (unsigned long long)run->mmio.phys_addr);
        return vm_stop(vm, FUNK_VM_EXIT_BADCALL,
                       "guest accessed 0x%llx outside its memory (MMIO %s) at rip=0x%llx",
                       (unsigned long long)run->mmio.phys_addr,
                       run->mmio.is_write ? "write" : "read", (unsigned long long)guest_rip(vm));
    case KVM_EXIT_FAIL_ENTRY:
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "KVM entry failed (reason 0x%llx)",
                       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
    default:
        return vm_stop(vm, FUNK_VM_EXIT_BADCALL, "unexpected KVM exit %u at rip=0x%llx",
                       run->exit_reason, (unsigned long long)guest_rip(vm));
    }
}

int vm_kvm_run(struct funk_vm *vm)
{
    vm->thread = pthread_self();
    vm->running = 1;
    if (vm->resume_recv) {
        /* Restored from a snapshot: the guest waits in its first FN_RECV; serve it now. */
        hvt_gpa_t g = vm->resume_recv;
        vm->resume_recv = 0;
        if (hc_dispatch(vm, FUNK_HC_FN_RECV, g) == HC_STOP) {
            vm->running = 0;
            return 0;
        }
    }
    for (;;) {
        if (vm->kicked) {
            vm_stop(vm, FUNK_VM_EXIT_TIMEOUT, "guest timed out at rip=0x%llx",
                    (unsigned long long)guest_rip(vm));
            break;
        }
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == EFAULT && vm->img.host_ro)
                vm_stop(vm, FUNK_VM_EXIT_FAULT, "host/guest translation fault: rip=0x%llx",
                        (unsigned long long)guest_rip(vm));
            else
                vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "KVM_RUN failed: %s", strerror(errno));
            break;
        }
        if (handle_exit(vm) == HC_STOP)
            break;
    }
    vm->running = 0;
    return 0;
}

/* ---- Snapshots: guest memory image (memfd) + vCPU state at the first FN_RECV ------------- */

#define MSR_IA32_TSC 0x10

struct msrs1 {
    struct kvm_msrs h;
    struct kvm_msr_entry e;
};

static void vm_kvm_snapshot_delete(struct funk_vm_snapshot *snap);

static int vm_kvm_snapshot_new(struct funk_vm *vm, struct funk_vm_snapshot **out)
{
    vm->snapshot_mode = 1;
    int rc = vm_kvm_run(vm);
    vm->snapshot_mode = 0;
    if (rc)
        return rc;
    if (!vm->snap_ready)
        return -ECHILD; /* ended before its first request: vm->res says how */
    /* Complete the pending `out` without running guest code, so the state is consistent. */
    vm->run->immediate_exit = 1;
    ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->run->immediate_exit = 0;
    struct funk_vm_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return -ENOMEM;
    snap->ops = &vm_kvm_ops;
    snap->mem_size = vm->mem_size;
    snap->img = vm->img;
    snap->recv_gpa = vm->snap_gpa;
    snap->regs = malloc(sizeof(struct kvm_regs));
    snap->sregs = malloc(sizeof(struct kvm_sregs));
    snap->fpu = malloc(sizeof(struct kvm_fpu));
    struct msrs1 m = {.h = {.nmsrs = 1}, .e = {.index = MSR_IA32_TSC}};
    rc = -ENOMEM;
    if (!snap->regs || !snap->sregs || !snap->fpu)
        goto fail;
    rc = -EIO;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, snap->regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, snap->sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_FPU, snap->fpu) < 0)
        goto fail;
    if (ioctl(vm->vcpu_fd, KVM_GET_MSRS, &m) == 1)
        snap->tsc = m.e.data;
    if ((rc = vm_kvm_snap_pages(vm, snap)) != 0)
        goto fail;
    *out = snap;
    return 0;
fail:
    vm_kvm_snapshot_delete(snap);
    free(snap);
    return rc;
}

static int vm_kvm_restore(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    vm_kvm_snap_pages_restore(vm, snap); /* the shell's memory is fresh (zero) */
    struct msrs1 msr = {.h = {.nmsrs = 1}, .e = {.index = MSR_IA32_TSC, .data = snap->tsc}};
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, snap->sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_SET_REGS, snap->regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_SET_FPU, snap->fpu) < 0)
        return -errno;
    ioctl(vm->vcpu_fd, KVM_SET_MSRS, &msr); /* best effort: the guest's clock keeps going */
    vm->img = snap->img;
    vm->funk_guest = true;
    vm->ndev = 0;
    vm->resume_recv = snap->recv_gpa;
    vm->loaded = true;
    return 0;
}

static void vm_kvm_snapshot_delete(struct funk_vm_snapshot *snap)
{
    free(snap->image);
    free(snap->ranges);
    free(snap->regs);
    free(snap->sregs);
    free(snap->fpu);
}

const struct vm_backend_ops vm_kvm_ops = {
    .name = "kvm",
    .isolation = FUNK_ISOLATION_KVM,
    .shell_new = vm_kvm_shell_new,
    .place = vm_kvm_place,
    .cycle_freq = vm_backend_tsc_freq,
    .hypercall_entry = vm_kvm_hypercall_entry,
    .boot = vm_kvm_boot,
    .run = vm_kvm_run,
    .kick = vm_kvm_kick,
    .sandbox = vm_kvm_sandbox,
    .release = vm_kvm_delete,
    .snapshot_new = vm_kvm_snapshot_new,
    .restore = vm_kvm_restore,
    .snapshot_delete = vm_kvm_snapshot_delete,
};
