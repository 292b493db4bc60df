/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-vm: load and run unikernels (Solo5 hvt ABI v2 + funk extensions) under KVM. */
#ifndef FUNK_VM_H
#define FUNK_VM_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Exit codes of funk-monitor (and enum funk_vm_exit of a finished run). A guest that halts
 * exits with its own status (& 0xff); the monitor's own reasons use 64..79 so they do not mix
 * with small guest statuses (Solo5 uses 0 success, 1 failure, 255 abort).
 *    0..255  guest halted with that status (FUNK_VM_EXIT_HALT, status in result.status)
 *    64      usage error (bad command line)                         FUNK_EXIT_USAGE
 *    65      guest refused at load: bad ELF, bad note/manifest, a declared device not attached,
 *            memory too small                                       FUNK_EXIT_LOAD
 *    66      host set-up failed (no /dev/kvm, out of memory, seccomp, a cgroup that
 *            FUNK_CGROUP=required could not create)                  FUNK_EXIT_SETUP
 *    69      a resource limit ended the guest: the memory limit of its cgroup (the kernel's
 *            OOM killer; see funk_vm_set_limits)                    FUNK_EXIT_LIMIT
 *    70      guest CPU exception (page fault, #GP, #UD, ...)        FUNK_EXIT_FAULT
 *    71      triple fault / shutdown                                FUNK_EXIT_TRIPLE
 *    72      KVM internal or emulation error (e.g. SSE/x87 arithmetic under PVM) FUNK_EXIT_INTERNAL
 *    73      unknown port, unknown hypercall, MMIO access, unexpected exit FUNK_EXIT_BADCALL
 *    74      bad guest pointer/length or unaligned argument struct   FUNK_EXIT_BADPTR
 *    75      --timeout expired                                      FUNK_EXIT_TIMEOUT
 *    76      host I/O error while serving the guest (response sink, device) FUNK_EXIT_IO
 *    78      the sandbox stopped the guest: a forbidden system call (process backend's
 *            seccomp trap or kill; a KVM monitor whose own filter killed it)  FUNK_EXIT_SANDBOX
 *    79      process backend: the guest's process broke the channel protocol (bad frame,
 *            unknown type, a size over its cap); the supervisor killed it  FUNK_EXIT_PROTOCOL
 */
enum funk_exit_code {
    FUNK_EXIT_USAGE = 64,
    FUNK_EXIT_LOAD = 65,
    FUNK_EXIT_SETUP = 66,
    FUNK_EXIT_LIMIT = 69,
    FUNK_EXIT_FAULT = 70,
    FUNK_EXIT_TRIPLE = 71,
    FUNK_EXIT_INTERNAL = 72,
    FUNK_EXIT_BADCALL = 73,
    FUNK_EXIT_BADPTR = 74,
    FUNK_EXIT_TIMEOUT = 75,
    FUNK_EXIT_IO = 76,
    FUNK_EXIT_SANDBOX = 78,
    FUNK_EXIT_PROTOCOL = 79
};

/* How a run ended. */
enum funk_vm_exit {
    FUNK_VM_EXIT_HALT = 0, /* guest halted; result.status holds its exit status */
    FUNK_VM_EXIT_FAULT = FUNK_EXIT_FAULT,
    FUNK_VM_EXIT_TRIPLE = FUNK_EXIT_TRIPLE,
    FUNK_VM_EXIT_INTERNAL = FUNK_EXIT_INTERNAL,
    FUNK_VM_EXIT_BADCALL = FUNK_EXIT_BADCALL,
    FUNK_VM_EXIT_BADPTR = FUNK_EXIT_BADPTR,
    FUNK_VM_EXIT_TIMEOUT = FUNK_EXIT_TIMEOUT,
    FUNK_VM_EXIT_IO = FUNK_EXIT_IO,
    FUNK_VM_EXIT_SANDBOX = FUNK_EXIT_SANDBOX,
    FUNK_VM_EXIT_LIMIT = FUNK_EXIT_LIMIT,
    FUNK_VM_EXIT_PROTOCOL = FUNK_EXIT_PROTOCOL
};

struct funk_vm_result {
    enum funk_vm_exit exit;
    int status;          /* guest exit status for FUNK_VM_EXIT_HALT */
    char reason[256];    /* one line, e.g. "guest fault: page fault at 0x0 (rip=0x1001a3, write)" */
    uint64_t hypercalls; /* number of hypercalls served */
    uint64_t first_hypercall_ns; /* CLOCK_MONOTONIC time the first hypercall arrived (0: none) */
};

/* The process exit code for a result: the guest status (& 0xff) or the FUNK_EXIT_* reason. */
int funk_vm_result_exit_code(const struct funk_vm_result *res);

