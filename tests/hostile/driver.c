/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile-guest driver: runs one guest under libfunk-vm as funkd would (its response copy, its
 * console sink) and checks that the supervisor survives and the guest ends as expected. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/abi/hvt.h>
#include <funk/vm.h>

/*
 * usage: hostile-driver [--isolation=process|kvm|kvm-spawn] [--timeout=SEC] [--expect-exit=N]
 *          [--expect-reason=TEXT] [--sleeper] [--max-rss-mib=N] [--block=NAME=PATH]
 *          [--block-size-same=PATH] [--snapshot] [--expect-console=TEXT]
 *          [--accel=private|agent:ADDR|none]
 *          [--guest-canary=found|absent] ELF [GUEST ARGS...]
 * kvm-spawn: KVM in a spawned monitor process (FUNK_VM_F_KVM_SPAWN, what funkd uses).
 * --guest-canary: the seed of guest_probe's "plant" is appended to the guest's arguments; in its
 * first FN_RECV the planted bytes must be found in (control: in-process KVM) or absent from this
 * process's memory; absent also requires a child process running the VM as 65534:65534 under a
 * seccomp filter with no_new_privs (the spawned monitor).
 * Exit 0 when every expectation held, 1 with "FAIL: ..." otherwise, 77 to skip.
 */

static struct funk_vm *g_vm;
static double g_timeout = 5;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_done;
static char *g_console;
static size_t g_console_len;
static char *g_resp_headers, *g_resp_body;

#define CONSOLE_KEEP (1u << 20)

static void on_console(void *opaque, const char *data, size_t len)
{
    (void)opaque;
    /* Like funkd: keep a bounded prefix (the library must bound what it hands over per call). */
    if (!g_console)
        g_console = calloc(1, CONSOLE_KEEP + 1);
    size_t n = len < CONSOLE_KEEP - g_console_len ? len : CONSOLE_KEEP - g_console_len;
    if (g_console && n) {
        memcpy(g_console + g_console_len, data, n);
        g_console_len += n;
    }
}

static int on_send(void *opaque, const struct funk_vm_response *r)
{
    (void)opaque;
    /* funkd's copy_response, verbatim in behaviour: trusts the sizes the library reports. */
    free(g_resp_headers);
    free(g_resp_body);
    g_resp_headers = malloc(r->headers_len + 1);
    g_resp_body = malloc(r->body_len + 1);
    if (!g_resp_headers || !g_resp_body)
        return -ENOMEM;
    if (r->headers_len)
        memcpy(g_resp_headers, r->headers, r->headers_len);
    if (r->body_len)
        memcpy(g_resp_body, r->body, r->body_len);
    return 0;
}

static unsigned g_canary_seed;
static int g_canary_mode;   /* 0 none, 1 must be found, 2 must be absent */
static int g_canary_result; /* set in the first recv: 1 found, 2 absent, -1 scan failed */
static char g_monitor_status[512]; /* what the scan saw of the spawned monitor process */

/* True when the 128 planted bytes start at p (computed on the fly: never stored here). */
static int canary_at(const uint8_t *p, size_t avail)
{
    if (avail < 128)
        return 0;
    for (unsigned k = 0; k < 128; k++)
        if (p[k] != (uint8_t)(7 * k + 13 * g_canary_seed + 1))
            return 0;
    return 1;
}

/* Reads every readable mapping of this process (but the sanitizer's giant reservations, which
 * hold no data of ours) through /proc/self/mem and looks for the planted bytes. */
