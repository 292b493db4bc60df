/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-vm on both backends with hand-assembled guests: hypercalls, faults, pointers, devices. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/kvm.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "elfgen.h"
#include "vm_internal.h"

#define MEM (4u << 20)

/* ---- A tiny x86 assembler for the few instructions these guests need ---------------------- */
struct code {
    uint8_t b[512];
    size_t n;
};

static void emit(struct code *c, const void *p, size_t n)
{
    memcpy(c->b + c->n, p, n);
    c->n += n;
}

static void emit32(struct code *c, uint32_t v)
{
    emit(c, &v, 4);
}

static void hcall_entry(struct code *c, unsigned nr, uint32_t arg);

/* Process-backend runs: hypercalls go through the boot-info entry, shells get this flag. */
static int g_process;

/* outl to HVT_PIO_BASE + nr with %eax = arg (through the entry under the process backend). */
static void hcall(struct code *c, unsigned nr, uint32_t arg)
{
    if (g_process) {
        hcall_entry(c, nr, arg);
        return;
    }
    uint8_t mov_eax = 0xb8;
    emit(c, &mov_eax, 1);
    emit32(c, arg);
    uint16_t port = (uint16_t)(HVT_PIO_BASE + nr);
    uint8_t mov_dx[] = {0x66, 0xba, (uint8_t)port, (uint8_t)(port >> 8), 0xef};
    emit(c, mov_dx, sizeof mov_dx);
}

/* The same through the funk boot-info entry: call *FUNK_BOOT_INFO_GPA.hypercall(nr, arg). */
static void hcall_entry(struct code *c, unsigned nr, uint32_t arg)
{
    uint8_t i;
    i = 0xbf; /* mov $nr,%edi */
    emit(c, &i, 1);
    emit32(c, nr);
    i = 0xbe; /* mov $arg,%esi */
    emit(c, &i, 1);
    emit32(c, arg);
    uint8_t load[] = {0x48, 0x8b, 0x04, 0x25}; /* mov disp32,%rax */
    emit(c, load, sizeof load);
    emit32(c, FUNK_BOOT_INFO_GPA + offsetof(struct funk_boot_info, hypercall));
    uint8_t call[] = {0xff, 0xd0}; /* call *%rax */
    emit(c, call, sizeof call);
}

struct halt_arg {
    uint64_t cookie;
    int32_t status;
    uint32_t pad;
};

/* ---- Running a guest ------------------------------------------------------------------------ */
struct run {
    int load_rc;
    char load_err[256];
    struct funk_vm_result res;
    char console[256];
    size_t console_len;
    unsigned status;
    char body[256];
    size_t body_len;
    int recv_calls;
    uint8_t mem_copy[8192]; /* guest memory from GEN_DATA after the run */
};

static void on_console(void *opaque, const char *d, size_t n)
{
    struct run *r = opaque;
    if (n > sizeof r->console - r->console_len - 1)
        n = sizeof r->console - r->console_len - 1;
    memcpy(r->console + r->console_len, d, n);
    r->console_len += n;
}

static int on_recv(void *opaque, struct funk_vm_request *req)
{
    struct run *r = opaque;
    if (r->recv_calls++)
        return 1;
    req->method = "PUT";
    req->path = "/x";
    req->query = "a=1";
    req->headers = "X-T: 1\n";
    req->headers_len = 7;
    req->body = "payload";
    req->body_len = 7;
    req->id = 9;
    return 0;
}

static int on_send(void *opaque, const struct funk_vm_response *resp)
{
    struct run *r = opaque;
    r->status = resp->status;
    r->body_len = resp->body_len < sizeof r->body ? resp->body_len : sizeof r->body;
    memcpy(r->body, resp->body, r->body_len);
    return 0;
}

/* A bounded wait for a call that must return (a lost kick leaves a spinning guest and a run that
 * never returns). Past the deadline the guard reports it and SIGKILLs the children of the
 * running thread (the process backend's guest), so the run returns and the other tests still
 * run; with no child to kill it fails the binary at once. */
struct guard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, expired;
    pid_t tid; /* the thread in funk_vm_run */
};

static int kill_children(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)tid);
    FILE *f = fopen(path, "r");
    int pid, n = 0;
    while (f && fscanf(f, "%d", &pid) == 1)
        n += kill(pid, SIGKILL) == 0;
    if (f)
        fclose(f);
    return n;
}

static void *guard_main(void *p)
{
    struct guard *g = p;
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += 10;
    pthread_mutex_lock(&g->mu);
    while (!g->done)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &end) == ETIMEDOUT && !g->done) {
            if (g->expired || kill_children(g->tid) == 0) {
                fprintf(stderr, "FAIL: funk_vm_run did not return within 10 s\n");
                _exit(1);
            }
            g->expired = 1;
            end.tv_sec += 10;
        }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* funk_vm_run under a guard; *expired says the guard had to end the guest. */
static int guarded_run(struct funk_vm *vm, const struct funk_vm_io *io, struct funk_vm_result *res,
                       int *expired)
{
    struct guard gd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, gettid()};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, guard_main, &gd), 0);
    int rc = funk_vm_run(vm, io, res);
    pthread_mutex_lock(&gd.mu);
    gd.done = 1;
    pthread_cond_signal(&gd.cv);
    pthread_mutex_unlock(&gd.mu);
    pthread_join(t, NULL);
    *expired = gd.expired;
    return rc;
}

struct kick {
    struct funk_vm *vm;
    unsigned ms;
};

static void *kicker(void *p)
{
    struct kick *k = p;
    struct timespec ts = {0, (long)k->ms * 1000000L};
    nanosleep(&ts, NULL);
    funk_vm_kick(k->vm);
    return NULL;
}

static void run_guest(struct gen *g, const struct funk_vm_boot *boot, unsigned kick_ms, struct run *r)
{
    memset(r, 0, sizeof *r);
    size_t len;
    uint8_t *b = gen_build(g, &len);
    struct funk_vm *vm;
    assert_int_equal(funk_vm_shell_new(MEM, g_process ? FUNK_VM_F_PROCESS : 0, &vm), 0);
    r->load_rc = funk_vm_load(vm, b, len, boot);
    snprintf(r->load_err, sizeof r->load_err, "%s", funk_vm_error(vm));
    free(b);
    if (r->load_rc == 0) {
        struct funk_vm_io io = {.recv = on_recv, .send = on_send, .console = on_console, .opaque = r};
        pthread_t t;
        struct kick k = {vm, kick_ms};
        if (kick_ms)
            pthread_create(&t, NULL, kicker, &k);
        int expired;
        assert_int_equal(guarded_run(vm, &io, &r->res, &expired), 0);
        if (kick_ms)
            pthread_join(t, NULL);
        if (expired) {
            funk_vm_delete(vm);
            fail_msg("the guest still ran 10 s after its start (killed by the test)");
        }
        if (!g_process) /* the process backend's guest memory lived in the child */
            memcpy(r->mem_copy, vm->mem + GEN_DATA, sizeof r->mem_copy);
    }
    funk_vm_delete(vm);
}

