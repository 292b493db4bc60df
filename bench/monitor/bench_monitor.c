/* SPDX-License-Identifier: Apache-2.0 */
/* Boot benchmarks for bench/monitor/run.sh: interleaved spawn timing, in-process boot, idle RSS. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <funk/vm.h>

#include "elfgen.h"
#include "vm_internal.h"

extern char **environ;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One result line: LABEL N MIN_US MEDIAN_US P99_US ERRORS (parsed by run.sh). */
static void report(const char *label, uint64_t *v, size_t n, size_t errors)
{
    qsort(v, n, sizeof *v, cmp_u64);
    size_t p99 = (n * 99 + 99) / 100;
    if (p99 >= n)
        p99 = n - 1;
    printf("%s %zu %.1f %.1f %.1f %zu\n", label, n, v[0] / 1e3, v[n / 2] / 1e3, v[p99] / 1e3,
           errors);
    fflush(stdout);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)l);
    if (b && fread(b, 1, (size_t)l, f) != (size_t)l) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)l;
    return b;
}

/* One timed posix_spawn -> exit, output to /dev/null; 0 when it did not exit 0. */
static uint64_t spawn_once(char **cmd, const posix_spawn_file_actions_t *fa)
{
    uint64_t t0 = now_ns();
    pid_t pid;
    if (posix_spawn(&pid, cmd[0], fa, NULL, cmd, environ) != 0)
        return 0;
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return 0;
    uint64_t t = now_ns() - t0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : 0;
}

struct icase {
    const char *label;
    unsigned every; /* measured in one round out of this many (slow baselines) */
    char **cmd;
    uint64_t *t;
    size_t n, errors;
};

/* interleave N -- LABEL EVERY CMD... -- LABEL EVERY CMD...: every case is measured in turn
 * within each of N rounds (a case with EVERY=k in every k-th round), the order rotating by one
 * each round, so that drift from other load hits every case alike. A run that fails is counted
 * as an error and left out of the times. One line per case: LABEL N MIN MED P99 ERRORS. */
static int bench_interleave(size_t rounds, int argc, char **argv)
{
    enum { MAXC = 16 };
    struct icase c[MAXC];
    size_t nc = 0;
    if (rounds == 0 || argc < 1 || strcmp(argv[0], "--") != 0)
        return 64;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") != 0)
            continue;
        argv[i] = NULL; /* ends the previous case's command (argv[argc] ends the last) */
        char *end;
        unsigned long every = i + 3 < argc ? strtoul(argv[i + 2], &end, 10) : 0;
        if (nc == MAXC || every == 0 || *end || strcmp(argv[i + 3], "--") == 0)
            return 64;
        c[nc] = (struct icase){.label = argv[i + 1], .every = (unsigned)every, .cmd = argv + i + 3};
        if (!(c[nc].t = calloc(rounds, sizeof *c[nc].t)))
            return 1;
        nc++;
        i += 3;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* BENCH_STDIN: every case reads this file as its stdin (the Linux-guest rows: wc -w) */
    const char *in = getenv("BENCH_STDIN");
    if (in)
        posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    for (size_t k = 0; k < nc; k++) /* warm-up: caches, page tables, first-run set-up */
        if (!spawn_once(c[k].cmd, &fa))
            fprintf(stderr, "bench: warm-up of %s failed\n", c[k].label);
    for (size_t r = 0; r < rounds; r++) {
        for (size_t j = 0; j < nc; j++) {
            struct icase *x = &c[(r + j) % nc];
            if (r % x->every)
                continue;
            uint64_t t = spawn_once(x->cmd, &fa);
            if (t)
                x->t[x->n++] = t;
            else
                x->errors++;
        }
    }
    for (size_t k = 0; k < nc; k++) {
        if (c[k].n)
            report(c[k].label, c[k].t, c[k].n, c[k].errors);
        else
            printf("%s 0 0 0 0 %zu\n", c[k].label, c[k].errors);
        free(c[k].t);
    }
    posix_spawn_file_actions_destroy(&fa);
    fflush(stdout);
    return 0;
}

static void discard(void *opaque, const char *d, size_t n)
{
    (void)opaque;
    (void)d;
    (void)n;
}