/* ---- Function I/O (FN_RECV / FN_SEND) -------------------------------------------------- */

/* A request handed to the guest; the strings stay valid until the next recv call. */
struct funk_vm_request {
    const char *method;  /* NULL = "POST" */
    const char *path;    /* NULL = "/" */
    const char *query;   /* NULL = "" */
    const char *headers; /* "Name: value\n" lines, may be NULL */
    size_t headers_len;
    const void *body;
    size_t body_len;
    uint64_t id;
};

struct funk_vm_response {
    unsigned status;
    const char *headers; /* "Name: value\n" lines as the guest sent them (not NUL-terminated) */
    size_t headers_len;
    const void *body; /* points into guest memory: valid only during the callback */
    size_t body_len;
};

/* Returns 0 with *req filled, 1 when no request will come, or a negative errno. */
typedef int (*funk_vm_recv_fn)(void *opaque, struct funk_vm_request *req);
/* Returns 0 or a negative errno (the guest then sees FUNK_FN_EIO). */
typedef int (*funk_vm_send_fn)(void *opaque, const struct funk_vm_response *resp);
/* Console output of the guest (PUTS). */
typedef void (*funk_vm_console_fn)(void *opaque, const char *data, size_t len);

struct funk_vm_io {
    funk_vm_recv_fn recv;       /* NULL: FN_RECV answers FUNK_FN_NOMORE */
    funk_vm_send_fn send;       /* NULL: responses are dropped */
    funk_vm_console_fn console; /* NULL: console output goes to stdout */
    void *opaque;
};

/* ---- Devices ---------------------------------------------------------------------------- */
enum funk_vm_dev_type { FUNK_VM_DEV_BLOCK = 1, FUNK_VM_DEV_NET = 2 };

struct funk_vm_device {
    const char *name;          /* manifest name */
    enum funk_vm_dev_type type;
    int fd;                    /* block: an open file; net: a tap fd (O_NONBLOCK set by the VM) */
    unsigned block_size;       /* block: sector size, a power of two 512..32768 (0: 512); the
                                  file size must be a multiple of it, at least one block */
    unsigned mtu;              /* net: the tap's MTU, 68..65521 (0: 1500); frames up to
                                  mtu + 14 bytes are carried */
    uint8_t mac[6];            /* net: all zero: a random locally administered unicast MAC */
};

/* ---- Loading ---------------------------------------------------------------------------- */
/* A file a Linux guest reads at an absolute path (e.g. an OpenFaaS-style secret at
 * /var/openfaas/secrets/NAME): copied at load, read-only, like the bundle's. */
struct funk_vm_file {
    const char *path; /* absolute, no "." or ".." components */
    const void *data;
    size_t len;
};

struct funk_vm_boot {
    const char *cmdline;               /* may be NULL; at most HVT_CMDLINE_SIZE-1 bytes */
    const char *const *env;            /* NULL-terminated KEY=VALUE strings (funk guests) */
    const struct funk_vm_device *devs; /* devices to attach by manifest name */
    size_t ndevs;
    const char *const *argv;           /* Linux guests: NULL-terminated argv (argv[0] first) */
    const char *bundle;                /* Linux guests: a directory the guest reads as its "/"
                                          (read-only, copied at load; links are left out) */
    const struct funk_vm_file *files;  /* Linux guests: more files at their paths (secrets) */
    size_t nfiles;
};

/* ---- VM lifecycle -------------------------------------------------------------------------
 * funk_vm_shell_new creates the expensive parts ahead of need (KVM VM, vCPU, memory slot, CPUID;
 * ~0.4 ms here), funk_vm_load puts a guest into it, funk_vm_run runs it to the end; a shell is
 * used for one guest. funk_vm_delete can run off the hot path (~0.4 ms here). */
struct funk_vm;

enum funk_vm_flags {
    FUNK_VM_F_VERBOSE = 0x1, /* log exits and set-up steps to stderr */
    FUNK_VM_F_PROCESS = 0x2, /* process backend: the guest runs natively in a sandboxed child */
    FUNK_VM_F_LINUX = 0x4,   /* a static Linux x86-64 program (either backend), see below */
    FUNK_VM_F_KVM_SPAWN = 0x8, /* KVM in a spawned monitor process, see below */
};