static void expect(const struct run *r, enum funk_vm_exit exit, const char *reason)
{
    if (r->load_rc != 0)
        fail_msg("load failed: %s", r->load_err);
    if (r->res.exit != exit || !strstr(r->res.reason, reason))
        fail_msg("expected exit %d '%s', got %d '%s'", exit, reason, r->res.exit, r->res.reason);
}

/* ---- Which backends this host can test -------------------------------------------------- */
/* KVM tests skip one by one without a usable /dev/kvm; the process backend (what `auto` picks on
 * such hosts) is tested everywhere. */
static int g_kvm;
static char g_kvm_why[160];

static void need_kvm(void)
{
    if (g_kvm)
        return;
    print_message("SKIP: %s: this KVM test is NOT RUN\n", g_kvm_why);
    skip();
}

/* ---- Tests ---------------------------------------------------------------------------------- */
static void test_halt_status(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA);
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct halt_arg h = {0, 42, 0};
    memcpy(g.data, &h, sizeof h);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 42");
    assert_int_equal(r.res.status, 42);
    assert_int_equal(funk_vm_result_exit_code(&r.res), 42);
    assert_int_equal(r.res.hypercalls, 1);
}

static void test_puts_walltime(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_PUTS, GEN_DATA);
    hcall(&c, HVT_HYPERCALL_WALLTIME, GEN_DATA + 0x40);
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct hvt_hc_puts p = {GEN_DATA + 0x100, 5};
    memcpy(g.data, &p, sizeof p);
    memcpy(g.data + 0x100, "hello", 5);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 0");
    assert_string_equal(r.console, "hello");
    uint64_t ns;
    memcpy(&ns, r.mem_copy + 0x40, 8);
    assert_true(ns > 1600000000ull * 1000000000ull); /* after 2020 */
}

static void test_entry_stub(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall_entry(&c, HVT_HYPERCALL_PUTS, GEN_DATA);
    hcall_entry(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    struct hvt_hc_puts p = {GEN_DATA + 0x100, 3};
    memcpy(g.data, &p, sizeof p);
    memcpy(g.data + 0x100, "via", 3);
    struct halt_arg h = {0, 7, 0};
    memcpy(g.data + 0x20, &h, sizeof h);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 7");
    assert_string_equal(r.console, "via");
}

static void test_unknown_port(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, 0x100, GEN_DATA); /* port 0x600 */
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADCALL, "unknown I/O port 0x600");
    assert_int_equal(funk_vm_result_exit_code(&r.res), FUNK_EXIT_BADCALL);
}

static void test_unknown_hypercall(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, 20, GEN_DATA);
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADCALL, "unknown hypercall 20");
}

static void test_funk_call_needs_note(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, FUNK_HC_FN_RECV, GEN_DATA);
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADCALL, "need a funk note");
}

static void test_unaligned_arg(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 4);
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADPTR, "not 8-byte aligned");
    assert_int_equal(funk_vm_result_exit_code(&r.res), FUNK_EXIT_BADPTR);
}

static void test_arg_outside_memory(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_HALT, MEM - 8); /* struct straddles the end */
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADPTR, "outside guest memory");
    c.n = 0;
    hcall(&c, HVT_HYPERCALL_HALT, 0xfffffff8u);
    gen_init(&g, c.b, c.n);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADPTR, "outside guest memory");
}

static void test_puts_overflowing_buffer(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_PUTS, GEN_DATA);
    struct gen g;
    gen_init(&g, c.b, c.n);
    struct hvt_hc_puts p = {GEN_DATA, UINT64_MAX - GEN_DATA + 2}; /* data + len wraps */
    memcpy(g.data, &p, sizeof p);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADPTR, "PUTS");
}

static void test_null_deref(void **state)
{
    (void)state;
    need_kvm();
    static const uint8_t code[] = {0x8b, 0x04, 0x25, 0, 0, 0, 0}; /* mov 0x0,%eax */
    struct gen g;
    gen_init(&g, code, sizeof code);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "guest fault: page fault at 0x0 (rip=0x100000, read)");
    assert_int_equal(funk_vm_result_exit_code(&r.res), FUNK_EXIT_FAULT);
}

static void test_write_to_code(void **state)
{
    (void)state;
    need_kvm();
    uint8_t code[] = {0xc6, 0x04, 0x25, 0, 0, 0, 0, 0x01}; /* movb $1,GEN_TEXT */
    uint32_t a = GEN_TEXT;
    memcpy(code + 3, &a, 4);
    struct gen g;
    /* A funk guest: text is read-only in its page tables, the write is a #PF. */
    gen_init(&g, code, sizeof code);
    gen_funk(&g);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "page fault at 0x100000 (rip=0x100000, write, protection)");
    /* A plain Solo5 guest: text is read-only in the host mapping, as solo5-hvt maps it, so the
     * write ends as Solo5's host/guest translation fault (EFAULT, or PVM's MMIO exit). */
    gen_init(&g, code, sizeof code);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "host/guest translation fault: rip=");
}

/* bss is left to the fresh shell's zero memory, but a second load after a failed one must not
 * inherit the first image's bytes there, nor the read-only host pages the first (plain Solo5)
 * image got (the copy would fault the monitor). */