static int scan_self(void)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap + 128);
    if (!maps || mem < 0 || !buf) {
        if (maps)
            fclose(maps);
        if (mem >= 0)
            close(mem);
        free(buf);
        return -1;
    }
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 || perm[0] != 'r' ||
            strstr(line, "[vvar]") || strstr(line, "[vsyscall]") || hi - lo > (1ul << 30))
            continue;
        for (unsigned long a = lo; a < hi && !found; a += cap) {
            size_t want = hi - a < cap + 127 ? hi - a : cap + 127;
            ssize_t n = pread(mem, buf, want, (off_t)a);
            if (n <= 0)
                break;
            for (size_t i = 0; i + 128 <= (size_t)n && !found; i++) {
                const uint8_t *p = memchr(buf + i, (uint8_t)(13 * g_canary_seed + 1), (size_t)n - i);
                if (!p)
                    break;
                i = (size_t)(p - buf);
                found = canary_at(p, (size_t)n - i);
            }
        }
    }
    fclose(maps);
    close(mem);
    free(buf);
    return found;
}

/* Children of ours (the launcher clones guests with CLONE_PARENT) that hold a KVM VM fd: their
 * uid:gid, NoNewPrivs and Seccomp lines ("; "-separated), or "" when none. */
static void find_monitor(char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
            continue;
        char path[300], l[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int ppid = -1;
        char uid[32] = "", gid[32] = "", nnp[8] = "", sc[8] = "";
        while (fgets(l, sizeof l, f)) {
            sscanf(l, "PPid: %d", &ppid);
            sscanf(l, "Uid: %31s", uid);
            sscanf(l, "Gid: %31s", gid);
            sscanf(l, "NoNewPrivs: %7s", nnp);
            sscanf(l, "Seccomp: %7s", sc);
        }
        fclose(f);
        if (ppid != getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%s/fd", e->d_name);
        DIR *fd = opendir(path);
        struct dirent *fe;
        int kvm = 0;
        while (fd && (fe = readdir(fd))) {
            char lp[600], tgt[128];
            snprintf(lp, sizeof lp, "%s/%s", path, fe->d_name);
            ssize_t n = readlink(lp, tgt, sizeof tgt - 1);
            if (n > 0) {
                tgt[n] = '\0';
                kvm |= strstr(tgt, "kvm-vm") != NULL;
            }
        }
        if (fd)
            closedir(fd);
        size_t used = strlen(out);
        if (kvm && used < cap) /* every such child (a pre-built monitor waits as root, too) */
            snprintf(out + used, cap - used, "%suid %s gid %s nnp %s seccomp %s", used ? "; " : "",
                     uid, gid, nnp, sc);
    }
    if (d)
        closedir(d);
}

/* Processes below us (by their PPid chain; a spawned KVM monitor, a template's instance or its
 * spare) that still hold a KVM VM fd. */
static int kvm_descendants(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 1 || pid == getpid())
            continue;
        int up = pid, mine = 0;
        for (int depth = 0; depth < 16 && up > 1 && !mine; depth++) {
            char path[64], l[256];
            snprintf(path, sizeof path, "/proc/%d/status", up);
            FILE *f = fopen(path, "r");
            int ppid = -1;
            while (f && fgets(l, sizeof l, f))
                sscanf(l, "PPid: %d", &ppid);
            if (f)
                fclose(f);
            mine = ppid == getpid();
            up = ppid;
        }
        if (!mine)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", pid);
        DIR *fd = opendir(path);
        struct dirent *fe;
        int kvm = 0;
        while (fd && (fe = readdir(fd))) {
            char lp[400], tgt[128];
            snprintf(lp, sizeof lp, "%s/%s", path, fe->d_name);
            ssize_t k = readlink(lp, tgt, sizeof tgt - 1);
            if (k > 0) {
                tgt[k] = '\0';
                kvm |= strstr(tgt, "kvm-vm") != NULL;
            }
        }
        if (fd)
            closedir(fd);
        n += kvm;
    }
    if (d)
        closedir(d);
    return n;
}

static int on_recv(void *opaque, struct funk_vm_request *req)
{
    (void)opaque;
    static int given;
    if (given == 0 && g_canary_mode) {
        g_canary_result = scan_self();
        g_canary_result = g_canary_result < 0 ? -1 : g_canary_result ? 1 : 2;
        find_monitor(g_monitor_status, sizeof g_monitor_status);
    }
    if (given++)
        return 1;
    memset(req, 0, sizeof *req);
    req->body = "hostile";
    req->body_len = 7;
    return 0;
}