/*
 * KVM: where the VM runs. Without FUNK_VM_F_KVM_SPAWN (funk-monitor, which is itself the
 * monitor process) the vCPU runs in the thread calling funk_vm_run and guest memory is mapped
 * in this process. With it (funkd, funk-runtime: a process holding other tenants' data) each
 * guest gets its own monitor process, started from the clean launcher like a process guest:
 * it opens /dev/kvm, builds the VM, serves the hypercalls, runs as 65534 under its own seccomp
 * filter and talks to this process only over the validated channel (docs/monitor.md). This
 * process then holds no guest memory; kick and timeouts kill that process by its pidfd;
 * snapshots are template processes (the captured state lives there). funk_vm_sandbox and
 * funk_vm_dumpcore have nothing to do for such a shell (0 / -ENOTSUP). The environment
 * variable FUNK_KVM_SPAWN=off makes such shells in-process again (comparison, emergencies). A Linux
 * guest (FUNK_VM_F_LINUX) is never spawned this way.
 */

/*
 * Linux guests (FUNK_VM_F_LINUX, with FUNK_VM_F_PROCESS or under KVM): funk_vm_load takes an
 * unmodified static ELF (ET_EXEC, or static-pie ET_DYN placed at 0x400000; a dynamically linked
 * one is refused), with boot->argv (argv[0] first; NULL: {"guest"}) and boot->env (KEY=VALUE
 * strings) laid out on its initial stack as Linux does, with auxv. Every system call it makes is
 * served by the monitor's personality (docs/monitor.md "Linux guests"), never by the host
 * kernel: in the guest process, or under KVM (ring 3, one exit per call) in the calling
 * process, one such KVM guest at a time per process (-EBUSY). Its stdio maps onto struct
 * funk_vm_io (the stdio function mode):
 *   stdin (fd 0)  = the body of the first request io->recv returns (fetched when the guest
 *                   first reads fd 0, or at its exit; no request: empty stdin);
 *   stdout (fd 1) = the body of the one response io->send receives at the guest's exit, status
 *                   200 when it exits 0, else 500, no headers (at most 64 MiB; without a
 *                   request it goes to io->console instead);
 *   stderr (fd 2) = io->console (the function's log), with the personality's own log lines
 *                   ("funk-monitor: linux: system call 41 (socket) refused: ...");
 *   exit status   = res.exit FUNK_VM_EXIT_HALT with res.status = the status (& 0xff);
 *   files         = boot->bundle (a directory): its regular files and directories, read-only,
 *                   as the guest's whole file system ("/"), plus boot->files at their paths
 *                   (funkd: secrets at /var/openfaas/secrets/NAME); without both every open
 *                   is ENOENT.
 * Example:
 *     funk_vm_shell_new(64 << 20, FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX, &vm);
 *     const char *argv[] = {"/bin/busybox", "wc", "-w", NULL}, *env[] = {"K=V", NULL};
 *     struct funk_vm_boot boot = {.argv = argv, .env = env};
 *     funk_vm_load(vm, elf, len, &boot);
 *     funk_vm_run(vm, &io, &res);  // io->recv gives the stdin bytes, io->send gets stdout
 * Snapshots of Linux guests are not supported (-ENOTSUP).
 */

/* Which backend a shell uses (FUNK_ISOLATION_KVM or FUNK_ISOLATION_PROCESS). */
int funk_vm_isolation(const struct funk_vm *vm);

/* What --isolation=auto picks here: KVM when the CPU has vmx/svm and /dev/kvm works, else the
 * process backend (software-only KVM emulates every instruction). */
int funk_vm_isolation_auto(void);

/* mem_bytes: guest memory, a multiple of 2 MiB between 2 MiB and 4 GiB. With FUNK_VM_F_PROCESS
 * the shell is only bookkeeping; the child process is created by funk_vm_run. */
int funk_vm_shell_new(size_t mem_bytes, unsigned flags, struct funk_vm **out);

/* Validates and loads an ELF image (copied: the buffer can be freed afterwards). On a refusal
 * it returns a negative errno and funk_vm_error() says why in one line. */
/*
 * Resource limits of the guest's host process(es), enforced by a cgroup of its own that the
 * guest cannot leave or change (process backend; FUNK_CGROUP=auto|required|off, default auto:
 * used where the caller may create cgroups, v2 or v1's memory/cpu/pids hierarchies). 0 in a
 * field means the default:
 *   memory_bytes    the guest memory plus 64 MiB for the monitor code around it; hitting it
 *                   ends the guest with FUNK_VM_EXIT_LIMIT (the kernel's OOM killer)
 *   cpu_millicores  no CPU bandwidth limit (1000 = one core; OpenFaaS "limits.cpu")
 *   pids            1 process (a snapshot template: 4096, its instances are its children)
 * Set before funk_vm_run / funk_vm_snapshot_new; -EINVAL for memory below 4 MiB or more than
 * 4096 cores. A memory limit below the guest memory is allowed: the guest ends with
 * FUNK_VM_EXIT_LIMIT once the pages it touched no longer fit.
 */
struct funk_vm_limits {
    uint64_t memory_bytes;
    uint32_t cpu_millicores;
    uint32_t pids;
};
int funk_vm_set_limits(struct funk_vm *vm, const struct funk_vm_limits *lim);