static void test_reload_zeroes_bss(void **state)
{
    (void)state;
    need_kvm();
    static const uint8_t hlt[] = {0xf4};
    struct gen g;
    gen_init(&g, hlt, sizeof hlt);
    memset(g.data, 0x5a, sizeof g.data);
    size_t len_a, len_b;
    uint8_t *a = gen_build(&g, &len_a);
    g.seg[1].filesz = 0; /* the same range is bss in the second image */
    uint8_t *b = gen_build(&g, &len_b);
    struct funk_vm *vm;
    assert_int_equal(funk_vm_shell_new(MEM, 0, &vm), 0);
    struct funk_vm_device nope = {.name = "nope", .type = FUNK_VM_DEV_BLOCK, .fd = 0};
    struct funk_vm_boot boot = {.devs = &nope, .ndevs = 1};
    assert_int_equal(funk_vm_load(vm, a, len_a, &boot), -ENOENT); /* after the segments' copy */
    assert_int_equal(vm->mem[GEN_DATA], 0x5a);
    assert_int_equal(funk_vm_load(vm, b, len_b, NULL), 0);
    assert_int_equal(vm->mem[GEN_DATA], 0);
    assert_int_equal(vm->mem[GEN_DATA + 4095], 0);
    funk_vm_delete(vm);
    free(a);
    free(b);
}

/* A plain Solo5 guest whose WALLTIME argument lies in its read-only text: the monitor must not
 * write there (it would fault itself); the run ends as a translation fault. */
static void test_hypercall_arg_in_text(void **state)
{
    (void)state;
    need_kvm();
    uint8_t code[] = {0xb8, 0, 0, 0, 0,       /* mov $GEN_TEXT, %eax */
                      0x66, 0xba, 0x01, 0x05, /* mov $0x501, %dx (WALLTIME) */
                      0xef, 0xf4};            /* out %eax, (%dx); hlt */
    uint32_t a = GEN_TEXT;
    memcpy(code + 1, &a, 4);
    struct gen g;
    gen_init(&g, code, sizeof code);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "host/guest translation fault: hypercall 1 argument at 0x100000");
}

static void test_exec_data(void **state)
{
    (void)state;
    need_kvm();
    uint8_t code[] = {0xb8, 0, 0, 0, 0, 0xff, 0xe0}; /* mov $GEN_DATA,%eax; jmp *%rax */
    uint32_t a = GEN_DATA;
    memcpy(code + 1, &a, 4);
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.data[0] = 0xf4;
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "page fault at 0x101000 (rip=0x101000, exec");
}

static void test_invalid_opcode(void **state)
{
    (void)state;
    need_kvm();
    static const uint8_t code[] = {0x0f, 0x0b}; /* ud2 */
    struct gen g;
    gen_init(&g, code, sizeof code);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "invalid opcode (vector 6, error 0x0, rip=0x100000)");
}

static void test_triple_fault(void **state)
{
    (void)state;
    need_kvm();
    uint8_t code[] = {0x0f, 0x01, 0x1c, 0x25, 0, 0, 0, 0, 0x0f, 0x0b}; /* lidt zeros; ud2 */
    uint32_t a = GEN_DATA + 0x200;
    memcpy(code + 4, &a, 4);
    struct gen g;
    gen_init(&g, code, sizeof code);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_TRIPLE, "triple fault");
    assert_int_equal(funk_vm_result_exit_code(&r.res), FUNK_EXIT_TRIPLE);
}

static void test_timeout_kick(void **state)
{
    (void)state;
    need_kvm();
    static const uint8_t code[] = {0xeb, 0xfe}; /* jmp . */
    struct gen g;
    gen_init(&g, code, sizeof code);
    struct run r;
    run_guest(&g, NULL, 100, &r);
    expect(&r, FUNK_VM_EXIT_TIMEOUT, "timed out");
    assert_int_equal(funk_vm_result_exit_code(&r.res), FUNK_EXIT_TIMEOUT);
}

static void test_fn_roundtrip(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, FUNK_HC_FN_RECV, GEN_DATA);        /* too small */
    hcall(&c, FUNK_HC_FN_RECV, GEN_DATA + 0x40); /* fits */
    hcall(&c, FUNK_HC_FN_SEND, GEN_DATA + 0x80);
    hcall(&c, FUNK_HC_FN_RECV, GEN_DATA + 0xc0); /* no more */
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    struct funk_hc_fn_recv small = {.buf = GEN_DATA + 0x400, .len = 16};
    struct funk_hc_fn_recv big = {.buf = GEN_DATA + 0x400, .len = 0x800};
    struct funk_hc_fn_recv last = {.buf = GEN_DATA + 0x400, .len = 0x800};
    struct funk_hc_fn_send send = {.status = 201, .body = GEN_DATA + 0x300, .body_len = 4};
    memcpy(g.data, &small, sizeof small);
    memcpy(g.data + 0x40, &big, sizeof big);
    memcpy(g.data + 0x80, &send, sizeof send);
    memcpy(g.data + 0xc0, &last, sizeof last);
    memcpy(g.data + 0x300, "done", 4);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 0");
    struct funk_hc_fn_recv out;
    memcpy(&out, r.mem_copy, sizeof out);
    assert_int_equal(out.ret, FUNK_FN_TOOSMALL);
    uint64_t need = sizeof(struct funk_fn_request) + 3 + 2 + 3 + 7 + 7 + 5;
    assert_int_equal(out.needed, need);
    memcpy(&out, r.mem_copy + 0x40, sizeof out);
    assert_int_equal(out.ret, FUNK_FN_OK);
    struct funk_fn_request q;
    memcpy(&q, r.mem_copy + 0x400, sizeof q);
    const char *base = (const char *)r.mem_copy + 0x400;
    assert_int_equal(q.size, need);
    assert_int_equal(q.id, 9);
    assert_string_equal(base + q.method_off, "PUT");
    assert_string_equal(base + q.path_off, "/x");
    assert_string_equal(base + q.query_off, "a=1");
    assert_int_equal(q.headers_len, 7);
    assert_memory_equal(base + q.headers_off, "X-T: 1\n", 7);
    assert_int_equal(q.body_len, 7);
    assert_string_equal(base + q.body_off, "payload");
    assert_int_equal(r.status, 201);
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "done", 4);
    struct funk_hc_fn_send s2;
    memcpy(&s2, r.mem_copy + 0x80, sizeof s2);
    assert_int_equal(s2.ret, FUNK_FN_OK);
    memcpy(&out, r.mem_copy + 0xc0, sizeof out);
    assert_int_equal(out.ret, FUNK_FN_NOMORE);
}