static void *timer_main(void *arg)
{
    (void)arg;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)g_timeout;
    dl.tv_nsec += (long)((g_timeout - (double)(time_t)g_timeout) * 1e9);
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_mu);
    int rc = 0;
    while (!g_done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g_cv, &g_mu, &dl);
    if (!g_done)
        funk_vm_kick(g_vm);
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

static void on_deadline(int sig)
{
    (void)sig;
    static const char m[] =
        "FAIL: the run did not end within the deadline (the call never answers)\n";
    if (write(2, m, sizeof m - 1) < 0) {
    }
    _exit(1);
}

static long rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static int fail(const char *fmt, const char *a)
{
    fprintf(stderr, "FAIL: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 1;
}

/* Processes whose parent is us (the subreaper of everything the guests fork), except the
 * launcher and the sleeper: a guest's stray. Returns how many. */
static int strays(pid_t sleeper)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *rp = strrchr(buf, ')');
        char state = 0;
        int ppid = 0;
        if (!rp || sscanf(rp + 2, "%c %d", &state, &ppid) != 2)
            continue;
        /* (The launcher and the private ACCEL agent are ours, not the guest's; comm is cut at
         * 15 characters.) */
        if (ppid != getpid() || atoi(e->d_name) == sleeper || strstr(buf, "(funk-launcher)") ||
            strstr(buf, "(funk-accel-agen") || state == 'Z')
            continue;
        fprintf(stderr, "stray: %s", buf);
        n++;
    }
    if (d)
        closedir(d);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return n;
}

/* A secret where the library user keeps its data: heap, environment, shared mappings (like the
 * SQLite WAL index or another VM's kvm_run page). Appends their addresses to cmdline. */
static void plant_canaries(char *cmdline, size_t cap)
{
    char secret[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(secret, sizeof secret, "FUNKCANARY-%ld-%ld", (long)getpid(), (long)ts.tv_nsec);
    static char *heap; /* reachable: not a leak */
    heap = strdup(secret);
    setenv("FUNK_HOSTILE_CANARY", secret, 1);
    char *env = getenv("FUNK_HOSTILE_CANARY");
    char *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int mfd = memfd_create("hostile-shm", MFD_CLOEXEC);
    char *mshm = MAP_FAILED;
    if (mfd >= 0 && ftruncate(mfd, 4096) == 0)
        mshm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    void *addrs[4] = {heap, env, shm != MAP_FAILED ? shm : NULL, mshm != MAP_FAILED ? mshm : NULL};
    if (shm != MAP_FAILED)
        strcpy(shm, secret);
    if (mshm != MAP_FAILED)
        strcpy(mshm, secret);
    for (int i = 0; i < 4; i++)
        if (addrs[i]) {
            char num[32];
            snprintf(num, sizeof num, " %lx", (unsigned long)(uintptr_t)addrs[i]);
            strncat(cmdline, num, cap - strlen(cmdline) - 1);
        }
}

/* --each=NR,NR,...: this driver once per number with guest args "sys NR"; all must pass. */
static int run_each(int argc, char **argv, int each_idx)
{
    char *list = strdup(argv[each_idx] + 7);
    int fails = 0, runs = 0;
    for (char *save = NULL, *nr = strtok_r(list, ",", &save); nr; nr = strtok_r(NULL, ",", &save)) {
        char *args[64];
        int k = 0;
        for (int i = 0; i < argc && k < 60; i++)
            if (i != each_idx)
                args[k++] = argv[i];
        args[k++] = "sys";
        args[k++] = nr;
        args[k] = NULL;
        pid_t pid;
        int st = 0;
        extern char **environ;
        if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0 ||
            waitpid(pid, &st, 0) < 0) {
            fails++;
            continue;
        }
        runs++;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
            free(list);
            return 77;
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "FAIL: system call %s was not refused as expected\n", nr);
            fails++;
        }
    }
    free(list);
    printf("%d system call(s) probed, %d not refused as expected\n", runs, fails);
    return fails ? 1 : 0;
}