/* inproc N KERNEL: shells created ahead (untimed), then load + run to the first hypercall / halt. */
static int bench_inproc(size_t n, const char *kernel, unsigned flags, const char *tag)
{
    size_t len;
    char *elf = read_file(kernel, &len);
    if (!elf) {
        fprintf(stderr, "bench: cannot read %s\n", kernel);
        return 1;
    }
    enum { BATCH = 16 };
    uint64_t *first = calloc(n, 8), *halt = calloc(n, 8), *create = calloc(n, 8),
             *teardown = calloc(n, 8);
    struct funk_vm_io io = {.console = discard};
    for (size_t done = 0; done < n;) {
        struct funk_vm *vms[BATCH];
        size_t b = n - done < BATCH ? n - done : BATCH;
        for (size_t i = 0; i < b; i++) {
            uint64_t t0 = now_ns();
            int rc = funk_vm_shell_new(2u << 20, flags, &vms[i]);
            create[done + i] = now_ns() - t0;
            if (rc) {
                fprintf(stderr, "bench: shell: %s\n", strerror(-rc));
                return 1;
            }
        }
        for (size_t i = 0; i < b; i++) {
            struct funk_vm_result res;
            uint64_t t0 = now_ns();
            if (funk_vm_load(vms[i], elf, len, NULL) != 0) {
                fprintf(stderr, "bench: load: %s\n", funk_vm_error(vms[i]));
                return 1;
            }
            funk_vm_run(vms[i], &io, &res);
            uint64_t t1 = now_ns();
            if (res.exit != FUNK_VM_EXIT_HALT || res.status != 0 || !res.first_hypercall_ns) {
                fprintf(stderr, "bench: guest did not halt cleanly: %s\n", res.reason);
                return 1;
            }
            first[done + i] = res.first_hypercall_ns - t0;
            halt[done + i] = t1 - t0;
        }
        for (size_t i = 0; i < b; i++) {
            uint64_t t0 = now_ns();
            funk_vm_delete(vms[i]);
            teardown[done + i] = now_ns() - t0;
        }
        done += b;
    }
    char l[64];
    snprintf(l, sizeof l, "%s-first-hypercall", tag);
    report(l, first, n, 0);
    snprintf(l, sizeof l, "%s-halt", tag);
    report(l, halt, n, 0);
    if (!flags) {
        report("shell-create", create, n, 0);
        report("shell-teardown", teardown, n, 0);
    }
    free(first);
    free(halt);
    free(create);
    free(teardown);
    free(elf);
    return 0;
}

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0)
            v = strtol(line + kl, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

struct rss_probe {
    struct funk_vm *vm;
    long baseline_kib;
};

/* Called when the guest asks for its first request: it is up and idle. */
static int rss_recv(void *opaque, struct funk_vm_request *req)
{
    (void)req;
    struct rss_probe *p = opaque;
    size_t pages = p->vm->mem_size / 4096, touched = 0;
    unsigned char *vec = malloc(pages);
    if (vec && mincore(p->vm->mem, p->vm->mem_size, vec) == 0)
        for (size_t i = 0; i < pages; i++)
            touched += vec[i] & 1;
    free(vec);
    long rss = status_kib("VmRSS:");
    long guest = (long)(touched * 4);
    printf("rss %ld %ld %ld %ld\n", rss, guest, rss - guest, p->baseline_kib);
    fflush(stdout);
    return 1; /* no request: the guest halts */
}

/* rss KERNEL: host RSS while an echo unikernel idles in FN_RECV. */
static int bench_rss(const char *kernel)
{
    size_t len;
    char *elf = read_file(kernel, &len);
    if (!elf)
        return 1;
    struct rss_probe p = {.baseline_kib = status_kib("VmRSS:")};
    if (funk_vm_shell_new(8u << 20, 0, &p.vm) || funk_vm_load(p.vm, elf, len, NULL)) {
        fprintf(stderr, "bench: cannot load %s\n", kernel);
        return 1;
    }
    free(elf);
    struct funk_vm_io io = {.recv = rss_recv, .console = discard, .opaque = &p};
    struct funk_vm_result res;
    funk_vm_run(p.vm, &io, &res);
    funk_vm_delete(p.vm);
    return 0;
}

/* ---- Snapshot restore: echo instances forked from a template paused at FN_RECV ---------- */
struct snap_io {
    int served;
    uint64_t sent_ns;
};

static int snap_recv(void *opaque, struct funk_vm_request *req)
{
    struct snap_io *s = opaque;
    if (s->served++)
        return 1;
    req->body = "ping";
    req->body_len = 4;
    return 0;
}

static int snap_send(void *opaque, const struct funk_vm_response *resp)
{
    struct snap_io *s = opaque;
    (void)resp;
    s->sent_ns = now_ns();
    return 0;
}

static int bench_snapshot(size_t n, const char *kernel, unsigned flags, const char *tag)
{
    size_t len;
    char *elf = read_file(kernel, &len);
    struct funk_vm *tpl;
    struct funk_vm_result res;
    struct funk_vm_snapshot *snap;
    struct funk_vm_io quiet = {.console = discard};
    if (!elf || funk_vm_shell_new(8u << 20, flags, &tpl) ||
        funk_vm_load(tpl, elf, len, NULL) || funk_vm_snapshot_new(tpl, &quiet, &res, &snap)) {
        fprintf(stderr, "bench: cannot snapshot %s\n", kernel);
        return 1;
    }
    uint64_t *resp = calloc(n, 8), *halt = calloc(n, 8);
    for (size_t i = 0; i < n; i++) {
        struct funk_vm *vm;
        struct snap_io s = {0};
        struct funk_vm_io io = {.recv = snap_recv, .send = snap_send, .console = discard, .opaque = &s};
        if (funk_vm_shell_new(8u << 20, flags, &vm)) /* pre-created: not timed */
            return 1;
        uint64_t t0 = now_ns();
        if (funk_vm_restore(vm, snap) || funk_vm_run(vm, &io, &res) || !s.sent_ns) {
            fprintf(stderr, "bench: restore failed: %s\n", res.reason);
            return 1;
        }
        halt[i] = now_ns() - t0;
        resp[i] = s.sent_ns - t0;
        funk_vm_delete(vm);
    }
    char l[64];
    snprintf(l, sizeof l, "%s-snapshot-restore-response", tag);
    report(l, resp, n, 0);
    snprintf(l, sizeof l, "%s-snapshot-restore-halt", tag);
    report(l, halt, n, 0);
    funk_vm_snapshot_delete(snap);
    funk_vm_delete(tpl);
    free(resp);
    free(halt);
    free(elf);
    return 0;
}

/* ---- Hand-assembled funk guests (they call through the boot-info entry: both backends) -- */
static size_t emit_call(uint8_t *p, unsigned nr, uint32_t arg)
{
    size_t n = 0;
    p[n++] = 0xbf; /* mov $nr,%edi */
    memcpy(p + n, &nr, 4), n += 4;
    p[n++] = 0xbe; /* mov $arg,%esi */
    memcpy(p + n, &arg, 4), n += 4;
    static const uint8_t load[] = {0x48, 0x8b, 0x04, 0x25}; /* mov disp32,%rax */
    memcpy(p + n, load, 4), n += 4;
    uint32_t at = FUNK_BOOT_INFO_GPA + offsetof(struct funk_boot_info, hypercall);
    memcpy(p + n, &at, 4), n += 4;
    p[n++] = 0xff; /* call *%rax */
    p[n++] = 0xd0;
    return n;
}

/* hc=1: N WALLTIME hypercalls; hc=0: a dec/jnz loop of N iterations. Then HALT. */
static uint8_t *loop_guest(uint32_t n, int hc, size_t *len)
{
    uint8_t code[256];
    size_t k = 0;
    static const uint8_t align[] = {0x48, 0x83, 0xe4, 0xf0}; /* and $-16,%rsp */
    memcpy(code, align, 4), k += 4;
    code[k++] = hc ? 0xbb : 0xb9; /* mov $n,%ebx / %ecx */
    memcpy(code + k, &n, 4), k += 4;
    size_t top = k;
    if (hc) {
        code[k++] = 0x85, code[k++] = 0xdb; /* test %ebx,%ebx */
        code[k++] = 0x74;                   /* jz out (over the call, dec and jmp) */
        size_t jz = k++;
        k += emit_call(code + k, HVT_HYPERCALL_WALLTIME, GEN_DATA);
        code[jz] = (uint8_t)(k + 4 - (jz + 1));
        code[k++] = 0xff, code[k++] = 0xcb; /* dec %ebx */
        code[k++] = 0xeb;                   /* jmp top */
        code[k] = (uint8_t)(int8_t)(top - (k + 1));
        k++;
    } else {
        code[k++] = 0x85, code[k++] = 0xc9; /* test %ecx,%ecx */
        code[k++] = 0x74, code[k++] = 4;    /* jz out */
        code[k++] = 0xff, code[k++] = 0xc9; /* l: dec %ecx */
        code[k++] = 0x75, code[k++] = 0xfc; /* jnz l */
    }
    k += emit_call(code + k, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen *g = calloc(1, sizeof *g);
    gen_init(g, code, k);
    gen_funk(g);
    uint8_t *b = gen_build(g, len);
    free(g);
    return b;
}

static uint64_t run_once(const uint8_t *elf, size_t len, unsigned flags)
{
    struct funk_vm *vm;
    struct funk_vm_result res;
    if (funk_vm_shell_new(2u << 20, flags, &vm) || funk_vm_load(vm, elf, len, NULL))
        return 0;
    uint64_t t0 = now_ns();
    funk_vm_run(vm, NULL, &res);
    uint64_t t = now_ns() - t0;
    funk_vm_delete(vm);
    return res.exit == FUNK_VM_EXIT_HALT ? t : 0;
}

/* Median over reps of run(n) - run(0), divided by n: the per-iteration cost inside the guest. */
static double per_iter_ns(uint32_t n, int hc, unsigned flags, int reps)
{
    size_t l0, l1;
    uint8_t *e0 = loop_guest(0, hc, &l0), *e1 = loop_guest(n, hc, &l1);
    uint64_t d[32];
    for (int i = 0; i < reps; i++) {
        uint64_t a = run_once(e0, l0, flags), b = run_once(e1, l1, flags);
        if (!a || !b)
            return -1;
        d[i] = b > a ? b - a : 0;
    }
    free(e0);
    free(e1);
    qsort(d, (size_t)reps, sizeof d[0], cmp_u64);
    return (double)d[reps / 2] / n;
}

static double native_loop_ns(uint32_t n, int reps)
{
    uint64_t d[32];
    for (int i = 0; i < reps; i++) {
        uint64_t t0 = now_ns();
        uint32_t c = n;
        __asm__ volatile("test %0,%0\n\tjz 2f\n1:\tdec %0\n\tjnz 1b\n2:" : "+c"(c));
        d[i] = now_ns() - t0;
    }
    qsort(d, (size_t)reps, sizeof d[0], cmp_u64);
    return (double)d[reps / 2] / n;
}

/* loops: hypercall round trip and CPU-bound loop per backend, native loop alongside. */
static int bench_loops(int kvm)
{
    const int reps = 9;
    double nat = native_loop_ns(100000000u, reps);
    double proc_cpu = per_iter_ns(100000000u, 0, FUNK_VM_F_PROCESS, reps);
    double proc_hc = per_iter_ns(200000u, 1, FUNK_VM_F_PROCESS, reps);
    printf("loop-native %.4f\nloop-process %.4f\nhc-process %.4f\n", nat, proc_cpu, proc_hc);
    if (kvm) {
        printf("loop-kvm %.4f\n", per_iter_ns(100000u, 0, 0, 5));
        printf("hc-kvm %.4f\n", per_iter_ns(2000u, 1, 0, 5));
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "loops") == 0)
        return bench_loops(strcmp(argv[2], "kvm") == 0);
    if (argc >= 7 && strcmp(argv[1], "interleave") == 0) {
        int rc = bench_interleave(strtoul(argv[2], NULL, 10), argc - 3, argv + 3);
        if (rc == 64)
            fprintf(stderr,
                    "usage: funk-bench-monitor interleave N -- LABEL EVERY CMD... [-- ...]\n");
        return rc;
    }
    if (argc == 4 && strcmp(argv[1], "inproc") == 0)
        return bench_inproc(strtoul(argv[2], NULL, 10), argv[3], 0, "inproc");
    if (argc == 4 && strcmp(argv[1], "inproc-kvm-spawn") == 0)
        return bench_inproc(strtoul(argv[2], NULL, 10), argv[3], FUNK_VM_F_KVM_SPAWN, "kvm-spawn");
    if (argc == 4 && strcmp(argv[1], "inproc-process") == 0)
        return bench_inproc(strtoul(argv[2], NULL, 10), argv[3], FUNK_VM_F_PROCESS, "process");
    if (argc == 5 && strcmp(argv[1], "snapshot") == 0)
        return bench_snapshot(strtoul(argv[2], NULL, 10), argv[3],
                              strcmp(argv[4], "kvm") == 0         ? 0
                              : strcmp(argv[4], "kvm-spawn") == 0 ? FUNK_VM_F_KVM_SPAWN
                                                                  : FUNK_VM_F_PROCESS,
                              argv[4]);
    if (argc == 3 && strcmp(argv[1], "rss") == 0)
        return bench_rss(argv[2]);
    fprintf(stderr, "usage: funk-bench-monitor interleave N -- LABEL EVERY CMD... [-- ...] | "
                    "inproc[-process|-kvm-spawn] N KERNEL | rss KERNEL"
                    " | loops kvm|nokvm | snapshot N ECHO kvm|kvm-spawn|process\n");
    return 64;
}