static void test_fn_send_bad(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, FUNK_HC_FN_SEND, GEN_DATA); /* before any request: EINVAL, guest continues */
    hcall(&c, FUNK_HC_FN_RECV, GEN_DATA + 0x40);
    hcall(&c, FUNK_HC_FN_SEND, GEN_DATA + 0x80); /* body outside memory: guest ended */
    struct gen g;
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    struct funk_hc_fn_send s = {.status = 200};
    struct funk_hc_fn_recv q = {.buf = GEN_DATA + 0x400, .len = 0x800};
    struct funk_hc_fn_send bad = {.status = 200, .body = MEM - 2, .body_len = 4};
    memcpy(g.data, &s, sizeof s);
    memcpy(g.data + 0x40, &q, sizeof q);
    memcpy(g.data + 0x80, &bad, sizeof bad);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADPTR, "FN_SEND: body");
    memcpy(&s, r.mem_copy, sizeof s);
    assert_int_equal(s.ret, FUNK_FN_EINVAL);
}

static void test_boot_info(void **state)
{
    (void)state;
    need_kvm();
    /* Copy boot info, funk boot info, cmdline and env into the data page with rep movsb. */
    struct code c = {0};
    uint8_t cp[] = {0xbe, 0, 0, 0, 0, 0xbf, 0, 0, 0, 0, 0xb9, 0, 0, 0, 0, 0xf3, 0xa4};
    uint32_t src = HVT_BOOT_INFO_GPA, dst = GEN_DATA + 0x100, n = 0x200;
    memcpy(cp + 1, &src, 4);
    memcpy(cp + 6, &dst, 4);
    memcpy(cp + 11, &n, 4);
    emit(&c, cp, sizeof cp);
    src = FUNK_CMDLINE_GPA, dst = GEN_DATA + 0x400, n = 0x40;
    memcpy(cp + 1, &src, 4);
    memcpy(cp + 6, &dst, 4);
    memcpy(cp + 11, &n, 4);
    emit(&c, cp, sizeof cp);
    src = FUNK_ENV_GPA, dst = GEN_DATA + 0x500, n = 0x40;
    memcpy(cp + 1, &src, 4);
    memcpy(cp + 6, &dst, 4);
    memcpy(cp + 11, &n, 4);
    emit(&c, cp, sizeof cp);
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    const char *env[] = {"A=1", "SECRET=x y", NULL};
    struct funk_vm_boot boot = {.cmdline = "arg1 arg2", .env = env};
    struct run r;
    run_guest(&g, &boot, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 0");
    struct hvt_boot_info bi;
    memcpy(&bi, r.mem_copy + 0x100, sizeof bi);
    assert_int_equal(bi.mem_size, MEM);
    assert_int_equal(bi.kernel_end, GEN_DATA + 8192);
    assert_int_equal(bi.cmdline, FUNK_CMDLINE_GPA);
    assert_int_equal(bi.mft, FUNK_MFT_GPA);
    /* Solo5 guests derive their monotonic clock from the TSC rate. */
    assert_true(bi.cpu_cycle_freq > 100000000ull);
    struct funk_boot_info fbi;
    memcpy(&fbi, r.mem_copy + 0x100 + (FUNK_BOOT_INFO_GPA - HVT_BOOT_INFO_GPA), sizeof fbi);
    assert_int_equal(fbi.magic, FUNK_BOOT_MAGIC);
    assert_int_equal(fbi.isolation, FUNK_ISOLATION_KVM);
    assert_int_equal(fbi.env_count, 2);
    assert_int_equal(fbi.env_size, 4 + 11 + 1);
    assert_string_equal((char *)r.mem_copy + 0x400, "arg1 arg2");
    assert_memory_equal(r.mem_copy + 0x500, "A=1\0SECRET=x y\0\0", 16);
}

static void test_plain_guest_has_no_funk_info(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    uint8_t cp[] = {0xbe, 0, 0, 0, 0, 0xbf, 0, 0, 0, 0, 0xb9, 0x48, 0, 0, 0, 0xf3, 0xa4};
    uint32_t src = FUNK_BOOT_INFO_GPA, dst = GEN_DATA + 0x100;
    memcpy(cp + 1, &src, 4);
    memcpy(cp + 6, &dst, 4);
    emit(&c, cp, sizeof cp);
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    memset(g.data + 0x100, 0xaa, 0x48);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 0");
    uint8_t zero[0x48] = {0};
    assert_memory_equal(r.mem_copy + 0x100, zero, sizeof zero);
    /* And env for a plain guest is refused at load. */
    const char *env[] = {"A=1", NULL};
    struct funk_vm_boot boot = {.env = env};
    run_guest(&g, &boot, 0, &r);
    assert_int_equal(r.load_rc, -EINVAL);
    assert_non_null(strstr(r.load_err, "no funk note"));
}

static void test_devices(void **state)
{
    (void)state;
    need_kvm();
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_BLOCK_WRITE, GEN_DATA + 0x40);
    hcall(&c, HVT_HYPERCALL_BLOCK_READ, GEN_DATA + 0x80);
    hcall(&c, HVT_HYPERCALL_BLOCK_READ, GEN_DATA + 0xc0); /* misaligned offset: EINVAL */
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    const char *names[] = {"", "disk"};
    uint32_t types[] = {MFT_RESERVED_FIRST, MFT_DEV_BLOCK_BASIC};
    gen_mft(&g, 2, names, types);
    struct hvt_hc_block_write w = {.handle = 1, .offset = 512, .data = GEN_DATA + 0x200, .len = 512};
    struct hvt_hc_block_read rd = {.handle = 1, .offset = 512, .data = GEN_DATA + 0x600, .len = 512};
    struct hvt_hc_block_read bad = {.handle = 1, .offset = 3, .data = GEN_DATA + 0x600, .len = 512};
    memcpy(g.data + 0x40, &w, sizeof w);
    memcpy(g.data + 0x80, &rd, sizeof rd);
    memcpy(g.data + 0xc0, &bad, sizeof bad);
    memset(g.data + 0x200, 'B', 512);
    struct run r;

    /* Declared but not attached: refused with a clear message. */
    run_guest(&g, NULL, 0, &r);
    assert_int_equal(r.load_rc, -ENODEV);
    assert_non_null(strstr(r.load_err, "device 'disk' declared in the manifest is not attached"));

    /* A device the manifest does not declare. */
    char path[] = "/tmp/funk-test-blockXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(fd, 4096), 0);
    struct funk_vm_device other = {.name = "nope", .type = FUNK_VM_DEV_BLOCK, .fd = fd};
    struct funk_vm_boot boot = {.devs = &other, .ndevs = 1};
    run_guest(&g, &boot, 0, &r);
    assert_int_equal(r.load_rc, -ENOENT);
    assert_non_null(strstr(r.load_err, "no device 'nope'"));

    /* Wrong type. */
    struct funk_vm_device net = {.name = "disk", .type = FUNK_VM_DEV_NET, .fd = fd};
    boot.devs = &net;
    run_guest(&g, &boot, 0, &r);
    assert_int_equal(r.load_rc, -EINVAL);

    struct funk_vm_device disk = {.name = "disk", .type = FUNK_VM_DEV_BLOCK, .fd = fd};
    boot.devs = &disk;
    run_guest(&g, &boot, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 0");
    struct hvt_hc_block_read out;
    memcpy(&out, r.mem_copy + 0x80, sizeof out);
    assert_int_equal(out.ret, HVT_R_OK);
    assert_int_equal(r.mem_copy[0x600], 'B');
    assert_int_equal(r.mem_copy[0x7ff], 'B');
    memcpy(&out, r.mem_copy + 0xc0, sizeof out);
    assert_int_equal(out.ret, HVT_R_EINVAL);
    char buf[512];
    assert_int_equal(pread(fd, buf, 512, 512), 512);
    assert_int_equal(buf[0], 'B');
    close(fd);
}

/* An empty shell of either backend: nothing to run, junk refused with a message. */
static void empty_shell(unsigned flags)
{
    struct funk_vm *vm;
    assert_int_equal(funk_vm_shell_new(MEM, flags, &vm), 0);
    struct funk_vm_result res;
    assert_int_equal(funk_vm_run(vm, NULL, &res), -ENOEXEC); /* nothing loaded */
    static const uint8_t junk[100] = {0x7f, 'E', 'L', 'F'};
    assert_int_equal(funk_vm_load(vm, junk, sizeof junk, NULL), -ENOEXEC);
    assert_true(strlen(funk_vm_error(vm)) > 0);
    funk_vm_delete(vm);
}

/* Argument checks come before any backend is touched: they hold on every host. */
static void test_shell_args(void **state)
{
    (void)state;
    struct funk_vm *vm;
    for (unsigned flags = 0; flags <= FUNK_VM_F_PROCESS; flags += FUNK_VM_F_PROCESS) {
        assert_int_equal(funk_vm_shell_new(3u << 20, flags, &vm), -EINVAL);
        assert_int_equal(funk_vm_shell_new(0, flags, &vm), -EINVAL);
        assert_int_equal(funk_vm_shell_new(MEM, flags, NULL), -EINVAL);
    }
    assert_int_equal(funk_vm_isolation_parse("kvm"), FUNK_ISOLATION_KVM);
    assert_int_equal(funk_vm_isolation_parse("process"), FUNK_ISOLATION_PROCESS);
    assert_int_equal(funk_vm_isolation_parse("auto"), FUNK_ISOLATION_AUTO);
    assert_int_equal(funk_vm_isolation_parse("xen"), -EINVAL);
    empty_shell(FUNK_VM_F_PROCESS);
}

static void test_kvm_shell(void **state)
{
    (void)state;
    need_kvm();
    empty_shell(0);
}

/* Without /dev/kvm a KVM shell is refused with an error, not a crash; `auto` picks process. */
static void test_no_kvm(void **state)
{
    (void)state;
    if (g_kvm) {
        print_message("SKIP: KVM works here: the no-KVM refusal is checked by monitor-vm-nokvm\n");
        skip();
    }
    struct funk_vm *vm = NULL;
    assert_true(funk_vm_shell_new(MEM, 0, &vm) < 0);
    assert_null(vm);
    assert_int_equal(funk_vm_isolation_auto(), FUNK_ISOLATION_PROCESS);
}

/* ---- Process backend ------------------------------------------------------------------ */

static void syscall_guest(struct gen *g, struct code *c, uint32_t nr, uint32_t rdx)
{
    c->n = 0;
    uint8_t i = 0xb8; /* mov $nr,%eax */
    emit(c, &i, 1);
    emit32(c, nr);
    i = 0xba; /* mov $rdx,%edx */
    emit(c, &i, 1);
    emit32(c, rdx);
    uint8_t sc[] = {0x0f, 0x05}; /* syscall */
    emit(c, sc, sizeof sc);
    hcall(c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    gen_init(g, c->b, c->n);
    gen_funk(g);
}

static void test_process_basics(void **state)
{
    (void)state;
    g_process = 1;
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_PUTS, GEN_DATA);
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    struct hvt_hc_puts p = {GEN_DATA + 0x100, 7};
    memcpy(g.data, &p, sizeof p);
    memcpy(g.data + 0x100, "process", 7);
    struct halt_arg h = {0, 9, 0};
    memcpy(g.data + 0x20, &h, sizeof h);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 9");
    assert_string_equal(r.console, "process");
    assert_int_equal(r.res.hypercalls, 2);

    /* A plain Solo5 guest (no funk note) has no entry to call: KVM only. */
    gen_init(&g, c.b, c.n);
    run_guest(&g, NULL, 0, &r);
    assert_int_equal(r.load_rc, -ENOTSUP);
    assert_non_null(strstr(r.load_err, "KVM only"));
    g_process = 0;
}

/* A Solo5 spt guest through the library (as funkd or funk-runtime would run one): it makes its
 * own system calls: write(1) is console output, exit_group(N) the halt with status N, anything
 * else ends the run as a sandbox violation. A KVM shell refuses it at load. */
static void spt_code(struct code *c, int bad)
{
    static const uint8_t write_msg[] = {
        0xbf, 0x01, 0x00, 0x00, 0x00,                       /* mov $1, %edi */
        0xbe, (uint8_t)(GEN_DATA + 0x100), (uint8_t)((GEN_DATA + 0x100) >> 8),
        (uint8_t)((GEN_DATA + 0x100) >> 16), 0x00,          /* mov $GEN_DATA+0x100, %esi */
        0xba, 0x03, 0x00, 0x00, 0x00,                       /* mov $3, %edx */
        0xb8, 0x01, 0x00, 0x00, 0x00,                       /* mov $1 (write), %eax */
        0x0f, 0x05,                                         /* syscall */
    };
    static const uint8_t getpid[] = {0xb8, 39, 0x00, 0x00, 0x00, 0x0f, 0x05};
    static const uint8_t halt[] = {
        0xbf, 0x2a, 0x01, 0x00, 0x00,                       /* mov $0x12a, %edi */
        0xb8, 0xe7, 0x00, 0x00, 0x00,                       /* mov $231 (exit_group), %eax */
        0x0f, 0x05, 0x0f, 0x0b,                             /* syscall; ud2 */
    };
    emit(c, write_msg, sizeof write_msg);
    if (bad)
        emit(c, getpid, sizeof getpid);
    emit(c, halt, sizeof halt);
}

static void spt_gen(struct gen *g, const struct code *c)
{
    gen_init(g, c->b, c->n);
    g->notes_len = 0;
    struct hvt_abi1_info i = {.abi_target = SPT_ABI_TARGET, .abi_version = SPT_ABI_VERSION};
    gen_note(g, HVT_NOTE_OWNER, HVT_NOTE_ABI1, &i, sizeof i, 0);
    memcpy(g->data + 0x100, "spt", 3);
}

static void test_spt_guest(void **state)
{
    (void)state;
    g_process = 1;
    struct code c = {0};
    spt_code(&c, 0);
    struct gen g;
    spt_gen(&g, &c);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "guest halted with status 42");
    assert_int_equal(r.res.status, 42); /* 0x12a & 0xff, as the kernel's exit_group */
    assert_string_equal(r.console, "spt");

    struct code bad = {0};
    spt_code(&bad, 1);
    spt_gen(&g, &bad);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_SANDBOX, "forbidden system call 39");
    assert_string_equal(r.console, "spt");
    g_process = 0;
    if (!g_kvm)
        return;
    spt_gen(&g, &c);
    run_guest(&g, NULL, 0, &r);
    assert_int_equal(r.load_rc, -ENOTSUP);
    assert_non_null(strstr(r.load_err, "process backend"));
}