/* --sandbox-trap ELF: under KVM, a system call the run-loop filter forbids ends the process
 * with FUNK_EXIT_SANDBOX (78) and a line saying so, not a bare SIGSYS (exit 159). */
static int sandbox_trap(const char *elf_path)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        fprintf(stderr, "SKIP: /dev/kvm is not usable here\n");
        return 77;
    }
    FILE *f = fopen(elf_path, "rb");
    static unsigned char elf[8 << 20];
    size_t len = f ? fread(elf, 1, sizeof elf, f) : 0;
    if (f)
        fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        struct funk_vm *vm;
        if (funk_vm_shell_new(2u << 20, 0, &vm) || funk_vm_load(vm, elf, len, NULL) ||
            funk_vm_sandbox(vm))
            _exit(2);
        syscall(SYS_getppid); /* not in the run loop's list */
        _exit(3);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 78)
        return fail("%s", "a forbidden call in the KVM run loop did not end with exit 78");
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--sandbox-trap") == 0)
        return sandbox_trap(argv[2]);
    for (int j = 1; j < argc && strncmp(argv[j], "--", 2) == 0; j++)
        if (strncmp(argv[j], "--each=", 7) == 0)
            return run_each(argc, argv, j);
    int iso = FUNK_ISOLATION_PROCESS, expect_exit = -1, sleeper = 0, snapshot = 0, canary = 0;
    int no_strays = 0, spawn = 0;
    long max_rss = -1;
    const char *expect_reason = NULL, *expect_console = NULL, *reject_console = NULL;
    struct funk_vm_device devs[4];
    size_t ndevs = 0;
    const char *size_path = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--isolation=kvm-spawn") == 0) {
            iso = FUNK_ISOLATION_KVM;
            spawn = 1;
        } else if (strncmp(a, "--isolation=", 12) == 0)
            iso = funk_vm_isolation_parse(a + 12);
        else if (strcmp(a, "--guest-canary=found") == 0)
            g_canary_mode = 1;
        else if (strcmp(a, "--guest-canary=absent") == 0)
            g_canary_mode = 2;
        else if (strncmp(a, "--timeout=", 10) == 0)
            g_timeout = strtod(a + 10, NULL);
        else if (strncmp(a, "--expect-exit=", 14) == 0)
            expect_exit = atoi(a + 14);
        else if (strncmp(a, "--expect-reason=", 16) == 0)
            expect_reason = a + 16;
        else if (strncmp(a, "--expect-console=", 17) == 0)
            expect_console = a + 17;
        else if (strncmp(a, "--reject-console=", 17) == 0)
            reject_console = a + 17;
        else if (strcmp(a, "--sleeper") == 0)
            sleeper = 1;
        else if (strcmp(a, "--snapshot") == 0)
            snapshot = 1;
        else if (strncmp(a, "--accel=", 8) == 0)
            funk_vm_accel_set(a + 8);
        else if (strcmp(a, "--canary") == 0)
            canary = 1;
        else if (strcmp(a, "--no-strays") == 0)
            no_strays = 1;
        else if (strncmp(a, "--max-rss-mib=", 14) == 0)
            max_rss = atol(a + 14);
        else if (strncmp(a, "--block-tmp=", 12) == 0 && ndevs < 4) {
            /* A fresh 64 KiB backing file, gone when we exit. */
            static char tmpl[4][64];
            snprintf(tmpl[ndevs], sizeof tmpl[ndevs], "/tmp/funk-hostile-blockXXXXXX");
            int fd = mkstemp(tmpl[ndevs]);
            if (fd < 0 || ftruncate(fd, 64 << 10) != 0)
                return fail("cannot create %s", tmpl[ndevs]);
            devs[ndevs] = (struct funk_vm_device){.name = a + 12, .type = FUNK_VM_DEV_BLOCK, .fd = fd};
            size_path = tmpl[ndevs++];
        } else if (strncmp(a, "--block=", 8) == 0 && ndevs < 4) {
            char *eq = strchr(a + 8, '=');
            if (!eq)
                return fail("bad %s", a);
            *eq = '\0';
            int fd = open(eq + 1, O_RDWR | O_CLOEXEC);
            if (fd < 0)
                return fail("cannot open %s", eq + 1);
            devs[ndevs++] = (struct funk_vm_device){.name = a + 8, .type = FUNK_VM_DEV_BLOCK, .fd = fd};
            size_path = eq + 1;
        } else
            return fail("unknown option %s", a);
    }
    if (i >= argc || iso < 0)
        return fail("%s", "usage: hostile-driver [options] ELF [ARGS...]");
    if (iso == FUNK_ISOLATION_KVM && access("/dev/kvm", R_OK | W_OK) != 0) {
        fprintf(stderr, "SKIP: /dev/kvm is not usable here\n");
        return 77;
    }
    const char *elf_path = argv[i++];
    FILE *f = fopen(elf_path, "rb");
    if (!f)
        return fail("cannot open %s", elf_path);
    static unsigned char elf[8 << 20];
    size_t elf_len = fread(elf, 1, sizeof elf, f);
    fclose(f);

    pid_t sleeper_pid = -1;
    char cmdline[1024] = "";
    for (; i < argc; i++) {
        strncat(cmdline, argv[i], sizeof cmdline - strlen(cmdline) - 2);
        strcat(cmdline, " ");
    }
    if (sleeper) {
        /* An unrelated process: its pid is what a forged HELLO claims. */
        sleeper_pid = fork();
        if (sleeper_pid == 0) {
            for (;;)
                pause();
        }
        char num[32];
        snprintf(num, sizeof num, "%d", (int)sleeper_pid);
        strncat(cmdline, num, sizeof cmdline - strlen(cmdline) - 1);
    }
    if (g_canary_mode) {
        g_canary_seed = (unsigned)getpid() % 251u;
        char num[16];
        snprintf(num, sizeof num, "%u", g_canary_seed);
        strncat(cmdline, num, sizeof cmdline - strlen(cmdline) - 1);
    }
    if (canary) {
        size_t l = strlen(cmdline);
        if (l && cmdline[l - 1] == ' ')
            cmdline[l - 1] = '\0';
        plant_canaries(cmdline, sizeof cmdline);
    }
    if (no_strays)
        prctl(PR_SET_CHILD_SUBREAPER, 1);
    off_t size_before = -1;
    struct stat sb;
    if (size_path && stat(size_path, &sb) == 0)
        size_before = sb.st_size;

    signal(SIGALRM, on_deadline);
    alarm((unsigned)g_timeout + 20);
    long rss0 = rss_mib();
    unsigned flags = iso == FUNK_ISOLATION_PROCESS ? FUNK_VM_F_PROCESS : spawn ? FUNK_VM_F_KVM_SPAWN : 0;
    struct funk_vm_boot boot = {.cmdline = cmdline, .devs = devs, .ndevs = ndevs};
    struct funk_vm_io io = {.recv = on_recv, .send = on_send, .console = on_console};
    struct funk_vm_result res;
    memset(&res, 0, sizeof res);
    int rc = funk_vm_shell_new(16u << 20, flags, &g_vm);
    if (rc == 0)
        rc = funk_vm_load(g_vm, elf, elf_len, &boot);
    if (rc)
        return fail("load: %s", funk_vm_error(g_vm));
    struct funk_vm_snapshot *snap = NULL;
    if (snapshot) {
        rc = funk_vm_snapshot_new(g_vm, &io, &res, &snap);
        funk_vm_delete(g_vm);
        g_vm = NULL;
        if (rc)
            return fail("snapshot: %s", res.reason);
        if ((rc = funk_vm_shell_new(16u << 20, flags, &g_vm)) || (rc = funk_vm_restore(g_vm, snap)))
            return fail("%s", "restore failed");
    }
    pthread_t t;
    pthread_create(&t, NULL, timer_main, NULL);
    rc = funk_vm_run(g_vm, &io, &res);
    pthread_mutex_lock(&g_mu);
    g_done = 1;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(t, NULL);
    funk_vm_delete(g_vm);
    if (snap)
        funk_vm_snapshot_delete(snap);
    alarm(0);
    int code = funk_vm_result_exit_code(&res);
    long rss1 = rss_mib();
    printf("exit %d reason \"%s\" rss %ld -> %ld MiB console %zu bytes\n", code, res.reason, rss0,
           rss1, g_console_len);
    if (g_console_len)
        printf("console: %.*s\n", (int)(g_console_len < 200 ? g_console_len : 200), g_console);
    int bad = 0;
    if (rc)
        bad |= fail("funk_vm_run: %s", strerror(-rc));
    if (expect_exit >= 0 && code != expect_exit) {
        char b[32];
        snprintf(b, sizeof b, "%d", code);
        bad |= fail("unexpected exit code %s", b);
    }
    if (expect_reason && !strstr(res.reason, expect_reason))
        bad |= fail("reason lacks \"%s\"", expect_reason);
    if (expect_console && (!g_console || !strstr(g_console, expect_console)))
        bad |= fail("console lacks \"%s\"", expect_console);
    if (reject_console && g_console && strstr(g_console, reject_console))
        bad |= fail("console has \"%s\"", reject_console);
    if (g_canary_mode) {
        printf("guest canary in this process: %s; KVM monitor child: %s\n",
               g_canary_result == 1 ? "found" : g_canary_result == 2 ? "absent" : "scan failed",
               g_monitor_status[0] ? g_monitor_status : "none");
        if (g_canary_result != g_canary_mode)
            bad |= fail("%s", g_canary_mode == 1 ? "the guest's bytes were not found here (the "
                                                   "scan does not see guest memory)"
                                                 : "the guest's memory is readable in the supervisor");
        if (g_canary_mode == 2 && !strstr(g_monitor_status, "uid 65534 gid 65534 nnp 1 seccomp 2"))
            bad |= fail("%s", "no child runs the VM as 65534:65534 under seccomp with no_new_privs");
    }
    if (max_rss >= 0 && rss1 - rss0 > max_rss)
        bad |= fail("%s", "the supervisor's RSS grew past the bound");
    if (sleeper_pid > 0) {
        int st;
        if (waitpid(sleeper_pid, &st, WNOHANG) != 0)
            bad |= fail("%s", "the unrelated sleeper process was killed");
        kill(sleeper_pid, SIGKILL);
        waitpid(sleeper_pid, &st, 0);
    }
    if (no_strays) {
        /* Everything the guest or its template forked must be gone, promptly. */
        int left = 0;
        for (int t = 0; t < 30 && (left = strays(sleeper_pid)) > 0; t++)
            usleep(100000);
        if (left)
            bad |= fail("%s", "a process the guest forked outlived its template and the call");
        /* and no KVM monitor process (a spawned one, a template's spare instance) is left */
        for (int t = 0; t < 30 && (left = kvm_descendants()) > 0; t++)
            usleep(100000);
        if (left)
            bad |= fail("%s", "a KVM monitor process outlived its run or its snapshot");
    }
    if (size_path && stat(size_path, &sb) == 0 && sb.st_size != size_before)
        bad |= fail("%s", "the block device's backing file changed size");
    if (size_path && strncmp(size_path, "/tmp/funk-hostile-block", 23) == 0)
        unlink(size_path);
    if (!bad)
        printf("ok\n");
    return bad;
}
