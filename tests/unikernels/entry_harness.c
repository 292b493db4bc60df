/* SPDX-License-Identifier: Apache-2.0 */
/* Test double for the SDK's process-backend contract: runs a unikernel natively in this process
 * with hypercalls through the boot-info entry (a host function), no KVM, no sandbox. */

/*
 * Not the process backend (that is funk-monitor --isolation=process, issue 8): this only proves
 * that the guest SDK needs nothing privileged when funk_boot_info.isolation says PROCESS, that
 * every hypercall goes through funk_boot_info.hypercall, and that SSE code runs natively. It
 * serves PUTS, WALLTIME, POLL, HALT, and FN_RECV/FN_SEND for one POST request whose body is
 * --fn-input=FILE (the response body goes to stdout); anything else ends the run with exit 73, a
 * fault with 70, like funk-monitor.
 *   usage: funk-entry-harness [--fn-input=FILE] KERNEL.elf [ARGS...]
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/abi/hvt.h>

#define MEM_SIZE (8u << 20)
#define LOW_BASE HVT_BOOT_INFO_GPA /* nothing is mapped below: NULL and friends fault */

static void hc_entry(uint64_t nr, uint64_t arg);

/* The one request of --fn-input: body bytes, and whether it was handed out. */
static char *fn_body;
static size_t fn_body_len;
static int fn_state; /* 0: none given, 1: pending, 2: handed out, 3: answered */

static _Noreturn void die(int code, const char *why, const char *detail)
{
    fprintf(stderr, "funk-entry-harness: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
    _exit(code);
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    char line[128];
    int n = snprintf(line, sizeof line, "funk-entry-harness: guest fault: signal %d at %p\n", sig,
                     si->si_addr);
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        _exit(71);
    _exit(70);
}

/* Arguments point into the identity-mapped guest memory; check them like a monitor would. */
static void *guest_ptr(uint64_t gpa, uint64_t len)
{
    if (gpa < LOW_BASE || gpa > MEM_SIZE || len > MEM_SIZE - gpa)
        die(74, "bad guest pointer", NULL);
    return (void *)(uintptr_t)gpa;
}

static void hc_entry(uint64_t nr, uint64_t arg)
{
    if (arg & 7)
        die(74, "unaligned hypercall argument", NULL);
    switch (nr) {
    case HVT_HYPERCALL_PUTS: {
        struct hvt_hc_puts *a = guest_ptr(arg, sizeof *a);
        const char *p = guest_ptr((uint64_t)(uintptr_t)a->data, a->len);
        if (write(STDOUT_FILENO, p, a->len) < 0)
            die(76, "console write failed", strerror(errno));
        return;
    }
    case HVT_HYPERCALL_WALLTIME: {
        struct hvt_hc_walltime *a = guest_ptr(arg, sizeof *a);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        a->nsecs = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        return;
    }
    case HVT_HYPERCALL_POLL: {
        struct hvt_hc_poll *a = guest_ptr(arg, sizeof *a);
        struct timespec ts = {.tv_sec = (time_t)(a->timeout_nsecs / 1000000000u),
                              .tv_nsec = (long)(a->timeout_nsecs % 1000000000u)};
        nanosleep(&ts, NULL);
        a->ready_set = 0;
        a->ret = 0;
        return;
    }
    case HVT_HYPERCALL_HALT: {
        struct hvt_hc_halt *a = guest_ptr(arg, sizeof *a);
        _exit(a->exit_status & 0xff);
    }
    case FUNK_HC_FN_RECV: {
        struct funk_hc_fn_recv *a = guest_ptr(arg, sizeof *a);
        if (fn_state != 1) {
            a->ret = FUNK_FN_NOMORE;
            return;
        }
        /* header, then "POST\0" "/\0" "\0" "\0" body "\0" */
        struct funk_fn_request r = {.id = 1};
        uint64_t need = sizeof r + 5 + 2 + 1 + 1 + fn_body_len + 1;
        a->needed = need;
        if (need > a->len) {
            a->ret = FUNK_FN_TOOSMALL;
            return;
        }
        char *b = guest_ptr((uint64_t)(uintptr_t)a->buf, need);
        uint32_t pos = sizeof r;
        r.method_off = pos, r.method_len = 4;
        memcpy(b + pos, "POST", 5), pos += 5;
        r.path_off = pos, r.path_len = 1;
        memcpy(b + pos, "/", 2), pos += 2;
        r.query_off = pos, r.query_len = 0;
        b[pos++] = '\0';
        r.headers_off = pos, r.headers_len = 0;
        b[pos++] = '\0';
        r.body_off = pos, r.body_len = (uint32_t)fn_body_len;
        memcpy(b + pos, fn_body, fn_body_len);
        b[pos + fn_body_len] = '\0';
        r.size = (uint32_t)need;
        memcpy(b, &r, sizeof r);
        fn_state = 2;
        a->ret = FUNK_FN_OK;
        return;
    }
    case FUNK_HC_FN_SEND: {
        struct funk_hc_fn_send *a = guest_ptr(arg, sizeof *a);
        if (fn_state != 2) {
            a->ret = FUNK_FN_EINVAL;
            return;
        }
        const char *body = guest_ptr((uint64_t)(uintptr_t)a->body, a->body_len);
        if (a->body_len && write(STDOUT_FILENO, body, a->body_len) < 0)
            die(76, "response write failed", strerror(errno));
        fn_state = 3;
        a->ret = FUNK_FN_OK;
        return;
    }
    default: {
        char n[32];
        snprintf(n, sizeof n, "%llu", (unsigned long long)nr);
        die(73, "unsupported hypercall", n);
    }
    }
}

/* Maps the guest's memory at its own addresses and loads the PT_LOAD segments; returns entry. */
static uint64_t load(const char *path, uint64_t *kernel_end)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        die(65, "cannot open kernel", strerror(errno));
    uint8_t *f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED || (size_t)st.st_size < sizeof(Elf64_Ehdr))
        die(65, "cannot read kernel", NULL);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_machine != EM_X86_64 ||
        eh->e_phentsize != sizeof(Elf64_Phdr) ||
        eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size)
        die(65, "not an x86_64 ELF", path);
    void *mem = mmap((void *)(uintptr_t)LOW_BASE, MEM_SIZE - LOW_BASE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (mem != (void *)(uintptr_t)LOW_BASE)
        die(66, "cannot map guest memory at its addresses", strerror(errno));
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(f + eh->e_phoff);
    *kernel_end = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (ph[i].p_vaddr < HVT_GUEST_MIN_BASE || ph[i].p_memsz > MEM_SIZE ||
            ph[i].p_vaddr > MEM_SIZE - ph[i].p_memsz || ph[i].p_filesz > ph[i].p_memsz ||
            ph[i].p_offset + ph[i].p_filesz > (uint64_t)st.st_size)
            die(65, "bad PT_LOAD segment", path);
        memcpy((void *)(uintptr_t)ph[i].p_vaddr, f + ph[i].p_offset, ph[i].p_filesz);
        if (ph[i].p_vaddr + ph[i].p_memsz > *kernel_end)
            *kernel_end = ph[i].p_vaddr + ph[i].p_memsz;
    }
    /* W^X: text read+execute, rodata read-only, the rest stays read-write. */
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & PF_W))
            continue;
        uint64_t a = ph[i].p_vaddr & ~0xfffull;
        uint64_t e = (ph[i].p_vaddr + ph[i].p_memsz + 0xfff) & ~0xfffull;
        int prot = PROT_READ | ((ph[i].p_flags & PF_X) ? PROT_EXEC : 0);
        if (mprotect((void *)(uintptr_t)a, e - a, prot) < 0)
            die(66, "mprotect", strerror(errno));
    }
    uint64_t entry = eh->e_entry;
    munmap(f, (size_t)st.st_size);
    return entry;
}