static void test_process_faults(void **state)
{
    (void)state;
    g_process = 1;
    struct gen g;
    struct run r;
    static const uint8_t nullrd[] = {0x8b, 0x04, 0x25, 0, 0, 0, 0};
    gen_init(&g, nullrd, sizeof nullrd);
    gen_funk(&g);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "guest fault: page fault at 0x0 (rip=0x100000, read)");

    uint8_t wr[] = {0xc6, 0x04, 0x25, 0, 0, 0x10, 0, 0x01}; /* movb $1,0x100000 */
    gen_init(&g, wr, sizeof wr);
    gen_funk(&g);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "page fault at 0x100000 (rip=0x100000, write, protection)");

    static const uint8_t io[] = {0x66, 0xba, 0x08, 0x05, 0xef}; /* outl: privileged */
    gen_init(&g, io, sizeof io);
    gen_funk(&g);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_FAULT, "guest fault");

    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 4); /* unaligned argument */
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADPTR, "not 8-byte aligned");

    c.n = 0;
    hcall(&c, HVT_HYPERCALL_HALT, 0x1000); /* below guest memory: unmapped in the process */
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_BADPTR, "outside guest memory");

    static const uint8_t spin[] = {0xeb, 0xfe};
    gen_init(&g, spin, sizeof spin);
    gen_funk(&g);
    run_guest(&g, NULL, 100, &r);
    expect(&r, FUNK_VM_EXIT_TIMEOUT, "timed out");
    g_process = 0;
}

