/* SPDX-License-Identifier: Apache-2.0 */
/* KVM backend on aarch64: VM shells created ahead of need, a vCPU of the host's preferred
 * target booting at EL1 with the MMU on, the run loop (hypercalls are MMIO stores, Solo5 hvt's
 * aarch64 convention). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aarch64.h"
#include "vm_backend.h"
#include "vm_internal.h"

/* KVM_{GET,SET}_ONE_REG ids: a core register (struct kvm_regs field) or an EL1 system register. */
#define CORE_REG(field)                                                                            \
    (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(field))
#define REG_X0 CORE_REG(regs.regs[0])
#define REG_PC CORE_REG(regs.pc)
#define REG_PSTATE CORE_REG(regs.pstate)
#define REG_SP_EL1 CORE_REG(sp_el1)
#define REG_ELR_EL1 CORE_REG(elr_el1)
#define REG_SCTLR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 0)
#define REG_CPACR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 2)
#define REG_TTBR0_EL1 ARM64_SYS_REG(3, 0, 2, 0, 0)
#define REG_TCR_EL1 ARM64_SYS_REG(3, 0, 2, 0, 2)
#define REG_ESR_EL1 ARM64_SYS_REG(3, 0, 5, 2, 0)
#define REG_FAR_EL1 ARM64_SYS_REG(3, 0, 6, 0, 0)
#define REG_MAIR_EL1 ARM64_SYS_REG(3, 0, 10, 2, 0)
#define REG_VBAR_EL1 ARM64_SYS_REG(3, 0, 12, 0, 0)

/* Process-wide: one /dev/kvm fd and the counter frequency guests see (CNTFRQ_EL0). */
static int kvm_sys_fd = -1;
static int kvm_sys_err;
static uint64_t kvm_cnt_hz;
static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;

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
    uint64_t f;
    __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(f));
    kvm_cnt_hz = f;
}

uint64_t vm_backend_tsc_freq(void)
{
    return kvm_cnt_hz;
}

static int set_reg(struct funk_vm *vm, uint64_t id, uint64_t v)
{
    struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&v};
    return ioctl(vm->vcpu_fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static uint64_t get_reg(struct funk_vm *vm, uint64_t id)
{
    uint64_t v = 0;
    struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&v};
    return ioctl(vm->vcpu_fd, KVM_GET_ONE_REG, &r) < 0 ? 0 : v;
}

static void kick_signal_once(void);
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