int main(int argc, char **argv)
{
    int k = 1;
    if (k < argc && strncmp(argv[k], "--fn-input=", 11) == 0) {
        FILE *f = fopen(argv[k] + 11, "rb");
        if (f == NULL)
            die(66, "cannot open --fn-input", strerror(errno));
        size_t cap = 1 << 16;
        fn_body = malloc(cap);
        size_t r;
        while (fn_body != NULL && (r = fread(fn_body + fn_body_len, 1, cap - fn_body_len, f)) > 0) {
            fn_body_len += r;
            if (fn_body_len == cap)
                fn_body = realloc(fn_body, cap *= 2);
        }
        fclose(f);
        if (fn_body == NULL || fn_body_len > MEM_SIZE / 2)
            die(66, "--fn-input too large", NULL);
        fn_state = 1;
        k++;
    }
    if (k >= argc || strcmp(argv[k], "--help") == 0) {
        fprintf(stderr, "usage: funk-entry-harness [--fn-input=FILE] KERNEL.elf [ARGS...]\n");
        return 64;
    }
    uint64_t kernel_end;
    uint64_t entry = load(argv[k], &kernel_end);

    char *cmdline = (char *)(uintptr_t)FUNK_CMDLINE_GPA;
    size_t cl = 0;
    for (int i = k + 1; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (cl + l + 2 > HVT_CMDLINE_SIZE)
            die(64, "arguments too long", NULL);
        if (cl > 0)
            cmdline[cl++] = ' ';
        memcpy(cmdline + cl, argv[i], l);
        cl += l;
    }
    struct mft *m = (struct mft *)(uintptr_t)FUNK_MFT_GPA;
    m->version = MFT_VERSION;
    m->entries = 0;
    *(struct hvt_boot_info *)(uintptr_t)HVT_BOOT_INFO_GPA = (struct hvt_boot_info){
        .mem_size = MEM_SIZE,
        .kernel_end = kernel_end,
        .cpu_cycle_freq = 0, /* unknown: the guest's monotonic clock uses WALLTIME */
        .cmdline = cmdline,
        .mft = m,
    };
    *(struct funk_boot_info *)(uintptr_t)FUNK_BOOT_INFO_GPA = (struct funk_boot_info){
        .magic = FUNK_BOOT_MAGIC,
        .version = FUNK_ABI_VERSION,
        .hypercall = (uint64_t)(uintptr_t)hc_entry,
        .isolation = FUNK_ISOLATION_PROCESS,
        .env = (const char *)(uintptr_t)FUNK_ENV_GPA,
        .env_size = 1,
    };

    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    static char altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    fflush(NULL);

    /* Enter like the monitor does: %rdi = boot info, %rsp = top of guest memory. */
    __asm__ __volatile__("mov %0, %%rsp\n\t"
                         "xor %%ebp, %%ebp\n\t"
                         "jmp *%2"
                         :
                         : "r"((uint64_t)MEM_SIZE), "D"((uint64_t)HVT_BOOT_INFO_GPA), "r"(entry)
                         : "memory");
    __builtin_unreachable();
}