static void test_process_escapes(void **state)
{
    (void)state;
    g_process = 1;
    /* open, socket, execve, ptrace, mmap(PROT_EXEC), kill: each ends the guest, host intact. */
    static const struct {
        uint32_t nr, rdx;
        const char *what;
    } esc[] = {{2, 0, "forbidden system call 2 "},   {41, 0, "forbidden system call 41 "},
               {59, 0, "forbidden system call 59 "}, {101, 0, "forbidden system call 101 "},
               {9, 7, "forbidden system call 9 "},   {62, 0, "forbidden system call 62 "}};
    for (size_t i = 0; i < sizeof esc / sizeof esc[0]; i++) {
        struct gen g;
        struct code c = {0};
        syscall_guest(&g, &c, esc[i].nr, esc[i].rdx);
        struct run r;
        run_guest(&g, NULL, 0, &r);
        expect(&r, FUNK_VM_EXIT_SANDBOX, esc[i].what);
        assert_int_equal(funk_vm_result_exit_code(&r.res), FUNK_EXIT_SANDBOX);
    }
    /* An allowed call (clock_gettime) passes. */
    struct gen g;
    struct code c = {0};
    syscall_guest(&g, &c, 228, 0);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 0");
    g_process = 0;
}

static void test_process_fn(void **state)
{
    (void)state;
    g_process = 1;
    struct code c = {0};
    hcall(&c, FUNK_HC_FN_RECV, GEN_DATA + 0x40);
    hcall(&c, FUNK_HC_FN_SEND, GEN_DATA + 0x80);
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    struct funk_hc_fn_recv big = {.buf = GEN_DATA + 0x400, .len = 0x800};
    /* Echo the body straight from the delivered request: body_off is 56 + 4 + 3 + 4 + 8. */
    struct funk_hc_fn_send send = {.status = 202, .body = GEN_DATA + 0x400 + 56 + 4 + 3 + 4 + 8,
                                   .body_len = 7};
    memcpy(g.data + 0x40, &big, sizeof big);
    memcpy(g.data + 0x80, &send, sizeof send);
    struct run r;
    run_guest(&g, NULL, 0, &r);
    expect(&r, FUNK_VM_EXIT_HALT, "status 0");
    assert_int_equal(r.status, 202);
    assert_int_equal(r.body_len, 7);
    assert_memory_equal(r.body, "payload", 7);
    g_process = 0;
}

/* funk_vm_kick before funk_vm_run (a watchdog deadline that fires while the run is still being
 * set up) must not be lost: the run returns at once with the timeout. */
static void kick_before_run(unsigned flags, const char *what)
{
    g_process = flags != 0;
    static const uint8_t spin[] = {0xeb, 0xfe}; /* jmp . */
    struct gen g;
    gen_init(&g, spin, sizeof spin);
    gen_funk(&g);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    struct funk_vm *vm;
    assert_int_equal(funk_vm_shell_new(MEM, flags, &vm), 0);
    assert_int_equal(funk_vm_load(vm, b, len, NULL), 0);
    funk_vm_kick(vm);
    struct funk_vm_result res;
    int expired;
    int rc = guarded_run(vm, NULL, &res, &expired);
    funk_vm_delete(vm);
    free(b);
    g_process = 0;
    if (expired)
        fail_msg("%s: the kick was lost: the guest still ran 10 s later (killed by the test)",
                 what);
    assert_int_equal(rc, 0);
    if (res.exit != FUNK_VM_EXIT_TIMEOUT || !strstr(res.reason, "timed out"))
        fail_msg("%s: expected the timeout, got %d '%s'", what, res.exit, res.reason);
}

