/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal Solo5-style hvt tender, the baseline of bench/solo5: KVM set-up, ELF load, run loop. */
/*
 * What solo5-hvt does for a guest without devices, and nothing more (no seccomp, no modules,
 * no argument checks beyond bounds): open /dev/kvm, create the VM, map memory, query and set
 * CPUID, identity-map memory with 2 MiB pages, load the PT_LOAD segments, write the boot info,
 * the command line and the manifest, run to HALT. Usage: funk-ref-tender --mem=MB KERNEL [ARGS].
 * Exit: the guest's status, 1 on any error (like errx).
 */
#include <elf.h>
#include <err.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FUNK_ABI_HOST
#include <funk/abi/hvt.h>

#define GDT 0x1000ull
#define PML4 0x2000ull
#define PDPT 0x3000ull
#define PD 0x4000ull /* four pages: up to 4 GiB */
#define CMDLINE 0x8000ull
#define MFT 0x11000ull
#define MFT_MAX 0x2000ull

static uint8_t *mem;
static uint64_t mem_size;

/* The guest range [gpa, gpa+len) as a host pointer, or exit 1. */
static void *gpa_p(uint64_t gpa, uint64_t len)
{
    if (gpa > mem_size || len > mem_size - gpa)
        errx(1, "guest address 0x%llx+%llu out of range", (unsigned long long)gpa,
             (unsigned long long)len);
    return mem + gpa;
}

/* Loads the PT_LOAD segments; the entry in *entry, the end of the kernel in *end. Copies the
 * MFT1 note's manifest (after its 4 bytes of padding) to MFT when there is one. */
static void load_elf(const uint8_t *b, size_t len, uint64_t *entry, uint64_t *end)
{
    Elf64_Ehdr eh;
    if (len < sizeof eh)
        errx(1, "not an ELF file");
    memcpy(&eh, b, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
        (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
        errx(1, "invalid or unsupported executable");
    *end = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, b + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_NOTE && ph.p_offset <= len && ph.p_filesz <= len - ph.p_offset &&
            ph.p_filesz >= 24 + 8) {
            uint32_t nh[3];
            memcpy(nh, b + ph.p_offset, sizeof nh);
            if (nh[0] == 6 && nh[2] == HVT_NOTE_MFT1 && nh[1] > 4 && nh[1] - 4 <= MFT_MAX &&
                20 + (uint64_t)nh[1] <= ph.p_filesz)
                memcpy(gpa_p(MFT, nh[1] - 4), b + ph.p_offset + 24, nh[1] - 4);
        }
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset ||
            ph.p_vaddr < HVT_GUEST_MIN_BASE)
            errx(1, "invalid executable: segment %u", i);
        memcpy(gpa_p(ph.p_vaddr, ph.p_memsz), b + ph.p_offset, ph.p_filesz);
        if (ph.p_vaddr + ph.p_memsz > *end)
            *end = ph.p_vaddr + ph.p_memsz;
    }
    *entry = eh.e_entry;
}

static void setup_long_mode(int vcpu, uint64_t entry)
{
    uint64_t *gdt = gpa_p(GDT, 24);
    gdt[0] = 0;
    gdt[1] = 0x00af9b000000ffffull; /* 64-bit code */
    gdt[2] = 0x00cf93000000ffffull; /* data */
    uint64_t *pml4 = gpa_p(PML4, 4096), *pdpt = gpa_p(PDPT, 4096), *pd = gpa_p(PD, 4 * 4096);
    memset(pml4, 0, 4096 * 6);
    pml4[0] = PDPT | 3;
    for (uint64_t g = 0; g < 4; g++)
        pdpt[g] = (PD + g * 4096) | 3;
    for (uint64_t a = 0; a < mem_size; a += 2ull << 20)
        pd[a >> 21] = a | 0x83; /* present, writable, 2 MiB */
    struct kvm_sregs s;
    if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
        err(1, "KVM_GET_SREGS");
    struct kvm_segment code = {.base = 0,
                               .limit = 0xffffffff,
                               .selector = 8,
                               .type = 11,
                               .present = 1,
                               .s = 1,
                               .l = 1,
                               .g = 1};
    struct kvm_segment data = code;
    data.selector = 16, data.type = 3, data.l = 0, data.db = 1;
    s.cs = code;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.gdt.base = GDT, s.gdt.limit = 23;
    s.cr3 = PML4;
    s.cr4 = (1u << 5) | (1u << 9) | (1u << 10); /* PAE, OSFXSR, OSXMMEXCPT */
    s.cr0 = 0x80050033ull;                      /* PG WP AM NE ET MP PE */
    s.efer = (1u << 8) | (1u << 10);            /* LME, LMA */
    if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
        err(1, "KVM_SET_SREGS");
    struct kvm_regs r = {.rip = entry, .rflags = 2, .rsp = mem_size - 8, .rdi = HVT_BOOT_INFO_GPA};
    if (ioctl(vcpu, KVM_SET_REGS, &r) < 0)
        err(1, "KVM_SET_REGS");
}