int vm_kvm_shell_new(struct funk_vm *vm)
{
    vm->mem_base = 0; /* guest memory is guest-physical 0 .. mem_size */
    vm->mem_end = vm->mem_size;
    pthread_once(&kvm_once, kvm_init_once);
    if (kvm_sys_err)
        return kvm_sys_err;
    pthread_once(&kick_once, kick_signal_once); /* before any sandbox forbids sigaction */
    vm->kvm_fd = kvm_sys_fd;
    vm->mem = MAP_FAILED;
    vm->run = MAP_FAILED;
    if (vm->mem_size > AA64_MAX_MEM)
        return -EINVAL;

    vm->vm_fd = ioctl(kvm_sys_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        goto fail_errno;
    /* Host mapping of guest memory: never executable on the host side. */
    vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->mem == MAP_FAILED)
        goto fail_errno;
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = vm->mem_size,
        .userspace_addr = (uint64_t)(uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        goto fail_errno;
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        goto fail_errno;
    /* The CPU model KVM prefers on this host, no optional features (no PSCI, no SVE, no PMU). */
    struct kvm_vcpu_init init;
    memset(&init, 0, sizeof init);
    if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
        goto fail_errno;
    memset(init.features, 0, sizeof init.features);
    if (ioctl(vm->vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
        goto fail_errno;
    int run_size = ioctl(kvm_sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0)
        goto fail_errno;
    vm->run_size = (size_t)run_size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED)
        goto fail_errno;
    return 0;

fail_errno:
    return errno ? -errno : -EINVAL;
}

void vm_kvm_delete(struct funk_vm *vm)
{
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

int vm_backend_boot(struct funk_vm *vm)
{
    /* Translation regime first, SCTLR (MMU on) last; then EL1h with interrupts masked at the
     * entry, x0 = boot info, sp at the top of guest memory. */
    const struct {
        uint64_t id, v;
    } regs[] = {
        {REG_MAIR_EL1, AA64_MAIR},
        {REG_TCR_EL1, AA64_TCR},
        {REG_TTBR0_EL1, AA64_L1_GPA},
        {REG_VBAR_EL1, AA64_VECTORS_GPA},
        {REG_CPACR_EL1, AA64_CPACR},
        {REG_SCTLR_EL1, AA64_SCTLR | (vm->img.host_ro ? 0 : AA64_SCTLR_WXN)},
        {REG_PSTATE, AA64_PSTATE_EL1H},
        {REG_SP_EL1, vm->mem_size},
        {REG_PC, vm->img.entry},
        {REG_X0, HVT_BOOT_INFO_GPA},
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        int rc = set_reg(vm, regs[i].id, regs[i].v);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t vm_backend_fault_addr(struct funk_vm *vm)
{
    return get_reg(vm, REG_FAR_EL1);
}

static unsigned long long guest_pc(struct funk_vm *vm)
{
    return (unsigned long long)get_reg(vm, REG_PC);
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

void vm_kvm_kick(struct funk_vm *vm)
{
    vm->kicked = 1;
    if (vm->run != MAP_FAILED && vm->run)
        vm->run->immediate_exit = 1; /* covers a kick just before KVM_RUN is entered */
    if (vm->running && !pthread_equal(pthread_self(), vm->thread))
        pthread_kill(vm->thread, FUNK_VM_KICK_SIGNAL);
}

/* An exception the guest took into the monitor's vectors: reported from the vCPU's own
 * registers (ESR, FAR, ELR), never from anything in guest memory. */
static int report_fault(struct funk_vm *vm, uint32_t vector)
{
    uint64_t esr = get_reg(vm, REG_ESR_EL1), far = get_reg(vm, REG_FAR_EL1);
    unsigned long long elr = (unsigned long long)get_reg(vm, REG_ELR_EL1);
    unsigned ec = (unsigned)(esr >> 26) & 0x3f, fsc = (unsigned)esr & 0x3f;
    if ((vector & 3) != 0) /* IRQ, FIQ or SError: nothing here raises them */
        return vm_stop(vm, FUNK_VM_EXIT_FAULT, "guest fault: %s (vector %u, pc=0x%llx)",
                       (vector & 3) == 3 ? "SError" : "unexpected interrupt", vector, elr);
    if (ec == 0x20 || ec == 0x21 || ec == 0x24 || ec == 0x25) {
        const char *kind = ec <= 0x21 ? "exec" : (esr & (1u << 6)) ? "write" : "read";
        return vm_stop(
            vm, FUNK_VM_EXIT_FAULT, "guest fault: page fault at 0x%llx (pc=0x%llx, %s%s)",
            (unsigned long long)far, elr, kind, (fsc & 0x3c) == 0x0c ? ", protection" : "");
    }
    return vm_stop(vm, FUNK_VM_EXIT_FAULT, "guest fault: %s (class 0x%x, esr 0x%llx, pc=0x%llx)",
                   aarch64_ec_name(ec), ec, (unsigned long long)esr, elr);
}

static int handle_mmio(struct funk_vm *vm)
{
    struct kvm_run *run = vm->run;
    uint64_t a = run->mmio.phys_addr;
    if (a >= HVT_MMIO_BASE && a < HVT_MMIO_ADDR(FUNK_HC_MAX) && (a & 7) == 0) {
        unsigned nr = (unsigned)HVT_MMIO_NR(a);
        if (!run->mmio.is_write || run->mmio.len != 4)
            return vm_stop(vm, FUNK_VM_EXIT_BADCALL,
                           "guest %s hypercall address 0x%llx with %u bytes at pc=0x%llx "
                           "(a hypercall is a 32-bit store)",
                           run->mmio.is_write ? "wrote" : "read", (unsigned long long)a,
                           run->mmio.len, guest_pc(vm));
        uint32_t gpa;
        memcpy(&gpa, run->mmio.data, sizeof gpa);
        uint64_t pc = guest_pc(vm);
        if (nr == FUNK_HC_FAULT && pc >= AA64_VECTORS_GPA && pc < AA64_VECTORS_GPA + 16 * 0x80)
            return report_fault(vm, gpa);
        return hc_dispatch(vm, nr, gpa);
    }
    /* A write to a page that is read-only in the host mapping (plain Solo5 guests). */
    if (vm->img.host_ro && run->mmio.is_write && a < vm->mem_size)
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "host/guest translation fault: pc=0x%llx (write to read-only guest "
                       "memory at 0x%llx)",
                       guest_pc(vm), (unsigned long long)a);
    return vm_stop(vm, FUNK_VM_EXIT_BADCALL,
                   "guest accessed 0x%llx outside its memory (MMIO %s) at pc=0x%llx",
                   (unsigned long long)a, run->mmio.is_write ? "write" : "read", guest_pc(vm));
}

static int handle_exit(struct funk_vm *vm)
{
    struct kvm_run *run = vm->run;
    switch (run->exit_reason) {
    case KVM_EXIT_MMIO:
        return handle_mmio(vm);
    case KVM_EXIT_SYSTEM_EVENT:
        return vm_stop(vm, FUNK_VM_EXIT_BADCALL,
                       "guest asked for a system event (%u: PSCI off/reset) at pc=0x%llx "
                       "without HALT",
                       run->system_event.type, guest_pc(vm));
    case KVM_EXIT_INTERNAL_ERROR:
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "KVM internal error %u at pc=0x%llx",
                       run->internal.suberror, guest_pc(vm));
    case KVM_EXIT_FAIL_ENTRY:
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "KVM entry failed (reason 0x%llx)",
                       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
    default:
        return vm_stop(vm, FUNK_VM_EXIT_BADCALL, "unexpected KVM exit %u at pc=0x%llx",
                       run->exit_reason, guest_pc(vm));
    }
}

int vm_kvm_run(struct funk_vm *vm)
{
    vm->thread = pthread_self();
    vm->running = 1;
    if (vm->resume_recv) {
        hvt_gpa_t g = vm->resume_recv;
        vm->resume_recv = 0;
        if (hc_dispatch(vm, FUNK_HC_FN_RECV, g) == HC_STOP) {
            vm->running = 0;
            return 0;
        }
    }
    for (;;) {
        if (vm->kicked) {
            vm_stop(vm, FUNK_VM_EXIT_TIMEOUT, "guest timed out at pc=0x%llx", guest_pc(vm));
            break;
        }
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == EFAULT && vm->img.host_ro)
                vm_stop(vm, FUNK_VM_EXIT_FAULT, "host/guest translation fault: pc=0x%llx",
                        guest_pc(vm));
            else if (errno == ENOSYS)
                /* An access outside guest memory that KVM cannot decode (no valid syndrome:
                 * a pair or writeback store), so it is neither a hypercall nor emulated. */
                vm_stop(vm, FUNK_VM_EXIT_BADCALL,
                        "guest accessed memory outside its RAM with an undecodable instruction "
                        "at pc=0x%llx",
                        guest_pc(vm));
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

/* ---- Snapshots: guest memory image + every vCPU register at the first FN_RECV ------------ */

/* The vCPU's registers as KVM lists them (KVM_GET_REG_LIST: core, system, timer, FP/SIMD,
 * firmware), with their values packed in list order. */
struct aa64_regs {
    struct kvm_reg_list *list;
    uint8_t *vals;
};

static size_t reg_size(uint64_t id)
{
    return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

static void regs_free(struct aa64_regs *r)
{
    if (!r)
        return;
    free(r->list);
    free(r->vals);
    free(r);
}

static int regs_save(struct funk_vm *vm, struct aa64_regs **out)
{
    struct kvm_reg_list probe = {.n = 0};
    if (ioctl(vm->vcpu_fd, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG || probe.n == 0 ||
        probe.n > 65536)
        return -EIO;
    struct aa64_regs *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->list = calloc(1, sizeof *r->list + probe.n * sizeof(uint64_t));
    int rc = -ENOMEM;
    if (!r->list)
        goto fail;
    r->list->n = probe.n;
    rc = -EIO;
    if (ioctl(vm->vcpu_fd, KVM_GET_REG_LIST, r->list) < 0)
        goto fail;
    size_t total = 0;
    for (uint64_t i = 0; i < r->list->n; i++)
        total += reg_size(r->list->reg[i]);
    rc = -ENOMEM;
    if (!(r->vals = malloc(total ? total : 1)))
        goto fail;
    rc = -EIO;
    for (uint64_t i = 0, at = 0; i < r->list->n; i++) {
        struct kvm_one_reg one = {.id = r->list->reg[i],
                                  .addr = (uint64_t)(uintptr_t)(r->vals + at)};
        if (ioctl(vm->vcpu_fd, KVM_GET_ONE_REG, &one) < 0)
            goto fail;
        at += reg_size(r->list->reg[i]);
    }
    *out = r;
    return 0;
fail:
    regs_free(r);
    return rc;
}

static int regs_restore(struct funk_vm *vm, const struct aa64_regs *r)
{
    for (uint64_t i = 0, at = 0; i < r->list->n; i++) {
        struct kvm_one_reg one = {.id = r->list->reg[i],
                                  .addr = (uint64_t)(uintptr_t)(r->vals + at)};
        if (ioctl(vm->vcpu_fd, KVM_SET_ONE_REG, &one) < 0)
            return -errno;
        at += reg_size(r->list->reg[i]);
    }
    return 0;
}

void vm_kvm_snapshot_delete(struct funk_vm_snapshot *snap);

int vm_kvm_snapshot_new(struct funk_vm *vm, struct funk_vm_snapshot **out)
{
    vm->snapshot_mode = 1;
    int rc = vm_kvm_run(vm);
    vm->snapshot_mode = 0;
    if (rc)
        return rc;
    if (!vm->snap_ready)
        return -ECHILD; /* ended before its first request: vm->res says how */
    /* Complete the pending MMIO store (the pc moves past it) without running guest code. */
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
    struct aa64_regs *regs = NULL;
    if ((rc = regs_save(vm, &regs)) != 0)
        goto fail;
    snap->regs = regs;
    if ((rc = vm_kvm_snap_pages(vm, snap)) != 0)
        goto fail;
    *out = snap;
    return 0;
fail:
    vm_kvm_snapshot_delete(snap);
    free(snap);
    return rc;
}

int vm_kvm_restore(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    /* The shell's memory is fresh (zero): put back the pages, then every register (the
     * virtual counter included, so the guest's clock goes on from the snapshot). */
    vm_kvm_snap_pages_restore(vm, snap);
    int rc = regs_restore(vm, snap->regs);
    if (rc)
        return rc;
    vm->img = snap->img;
    vm->funk_guest = true;
    vm->ndev = 0;
    vm->resume_recv = snap->recv_gpa;
    vm->loaded = true;
    return 0;
}

void vm_kvm_snapshot_delete(struct funk_vm_snapshot *snap)
{
    free(snap->image);
    free(snap->ranges);
    regs_free(snap->regs);
    snap->image = NULL;
    snap->ranges = NULL;
    snap->regs = NULL;
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