static void test_kick_before_run(void **state)
{
    (void)state;
    need_kvm();
    kick_before_run(0, "kvm: kick before run");
}

static void test_process_kick_before_run(void **state)
{
    (void)state;
    kick_before_run(FUNK_VM_F_PROCESS, "process: kick before run");
}

/* Snapshot guest: PUTS "init", FN_RECV, then optionally a raw syscall, FN_SEND(body), HALT 3. */
static void snapshot_guest(struct gen *g, struct code *c, int syscall_nr)
{
    c->n = 0;
    hcall(c, HVT_HYPERCALL_PUTS, GEN_DATA);
    hcall(c, FUNK_HC_FN_RECV, GEN_DATA + 0x40);
    if (syscall_nr >= 0) {
        uint8_t i = 0xb8;
        emit(c, &i, 1);
        emit32(c, (uint32_t)syscall_nr);
        uint8_t sc[] = {0x0f, 0x05};
        emit(c, sc, sizeof sc);
    }
    hcall(c, FUNK_HC_FN_SEND, GEN_DATA + 0x80);
    hcall(c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    gen_init(g, c->b, c->n);
    gen_funk(g);
    struct hvt_hc_puts p = {GEN_DATA + 0x100, 4};
    memcpy(g->data, &p, sizeof p);
    memcpy(g->data + 0x100, "init", 4);
    struct halt_arg h = {0, 3, 0};
    memcpy(g->data + 0x20, &h, sizeof h);
    struct funk_hc_fn_recv q = {.buf = GEN_DATA + 0x400, .len = 0x800};
    struct funk_hc_fn_send send = {.status = 200, .body = GEN_DATA + 0x400 + 56 + 4 + 3 + 4 + 8,
                                   .body_len = 7};
    memcpy(g->data + 0x40, &q, sizeof q);
    memcpy(g->data + 0x80, &send, sizeof send);
}

static void snapshot_roundtrip(int process)
{
    g_process = process;
    unsigned flags = process ? FUNK_VM_F_PROCESS : 0;
    struct gen g;
    struct code c = {0};
    snapshot_guest(&g, &c, -1);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    struct funk_vm *tpl;
    assert_int_equal(funk_vm_shell_new(MEM, flags, &tpl), 0);
    assert_int_equal(funk_vm_load(tpl, b, len, NULL), 0);
    struct run boot;
    memset(&boot, 0, sizeof boot);
    struct funk_vm_io io = {.console = on_console, .opaque = &boot};
    struct funk_vm_snapshot *snap;
    assert_int_equal(funk_vm_snapshot_new(tpl, &io, &boot.res, &snap), 0);
    assert_string_equal(boot.console, "init");
    funk_vm_delete(tpl); /* the snapshot outlives the shell it was taken in */
    for (int k = 0; k < 3; k++) {
        struct run r;
        memset(&r, 0, sizeof r);
        struct funk_vm *vm;
        assert_int_equal(funk_vm_shell_new(MEM, flags, &vm), 0);
        assert_int_equal(funk_vm_restore(vm, snap), 0);
        struct funk_vm_io rio = {.recv = on_recv, .send = on_send, .console = on_console, .opaque = &r};
        assert_int_equal(funk_vm_run(vm, &rio, &r.res), 0);
        expect(&r, FUNK_VM_EXIT_HALT, "status 3");
        assert_int_equal(r.console_len, 0); /* start-up not repeated */
        assert_int_equal(r.status, 200);
        assert_memory_equal(r.body, "payload", 7);
        funk_vm_delete(vm);
    }
    /* Wrong backend or size for the shell. */
    struct funk_vm *other;
    assert_int_equal(funk_vm_shell_new(MEM * 2, flags, &other), 0);
    assert_int_equal(funk_vm_restore(other, snap), -EINVAL);
    funk_vm_delete(other);
    funk_vm_snapshot_delete(snap);
    free(b);
    g_process = 0;
}

static void test_kvm_snapshot(void **state)
{
    (void)state;
    need_kvm();
    snapshot_roundtrip(0);
    /* A guest that halts before its first request leaves no snapshot. */
    struct code c = {0};
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    struct gen g;
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    struct halt_arg h = {0, 6, 0};
    memcpy(g.data + 0x20, &h, sizeof h);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    struct funk_vm *tpl;
    struct funk_vm_result res;
    struct funk_vm_snapshot *snap;
    assert_int_equal(funk_vm_shell_new(MEM, 0, &tpl), 0);
    assert_int_equal(funk_vm_load(tpl, b, len, NULL), 0);
    assert_int_equal(funk_vm_snapshot_new(tpl, NULL, &res, &snap), -ECHILD);
    assert_int_equal(res.status, 6);
    funk_vm_delete(tpl);
    free(b);
}

static void test_process_snapshot(void **state)
{
    (void)state;
    snapshot_roundtrip(1);
    g_process = 1;
    struct gen g;
    struct code c = {0};
    snapshot_guest(&g, &c, -1);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    struct funk_vm *tpl;
    assert_int_equal(funk_vm_shell_new(MEM, FUNK_VM_F_PROCESS, &tpl), 0);
    assert_int_equal(funk_vm_load(tpl, b, len, NULL), 0);
    struct run boot;
    memset(&boot, 0, sizeof boot);
    struct funk_vm_io io = {.console = on_console, .opaque = &boot};
    struct funk_vm_snapshot *snap;
    assert_int_equal(funk_vm_snapshot_new(tpl, &io, &boot.res, &snap), 0);
    assert_string_equal(boot.console, "init"); /* the template ran the guest's start-up once */

    for (int k = 0; k < 3; k++) {
        struct run r;
        memset(&r, 0, sizeof r);
        struct funk_vm *vm;
        assert_int_equal(funk_vm_shell_new(MEM, FUNK_VM_F_PROCESS, &vm), 0);
        assert_int_equal(funk_vm_restore(vm, snap), 0);
        struct funk_vm_io rio = {.recv = on_recv, .send = on_send, .console = on_console, .opaque = &r};
        assert_int_equal(funk_vm_run(vm, &rio, &r.res), 0);
        expect(&r, FUNK_VM_EXIT_HALT, "status 3");
        assert_int_equal(r.console_len, 0); /* no second start-up */
        assert_int_equal(r.status, 200);
        assert_memory_equal(r.body, "payload", 7);
        funk_vm_delete(vm);
    }
    /* A restored shell that is never run is cleaned up by delete. */
    struct funk_vm *idle;
    assert_int_equal(funk_vm_shell_new(MEM, FUNK_VM_F_PROCESS, &idle), 0);
    assert_int_equal(funk_vm_restore(idle, snap), 0);
    assert_int_equal(funk_vm_restore(idle, snap), -EBUSY);
    funk_vm_delete(idle);
    funk_vm_snapshot_delete(snap);
    funk_vm_delete(tpl);

    /* Instances lose the template's right to fork. */
    snapshot_guest(&g, &c, 57);
    b = (free(b), gen_build(&g, &len));
    assert_int_equal(funk_vm_shell_new(MEM, FUNK_VM_F_PROCESS, &tpl), 0);
    assert_int_equal(funk_vm_load(tpl, b, len, NULL), 0);
    memset(&boot, 0, sizeof boot);
    assert_int_equal(funk_vm_snapshot_new(tpl, &io, &boot.res, &snap), 0);
    struct run r;
    memset(&r, 0, sizeof r);
    struct funk_vm *vm;
    assert_int_equal(funk_vm_shell_new(MEM, FUNK_VM_F_PROCESS, &vm), 0);
    assert_int_equal(funk_vm_restore(vm, snap), 0);
    struct funk_vm_io rio = {.recv = on_recv, .send = on_send, .console = on_console, .opaque = &r};
    assert_int_equal(funk_vm_run(vm, &rio, &r.res), 0);
    expect(&r, FUNK_VM_EXIT_SANDBOX, "forbidden system call 57");
    funk_vm_delete(vm);
    funk_vm_snapshot_delete(snap);
    funk_vm_delete(tpl);
    free(b);

    /* A guest that halts before its first request leaves no template. */
    c.n = 0;
    hcall(&c, HVT_HYPERCALL_HALT, GEN_DATA + 0x20);
    gen_init(&g, c.b, c.n);
    gen_funk(&g);
    struct halt_arg h = {0, 5, 0};
    memcpy(g.data + 0x20, &h, sizeof h);
    b = gen_build(&g, &len);
    assert_int_equal(funk_vm_shell_new(MEM, FUNK_VM_F_PROCESS, &tpl), 0);
    assert_int_equal(funk_vm_load(tpl, b, len, NULL), 0);
    assert_int_equal(funk_vm_snapshot_new(tpl, NULL, &boot.res, &snap), -ECHILD);
    assert_int_equal(boot.res.exit, FUNK_VM_EXIT_HALT);
    assert_int_equal(boot.res.status, 5);
    funk_vm_delete(tpl);
    free(b);

    g_process = 0;
}

/* Why /dev/kvm cannot be used here, in g_kvm_why; 0 if it can. */
static int kvm_usable(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(g_kvm_why, sizeof g_kvm_why, "cannot open /dev/kvm: %s", strerror(errno));
        return 0;
    }
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != 12)
        snprintf(g_kvm_why, sizeof g_kvm_why, "/dev/kvm is not KVM API 12 (%d, %s)", v,
                 v < 0 ? strerror(errno) : "-");
    close(fd);
    return v == 12;
}