int funk_vm_load(struct funk_vm *vm, const void *elf, size_t elf_len, const struct funk_vm_boot *boot);

/* Runs the loaded guest until it halts or fails; fills *res. Returns 0 when the run ended in any
 * of the ways enum funk_vm_exit lists, or a negative errno if the run could not start. */
int funk_vm_run(struct funk_vm *vm, const struct funk_vm_io *io, struct funk_vm_result *res);

/* Ends a running funk_vm_run from another thread or a signal handler (async-signal-safe); the
 * run returns with FUNK_VM_EXIT_TIMEOUT. The library interrupts KVM_RUN by sending
 * FUNK_VM_KICK_SIGNAL to the running thread (it installs an empty handler for it on first run). */
#define FUNK_VM_KICK_SIGNAL (SIGRTMAX - 1)
void funk_vm_kick(struct funk_vm *vm);

/* Process backend: starts the clean launcher that every guest process comes from (docs/
 * monitor.md) now, in this process, so guests run later still come from it after the caller
 * chroots, changes its user or drops its capabilities (funk-runtime calls it before all three).
 * The launcher chroots into root_fd (>= 0; -1: it shares the caller's root), becomes uid/gid
 * (the user the caller will run as, so the caller can kill its guests without CAP_KILL; no
 * supplementary groups) and drops every capability; its guests then run as that user, not as
 * 65534. Without it, a process guest run where the launcher cannot be exec'd fails with
 * -EHOSTDOWN (unless FUNK_PROCESS_LAUNCHER=off, which forks guests from the caller). 0 once
 * the launcher has answered, or a negative errno. A started launcher is kept: a later call
 * only checks that it still answers. */
int funk_vm_process_prepare(int root_fd, long uid, long gid);

/* Installs the run-loop seccomp filter in the calling thread (after funk_vm_load). Under the
 * process backend the guest's child always gets its own, stricter filter. */
int funk_vm_sandbox(struct funk_vm *vm);

/* Writes an ELF core (ET_CORE: one NT_PRSTATUS note with the vCPU registers, or the trap frame
 * the guest passed with HALT, and one PT_LOAD of guest memory at address 0 holding the pages
 * the guest touched) to fd, after a KVM guest's run has ended (Solo5's --dumpcore). The
 * counts of dumped and total 4 KiB pages go to the pointers when not NULL. -ENOTSUP for the
 * process backend or an unloaded VM, else 0 or a negative errno from the writes. */
int funk_vm_dumpcore(struct funk_vm *vm, int fd, size_t *pages_dumped, size_t *pages_total);

/* The last load/run error in one line ("" when none). */
const char *funk_vm_error(const struct funk_vm *vm);

void funk_vm_delete(struct funk_vm *vm);

/* ---- Snapshots ------------------------------------------------------------------------------
 * funk_vm_snapshot_new runs a loaded funk guest until it asks for its first request (FN_RECV)
 * and keeps it there (io serves its console meanwhile; the shell is used up). Each
 * funk_vm_restore then starts a new instance from it into an unused shell of the same backend
 * and memory size; run it with funk_vm_run as usual: it continues that FN_RECV.
 *   process backend: the template is a paused process; an instance is its copy-on-write fork,
 *     as sandboxed as a fresh guest (the template's extra rights to fork are taken away).
 *   kvm backend: the template is the guest's touched pages plus the vCPU state; a restore
 *     copies them into the fresh shell.
 * Returns -ENOTSUP with attached devices or without a funk note, -ECHILD when the guest ended
 * before its first request (*res says how). funk_vm_restore is thread-safe. */
struct funk_vm_snapshot;
int funk_vm_snapshot_new(struct funk_vm *vm, const struct funk_vm_io *io, struct funk_vm_result *res,
                         struct funk_vm_snapshot **out);
int funk_vm_restore(struct funk_vm *shell, struct funk_vm_snapshot *snap);
void funk_vm_snapshot_delete(struct funk_vm_snapshot *snap);

/* ACCEL for the guests started afterwards (process-wide), always served by funk-accel-agent
 * (no plugin runs in this process or a guest's): "private" (this process's own agent child,
 * started on the first guest that uses ACCEL; "inproc" and "" are its old spellings),
 * "agent:ADDR" (the agent at unix:///path, vsock://CID:PORT or tcp://HOST:PORT) or "none" (the
 * default: ACCEL answers -ENOSYS). Returns 0 or -EINVAL. */
int funk_vm_accel_set(const char *spec);

/* Parses "kvm", "process", "auto"; returns enum funk_isolation or -EINVAL. */
int funk_vm_isolation_parse(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_VM_H */