int main(int argc, char **argv)
{
    mem_size = 512ull << 20;
    int i = 1;
    if (i < argc && strncmp(argv[i], "--mem=", 6) == 0)
        mem_size = strtoull(argv[i++] + 6, NULL, 10) << 20;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc || mem_size < (2ull << 20) || mem_size > (4ull << 30) || mem_size % (2ull << 20))
        errx(1, "usage: funk-ref-tender [--mem=MB] KERNEL [ARGS...]");
    int fd = open(argv[i], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        err(1, "%s", argv[i]);
    uint8_t *elf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (elf == MAP_FAILED)
        err(1, "mmap %s", argv[i]);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        err(1, "/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        err(1, "KVM_CREATE_VM");
    mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
               -1, 0);
    if (mem == MAP_FAILED)
        err(1, "guest memory");
    struct kvm_userspace_memory_region region = {.memory_size = mem_size,
                                                 .userspace_addr = (uint64_t)(uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        err(1, "KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        err(1, "KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run_size < 0 || run == MAP_FAILED)
        err(1, "kvm_run");
    /* CPUID as solo5-hvt sets it: what KVM supports. */
    struct {
        struct kvm_cpuid2 c;
        struct kvm_cpuid_entry2 e[100];
    } cpuid = {.c.nent = 100};
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0 || ioctl(vcpu, KVM_SET_CPUID2, &cpuid) < 0)
        err(1, "CPUID");
    int khz = ioctl(vcpu, KVM_GET_TSC_KHZ, 0);

    uint64_t entry, end;
    load_elf(elf, (size_t)st.st_size, &entry, &end);
    char *cl = gpa_p(CMDLINE, HVT_CMDLINE_SIZE);
    size_t n = 0;
    for (int j = i + 1; j < argc; j++) {
        size_t l = strlen(argv[j]);
        if (n + l + 2 > HVT_CMDLINE_SIZE)
            errx(1, "command line too long");
        if (n)
            cl[n++] = ' ';
        memcpy(cl + n, argv[j], l);
        n += l;
    }
    cl[n] = '\0';
    struct hvt_boot_info bi = {.mem_size = mem_size,
                               .kernel_end = end,
                               .cpu_cycle_freq = khz > 0 ? (uint64_t)khz * 1000 : 0,
                               .cmdline = CMDLINE,
                               .mft = MFT};
    memcpy(gpa_p(HVT_BOOT_INFO_GPA, sizeof bi), &bi, sizeof bi);
    setup_long_mode(vcpu, entry);

    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0)
            err(1, "KVM_RUN");
        if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
            run->io.size != 4 || run->io.port < HVT_PIO_BASE)
            errx(1, "unexpected exit %u", run->exit_reason);
        uint32_t gpa;
        memcpy(&gpa, (uint8_t *)run + run->io.data_offset, 4);
        switch (run->io.port - HVT_PIO_BASE) {
        case HVT_HYPERCALL_PUTS: {
            struct hvt_hc_puts *a = gpa_p(gpa, sizeof *a);
            if (write(1, gpa_p(a->data, a->len), a->len) < 0)
                err(1, "write");
            break;
        }
        case HVT_HYPERCALL_WALLTIME: {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ((struct hvt_hc_walltime *)gpa_p(gpa, 8))->nsecs =
                (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
            break;
        }
        case HVT_HYPERCALL_POLL: {
            struct hvt_hc_poll *a = gpa_p(gpa, sizeof *a);
            struct timespec ts = {(time_t)(a->timeout_nsecs / 1000000000ull),
                                  (long)(a->timeout_nsecs % 1000000000ull)};
            nanosleep(&ts, NULL);
            a->ready_set = 0;
            a->ret = 0;
            break;
        }
        case HVT_HYPERCALL_HALT:
            return ((struct hvt_hc_halt *)gpa_p(gpa, sizeof(struct hvt_hc_halt)))->exit_status &
                   0xff;
        default:
            errx(1, "invalid guest hypercall: num=%u", run->io.port - HVT_PIO_BASE);
        }
    }
}