/* --hide-kvm: run as a host without KVM, in a private mount namespace where /dev/kvm is an empty
 * read-only file (open and access(W_OK) fail even for root). Proves the process backend, which
 * `auto` picks on such hosts, needs nothing from KVM. 0, or 77 with the reason printed. */
static int hide_kvm(void)
{
    char path[] = "/tmp/funk-test-nokvm-XXXXXX";
    const char *step = "unshare(CLONE_NEWNS)";
    int fd = -1, rc = 77;
    if (unshare(CLONE_NEWNS) < 0)
        goto out;
    step = "making / private";
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        goto out;
    step = "a temporary file";
    if ((fd = mkstemp(path)) < 0)
        goto out;
    step = "bind-mounting over /dev/kvm";
    if (access("/dev/kvm", F_OK) == 0 &&
        (mount(path, "/dev/kvm", NULL, MS_BIND, NULL) < 0 ||
         mount(NULL, "/dev/kvm", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0))
        goto out;
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "SKIP: cannot hide /dev/kvm (%s: %s): no-KVM run NOT RUN\n", step,
                strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--hide-kvm") == 0) {
        if (hide_kvm())
            return 77;
        if (kvm_usable()) {
            fprintf(stderr, "FAIL: /dev/kvm still usable after hiding it\n");
            return 1;
        }
    } else if (argc > 1) {
        fprintf(stderr, "usage: %s [--hide-kvm]\n", argv[0]);
        return 64;
    }
    g_kvm = kvm_usable();
    if (!g_kvm)
        fprintf(stderr, "SKIP (partly): %s: the KVM tests of libfunk-vm are NOT RUN, the process "
                        "backend's are\n", g_kvm_why);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_halt_status),
        cmocka_unit_test(test_spt_guest),
        cmocka_unit_test(test_puts_walltime),
        cmocka_unit_test(test_entry_stub),
        cmocka_unit_test(test_unknown_port),
        cmocka_unit_test(test_unknown_hypercall),
        cmocka_unit_test(test_funk_call_needs_note),
        cmocka_unit_test(test_unaligned_arg),
        cmocka_unit_test(test_arg_outside_memory),
        cmocka_unit_test(test_puts_overflowing_buffer),
        cmocka_unit_test(test_null_deref),
        cmocka_unit_test(test_write_to_code),
        cmocka_unit_test(test_hypercall_arg_in_text),
        cmocka_unit_test(test_reload_zeroes_bss),
        cmocka_unit_test(test_exec_data),
        cmocka_unit_test(test_invalid_opcode),
        cmocka_unit_test(test_triple_fault),
        cmocka_unit_test(test_timeout_kick),
        cmocka_unit_test(test_kick_before_run),
        cmocka_unit_test(test_fn_roundtrip),
        cmocka_unit_test(test_fn_send_bad),
        cmocka_unit_test(test_boot_info),
        cmocka_unit_test(test_plain_guest_has_no_funk_info),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_shell_args),
        cmocka_unit_test(test_kvm_shell),
        cmocka_unit_test(test_no_kvm),
        cmocka_unit_test(test_process_basics),
        cmocka_unit_test(test_process_faults),
        cmocka_unit_test(test_process_escapes),
        cmocka_unit_test(test_process_fn),
        cmocka_unit_test(test_process_kick_before_run),
        cmocka_unit_test(test_process_snapshot),
        cmocka_unit_test(test_kvm_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
