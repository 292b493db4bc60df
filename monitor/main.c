/* SPDX-License-Identifier: Apache-2.0 */
/* funk-monitor: the command-line front end of libfunk-vm (one guest, one request). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/abi/spt.h>
#include <funk/vm.h>

#include "elf_note.h"

#define MAX_DEVS 64
#define MAX_HEADERS 64

static struct funk_vm *g_vm;
/* A plain Solo5 guest (an ELF with Solo5's ABI1 note and without funk's note): Solo5's tender
 * semantics, where every tender error exits 1 (errx) and only the guest's own status passes
 * through. 1: an hvt guest, 2: an spt guest (ABI1 target spt). */
static int g_solo5;

/* The exit status of a monitor error: funk's code, or 1 for a plain Solo5 guest. */
static int tender_exit(int code)
{
    return g_solo5 ? 1 : code;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: funk-monitor [--mem=MiB] [--timeout=SEC] [--block:NAME=PATH]\n"
            "                    [--net:NAME=TAP|@FD] [--fn-input=FILE|-] [--fn-method=M]\n"
            "                    [--fn-path=P] [--fn-header='Name: value'] [--fn-output=body|http]\n"
            "                    [--env=KEY=VALUE]\n"
            "                    [--isolation=kvm|process|auto] [--accel=private|agent:ADDR|none]\n"
            "                    [--user=UID[:GID]|keep] [--verbose] KERNEL.elf [ARGS...]\n"
            "       funk-monitor --linux [--isolation=process|kvm] [--mem=MiB] [--env=K=V]...\n"
            "                    [--bundle=DIR] [--fn-input=FILE|-] STATIC-ELF [ARGS...]\n"
            "Options with a value take --OPTION=VALUE or --OPTION VALUE (Solo5's NAME options:\n"
            "the ':' form only); -h/--help, --version.\n"
            "  --mem=MiB        guest memory, even number of MiB (default 8)\n"
            "  --timeout=SEC    end the guest after SEC seconds (exit 75)\n"
            "  --memory-limit=SIZE, --cpus=N, --pids-limit=N  process backend: the guest's\n"
            "                   own cgroup (SIZE like 64M or 1G; N cores like 0.5; default:\n"
            "                   guest memory + 64M, no CPU limit, 1 process); over the memory\n"
            "                   limit the guest ends with exit 69 (FUNK_CGROUP=auto|required|off)\n"
            "  --accel=MODE     ACCEL hypercall, always served by a sandboxed funk-accel-agent:\n"
            "                   private (default; 'inproc' is its old name): a child agent of\n"
            "                   this monitor, started for a guest that uses ACCEL ($FUNK_ACCEL_AGENT\n"
            "                   or beside this binary); agent:ADDR: the one at\n"
            "                   unix:///path|tcp://H:P|vsock://C:P; none: ACCEL answers ENOSYS\n"
            "  --user=UID[:GID] started as root with the KVM backend: run the guest as this user\n"
            "                   once /dev/kvm, the ELF and the devices are open (default 65534;\n"
            "                   keep: stay root)\n"
            "  --isolation=kvm-spawn  KVM in a separate monitor process started for the guest,\n"
            "                   as funkd runs its KVM guests (that process drops to 65534)\n"
            "  --fn-input=FILE  body of one POST / request for a funk guest ('-': stdin);\n"
            "                   the response body goes to stdout, console output to stderr\n"
            "  --linux          STATIC-ELF is an unmodified static Linux x86-64 program (process\n"
            "                   backend, or ring 3 under KVM with --isolation=kvm): argv =\n"
            "                   STATIC-ELF ARGS, envp = --env, stdin = the function\n"
            "                   input (--fn-input, default '-'), stdout = the response body,\n"
            "                   stderr = the log, exit status = its own (default --mem=64)\n"
            "  --bundle=DIR     --linux: DIR's files and directories, read-only, are the guest's\n"
            "                   whole file system (copied at load; links left out)\n"
            "  --fn-output=http the response as HTTP/1.1: status line, the guest's headers,\n"
            "                   Content-Length, blank line, body (default body: the body only)\n"
            "Solo5 tender options (same meaning as solo5-hvt's):\n"
            "  --block-sector-size:NAME=N  sector size of block device NAME (a power of two\n"
            "                   >= 512; the file size must be a multiple of it)\n"
            "  --net-mac:NAME=HWADDR  MAC of net device NAME (default: random, locally\n"
            "                   administered); the MTU is the tap's\n"
            "  --dumpcore=DIR   write DIR/core.funk-monitor.PID (ELF core) when the guest\n"
            "                   aborts (status 255) or faults; runs without the seccomp\n"
            "                   filter and without changing user (debugging only)\n"
            "plain Solo5 guests (no funk note): default --mem=512, any MiB up to 4096 (rounded\n"
            "  down to 2 MiB), KVM isolation (spt guests, ABI1 target spt: the process\n"
            "  backend), and every monitor error exits 1 like solo5-hvt/solo5-spt;\n"
            "  the guest's status (255: abort) passes through.\n"
            "exit status: the guest's, or 64 usage, 65 refused at load, 66 host set-up,\n"
            "  70 guest fault, 71 triple fault, 72 KVM internal error, 73 bad hypercall/port,\n"
            "  74 bad guest pointer, 75 timeout, 76 host I/O error, 78 sandbox (forbidden\n"
            "  system call), 79 process backend: the guest broke the channel protocol\n");
}

static int die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "funk-monitor: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see funk-monitor --help)\n");
    return tender_exit(FUNK_EXIT_USAGE);
}

static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            free(b);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = b;
    *len = n;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = read_all(fd, out, len);
    if (fd)
        close(fd);
    return rc;
}

/* The MTU of the tap interface behind fd (SIOCGIFMTU on its name), 0 when it cannot be read
 * (not a tap: the VM's default applies). */
static unsigned tap_mtu(int fd)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd, TUNGETIFF, &ifr) < 0)
        return 0;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    int rc = ioctl(s, SIOCGIFMTU, &ifr);
    close(s);
    return rc == 0 && ifr.ifr_mtu > 0 ? (unsigned)ifr.ifr_mtu : 0;
}

static int open_tap(const char *name)
{
    if (name[0] == '@') {
        char *end;
        long fd = strtol(name + 1, &end, 10);
        if (*end || end == name + 1 || fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
            return -EBADF;
        return (int)fd;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (strlen(name) >= IFNAMSIZ) {
        close(fd);
        return -ENAMETOOLONG;
    }
    strcpy(ifr.ifr_name, name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* One request from --fn-input, the response body to stdout. */
struct cli_fn {
    struct funk_vm_request req;
    int given;
    int served;
    int http; /* --fn-output=http: status line, headers and Content-Length before the body */
    unsigned status;
};

static int cli_recv(void *opaque, struct funk_vm_request *req)
{
    struct cli_fn *c = opaque;
    if (!c->given || c->served)
        return 1;
    c->served = 1;
    *req = c->req;
    return 0;
}

static const char *reason_phrase(unsigned status)
{
    static const struct {
        unsigned code;
        const char *text;
    } t[] = {{200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
             {301, "Moved Permanently"}, {302, "Found"}, {304, "Not Modified"},
             {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
             {405, "Method Not Allowed"}, {409, "Conflict"}, {413, "Content Too Large"},
             {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
             {429, "Too Many Requests"}, {500, "Internal Server Error"}, {501, "Not Implemented"},
             {502, "Bad Gateway"}, {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].code == status)
            return t[i].text;
    return status < 200 ? "Informational" : status < 300 ? "OK" : status < 400 ? "Redirection"
         : status < 500 ? "Client Error" : "Server Error";
}

/* True for a header this monitor writes itself (framing) rather than relays. */
static int framing_header(const char *h, size_t len)
{
    static const char *const own[] = {"content-length", "transfer-encoding", "connection"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t n = strlen(own[i]);
        if (len > n && h[n] == ':' && strncasecmp(h, own[i], n) == 0)
            return 1;
    }
    return 0;
}

/* --fn-output=http: "HTTP/1.1 STATUS REASON", the guest's header lines as CRLF lines (framing
 * ones and lines that are not "Name: value" dropped), Content-Length, a blank line. Runs in the
 * sandbox: stdio into the buffer given before it, no new syscalls but write. */
static int write_http_head(const struct funk_vm_response *resp)
{
    unsigned st = resp->status >= 100 && resp->status <= 999 ? resp->status : 502;
    if (fprintf(stdout, "HTTP/1.1 %u %s\r\n", st, reason_phrase(st)) < 0)
        return -EIO;
    const char *h = resp->headers, *end = h ? h + resp->headers_len : NULL;
    while (h && h < end) {
        const char *nl = memchr(h, '\n', (size_t)(end - h));
        size_t len = (size_t)((nl ? nl : end) - h);
        if (len && h[len - 1] == '\r')
            len--;
        const char *colon = memchr(h, ':', len);
        if (colon && colon != h && !memchr(h, '\r', len) && !framing_header(h, len) &&
            (fwrite(h, 1, len, stdout) != len || fwrite("\r\n", 1, 2, stdout) != 2))
            return -EIO;
        h = nl ? nl + 1 : end;
    }
    return fprintf(stdout, "Content-Length: %zu\r\n\r\n", resp->body_len) < 0 ? -EIO : 0;
}

static int cli_send(void *opaque, const struct funk_vm_response *resp)
{
    struct cli_fn *c = opaque;
    c->status = resp->status;
    if (c->http && write_http_head(resp))
        return -EIO;
    if (resp->body_len && fwrite(resp->body, 1, resp->body_len, stdout) != resp->body_len)
        return -EIO;
    return fflush(stdout) == 0 ? 0 : -EIO;
}

static void cli_console(void *opaque, const char *data, size_t len)
{
    struct cli_fn *c = opaque;
    FILE *f = c->given ? stderr : stdout;
    fwrite(data, 1, len, f);
    fflush(f);
}

static void on_alarm(int sig)
{
    (void)sig;
    funk_vm_kick(g_vm);
}

/* The kernel operand as Solo5's tender finds it: the first argument after the options (or
 * after "--"); NULL when there is none. */
/* An option word before the kernel: "--..." or one of the short ones. */
static int is_opt(const char *a)
{
    return strncmp(a, "--", 2) == 0 || strcmp(a, "-h") == 0 || strcmp(a, "-v") == 0;
}

static const char *find_kernel(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return i + 1 < argc ? argv[i + 1] : NULL;
        if (!is_opt(argv[i]))
            return argv[i];
    }
    return NULL;
}

/* One CLI style (docs/cli.md): "--opt VALUE" is "--opt=VALUE" for the options that take a
 * value (Solo5's tender takes only the '=' form; both work here). Rewrites argv in place up to
 * the kernel: the joined words are allocated once and live for the process. -1 when an option
 * that needs a value is the last word (a usage error). */
static int join_option_values(int *argc, char **argv)
{
    static const char *const with_value[] = {
        "--mem",      "--timeout",   "--fn-input", "--fn-output", "--fn-method",
        "--fn-path",  "--fn-header", "--env",      "--isolation", "--accel",
        "--user",     "--bundle",    "--dumpcore",
        "--memory-limit", "--cpus", "--pids-limit",
    };
    int n = *argc;
    for (int i = 1; i < n && is_opt(argv[i]) && strcmp(argv[i], "--") != 0; i++) {
        size_t k;
        for (k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            if (strcmp(argv[i], with_value[k]) == 0)
                break;
        if (k == sizeof with_value / sizeof with_value[0])
            continue;
        if (i + 1 >= n)
            return -1;
        char *joined = NULL;
        if (asprintf(&joined, "%s=%s", argv[i], argv[i + 1]) < 0)
            return -1;
        argv[i] = joined;
        memmove(&argv[i + 1], &argv[i + 2], (size_t)(n - i - 1) * sizeof *argv); /* with NULL */
        n--;
    }
    *argc = n;
    return 0;
}

/* "64M", "1G", "512K" or bytes (binary multiples); at least 4 MiB. */
static int parse_limit_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end == 'i' && shift)
        end++;
    if (errno || *end || v > (UINT64_MAX >> 30) || (v << shift) < (4u << 20))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6 || strlen(s) != 17)
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

/* NAME=VALUE of a --block-sector-size: / --net-mac: option, split in a copy. */
static char *split_named(const char *spec, char **value)
{
    char *copy = strdup(spec);
    char *eq = copy ? strchr(copy, '=') : NULL;
    if (!eq || eq == copy || eq[1] == '\0') {
        free(copy);
        return NULL;
    }
    *eq = '\0';
    *value = eq + 1;
    return copy;
}

/* Writes DIR/core.funk-monitor.PID after an abort or a fault (Solo5's dumpcore module). */
static void dump_core(int dirfd, const char *dir)
{
    char name[64];
    snprintf(name, sizeof name, "core.funk-monitor.%d", (int)getpid());
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "funk-monitor: dumpcore: open(%s/%s): %s\n", dir, name, strerror(errno));
        return;
    }
    fprintf(stderr, "funk-monitor: dumpcore: dumping guest core to: %s/%s\n", dir, name);
    size_t done = 0, total = 0;
    int rc = funk_vm_dumpcore(g_vm, fd, &done, &total);
    if (rc)
        fprintf(stderr, "funk-monitor: dumpcore: error dumping core (%s), file may be incomplete\n",
                strerror(-rc));
    else
        fprintf(stderr, "funk-monitor: dumpcore: dumped %zu pages of total %zu pages\n", done,
                total);
    close(fd);
}

/* Exits through _exit: the kernel reclaims the VM and buffers faster than a teardown would. */
static int run_cli(int argc, char **argv)
{
    unsigned long mem_mib = 0; /* 8, or 64 for --linux */
    double timeout = 0;
    struct funk_vm_limits limits = {0};
    unsigned flags = 0;
    int isolation = FUNK_ISOLATION_AUTO, kvm_spawn = 0;
    struct funk_vm_device devs[MAX_DEVS];
    size_t ndevs = 0;
    const char *fn_input = NULL, *method = "POST", *path = "/";
    int fn_http = 0;
    static char headers[16384];
    size_t headers_len = 0;
    const char *env[MAX_HEADERS + 1];
    size_t nenv = 0;
    const char *bundle = NULL;
    long run_uid = 65534, run_gid = 65534; /* -1: --user=keep */
    int mem_given = 0;
    struct {
        char *name;
        unsigned size;
    } sectors[MAX_DEVS];
    size_t nsectors = 0;
    struct {
        char *name;
        uint8_t mac[6];
    } macs[MAX_DEVS];
    size_t nmacs = 0;
    const char *dumpcore_dir = NULL;
    int dumpcore_fd = -1;
    int i;

    /* The ELF first, as Solo5's tender does: whether it carries funk's note decides which
     * exit statuses the errors below use (a guest this monitor cannot serve is also handed on
     * before stdin is read). */
    if (join_option_values(&argc, argv) < 0) {
        fprintf(stderr, "funk-monitor: option '%s' needs a value\nTry 'funk-monitor --help'.\n",
                argv[argc - 1]);
        return FUNK_EXIT_USAGE;
    }
    const char *kernel = find_kernel(argc, argv);
    char *elf = NULL;
    size_t elf_len = 0;
    int elf_rc = kernel ? read_file(kernel, &elf, &elf_len) : -ENOENT;
    if (elf_rc == 0 && elf_note_find(elf, elf_len, FUNK_NOTE_TYPE, NULL) == 0 &&
        elf_note_find_owned(elf, elf_len, HVT_NOTE_OWNER, HVT_NOTE_ABI1, NULL) == 1)
        g_solo5 = elf_note_solo5_target(elf, elf_len) == SPT_ABI_TARGET ? 2 : 1;

    funk_vm_accel_set("private"); /* the default: a sandboxed agent child, started on demand */
    for (i = 1; i < argc && is_opt(argv[i]); i++) {
        const char *a = argv[i];
        char *end;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            /* solo5-hvt's --version: the tender and the hvt (and spt) ABI it speaks. */
            printf("funk-monitor %s (tender, hvt ABI version %u, spt ABI version %u, funk ABI "
                   "version %u)\n",
                   FUNK_VERSION, HVT_ABI_VERSION, SPT_ABI_VERSION, FUNK_ABI_VERSION);
            return 0;
        } else if (strncmp(a, "--mem=", 6) == 0) {
            errno = 0;
            mem_mib = strtoul(a + 6, &end, 10);
            mem_given = 1;
            if (g_solo5) {
                /* solo5-hvt: any size in MB, rounded down to the 2 MiB page, at most 4 GiB. */
                if (errno || *end || a[6] == '\0' || a[6] == '-' || mem_mib == 0)
                    return die_usage("Malformed argument to --mem: '%s'", a + 6);
                if (mem_mib > 4096)
                    return die_usage("--mem: guest memory size %s MB exceeds the max size 4096 MB",
                                     a + 6);
                unsigned long adj = mem_mib < 2 ? 2 : mem_mib & ~1ul;
                if (adj != mem_mib)
                    fprintf(stderr, "funk-monitor: adjusting memory to %lu bytes\n", adj << 20);
                mem_mib = adj;
            } else if (errno || *end || a[6] == '\0' || mem_mib < 2 || mem_mib > 4096 || mem_mib % 2)
                return die_usage("--mem: '%s' is not an even number of MiB between 2 and 4096", a + 6);
        } else if (strncmp(a, "--block-sector-size:", 20) == 0) {
            char *v;
            char *name = split_named(a + 20, &v);
            if (!name)
                return die_usage("'%s': expected --block-sector-size:NAME=N", a);
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (errno || *end || v[0] == '-' || n > 65535)
                return die_usage("'%s': expected --block-sector-size:NAME=N", a);
            if (nsectors == MAX_DEVS)
                return die_usage("too many devices (%s)", a);
            sectors[nsectors].name = name;
            sectors[nsectors++].size = (unsigned)n;
        } else if (strncmp(a, "--net-mac:", 10) == 0) {
            char *v;
            char *name = split_named(a + 10, &v);
            if (!name || nmacs == MAX_DEVS || parse_mac(v, macs[nmacs].mac))
                return die_usage("'%s': expected --net-mac:NAME=xx:xx:xx:xx:xx:xx", a);
            macs[nmacs++].name = name;
        } else if (strncmp(a, "--dumpcore=", 11) == 0) {
            dumpcore_dir = a + 11;
            if (!*dumpcore_dir)
                return die_usage("--dumpcore: empty directory%s", "");
        } else if (strncmp(a, "--memory-limit=", 15) == 0) {
            if (parse_limit_size(a + 15, &limits.memory_bytes) != 0)
                return die_usage("--memory-limit: '%s' is not a size like 64M or 1G (>= 4M)", a + 15);
        } else if (strncmp(a, "--cpus=", 7) == 0) {
            double c = strtod(a + 7, &end);
            if (*end || a[7] == '\0' || !(c >= 0.001) || c > 4096)
                return die_usage("--cpus: '%s' is not a number of cores (0.001..4096)", a + 7);
            limits.cpu_millicores = (uint32_t)(c * 1000 + 0.5);
        } else if (strncmp(a, "--pids-limit=", 13) == 0) {
            errno = 0;
            unsigned long n = strtoul(a + 13, &end, 10);
            if (errno || *end || a[13] == '\0' || a[13] == '-' || n == 0 || n > 1000000)
                return die_usage("--pids-limit: '%s' is not a number 1..1000000", a + 13);
            limits.pids = (uint32_t)n;
        } else if (strncmp(a, "--timeout=", 10) == 0) {
            timeout = strtod(a + 10, &end);
            if (*end || a[10] == '\0' || !(timeout > 0) || timeout > 86400)
                return die_usage("--timeout: '%s' is not a number of seconds (0 < SEC <= 86400)", a + 10);
        } else if (strncmp(a, "--block:", 8) == 0 || strncmp(a, "--net:", 6) == 0) {
            int block = a[2] == 'b';
            char *spec = strdup(a + (block ? 8 : 6));
            char *eq = spec ? strchr(spec, '=') : NULL;
            if (!eq || eq == spec || eq[1] == '\0')
                return die_usage("'%s': expected --block:NAME=PATH or --net:NAME=TAP|@FD", a);
            if (ndevs == MAX_DEVS)
                return die_usage("too many devices (%s)", a);
            *eq = '\0';
            int fd = block ? open(eq + 1, O_RDWR | O_CLOEXEC) : open_tap(eq + 1);
            if (fd < 0) {
                fprintf(stderr, "funk-monitor: %s: cannot open '%s': %s\n", a, eq + 1,
                        strerror(block ? errno : -fd));
                return tender_exit(FUNK_EXIT_SETUP);
            }
            devs[ndevs++] = (struct funk_vm_device){
                .name = spec, .type = block ? FUNK_VM_DEV_BLOCK : FUNK_VM_DEV_NET, .fd = fd,
                .mtu = block ? 0 : tap_mtu(fd)};
        } else if (strncmp(a, "--fn-input=", 11) == 0) {
            fn_input = a + 11;
            if (!*fn_input)
                return die_usage("--fn-input: empty file name%s", "");
        } else if (strncmp(a, "--fn-output=", 12) == 0) {
            if (strcmp(a + 12, "body") == 0)
                fn_http = 0;
            else if (strcmp(a + 12, "http") == 0)
                fn_http = 1;
            else
                return die_usage("--fn-output: '%s' is not body or http", a + 12);
        } else if (strncmp(a, "--fn-method=", 12) == 0) {
            method = a + 12;
            if (!*method || strpbrk(method, " \r\n:"))
                return die_usage("--fn-method: bad method '%s'", method);
        } else if (strncmp(a, "--fn-path=", 10) == 0) {
            path = a + 10;
            if (path[0] != '/' || strpbrk(path, " \r\n"))
                return die_usage("--fn-path: '%s' must start with '/'", path);
        } else if (strncmp(a, "--fn-header=", 12) == 0) {
            const char *h = a + 12, *colon = strchr(h, ':');
            size_t l = strlen(h);
            if (!colon || colon == h || strpbrk(h, "\r\n"))
                return die_usage("--fn-header: '%s' is not 'Name: value'", h);
            if (headers_len + l + 2 > sizeof headers)
                return die_usage("--fn-header: headers too long (%s)", h);
            memcpy(headers + headers_len, h, l);
            headers_len += l;
            headers[headers_len++] = '\n';
        } else if (strncmp(a, "--env=", 6) == 0) {
            if (!strchr(a + 6, '=') || a[6] == '=')
                return die_usage("--env: '%s' is not KEY=VALUE", a + 6);
            if (nenv == MAX_HEADERS)
                return die_usage("--env: too many entries (%s)", a + 6);
            env[nenv++] = a + 6;
        } else if (strcmp(a, "--isolation=kvm-spawn") == 0) {
            isolation = FUNK_ISOLATION_KVM;
            kvm_spawn = 1;
        } else if (strncmp(a, "--isolation=", 12) == 0) {
            isolation = funk_vm_isolation_parse(a + 12);
            kvm_spawn = 0;
            if (isolation < 0)
                return die_usage("--isolation: '%s' is not kvm, process or auto", a + 12);
        } else if (strncmp(a, "--accel=", 8) == 0) {
            if (funk_vm_accel_set(a + 8) < 0)
                return die_usage("--accel: '%s' is not private, none or agent:ADDR (unix:///path, "
                                 "vsock://CID:PORT, tcp://HOST:PORT)", a + 8);
        } else if (strncmp(a, "--user=", 7) == 0) {
            if (strcmp(a + 7, "keep") == 0) {
                run_uid = run_gid = -1;
            } else {
                char *end;
                errno = 0;
                run_uid = strtol(a + 7, &end, 10);
                run_gid = *end == ':' ? strtol(end + 1, &end, 10) : run_uid;
                if (errno || *end || end == a + 7 || run_uid < 0 || run_gid < 0 ||
                    run_uid >= 4294967295L || run_gid >= 4294967295L)
                    return die_usage("--user: '%s' is not UID[:GID] (numbers) or keep", a + 7);
            }
        } else if (strncmp(a, "--bundle=", 9) == 0) {
            bundle = a + 9;
            if (!*bundle)
                return die_usage("--bundle: empty directory name%s", "");
        } else if (strcmp(a, "--linux") == 0) {
            flags |= FUNK_VM_F_LINUX;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            flags |= FUNK_VM_F_VERBOSE;
        } else if (strncmp(a, "--linux=", 8) == 0 || strncmp(a, "--verbose=", 10) == 0) {
            return die_usage("option '%s' takes no value", a);
        } else {
            return die_usage("unknown option '%s'", a);
        }
    }
    env[nenv] = NULL;
    bool linux_guest = (flags & FUNK_VM_F_LINUX) != 0;
    if (!mem_mib)
        mem_mib = linux_guest ? 64 : 8;
    if (bundle && !linux_guest)
        return die_usage("--bundle: only with --linux%s", "");
    if (linux_guest) {
        /* the process backend unless KVM is asked for (auto: the process backend) */
        if (isolation != FUNK_ISOLATION_KVM)
            isolation = FUNK_ISOLATION_PROCESS;
        if (!fn_input)
            fn_input = "-"; /* stdio mode: stdin is the function input */
    }
    if (i >= argc)
        return die_usage("no KERNEL.elf given%s", "");
    i++; /* the kernel: find_kernel() saw it first */
    /* Sector sizes and MACs name devices given with --block: / --net: (in any order). */
    for (size_t k = 0; k < nsectors; k++) {
        size_t d = 0;
        while (d < ndevs && !(devs[d].type == FUNK_VM_DEV_BLOCK &&
                              strcmp(devs[d].name, sectors[k].name) == 0))
            d++;
        if (d == ndevs)
            return die_usage("--block-sector-size:%s: no --block:NAME=PATH for this name",
                             sectors[k].name);
        devs[d].block_size = sectors[k].size ? sectors[k].size : 1; /* 0 is refused at load */
    }
    for (size_t k = 0; k < nmacs; k++) {
        size_t d = 0;
        while (d < ndevs && !(devs[d].type == FUNK_VM_DEV_NET &&
                              strcmp(devs[d].name, macs[k].name) == 0))
            d++;
        if (d == ndevs)
            return die_usage("--net-mac:%s: no --net:NAME=TAP for this name", macs[k].name);
        memcpy(devs[d].mac, macs[k].mac, 6);
    }
    if (dumpcore_dir) {
        dumpcore_fd = open(dumpcore_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dumpcore_fd < 0 || access(dumpcore_dir, W_OK) != 0) {
            fprintf(stderr, "funk-monitor: dumpcore: cannot open dir '%s' for writing: %s\n",
                    dumpcore_dir, strerror(errno));
            return tender_exit(FUNK_EXIT_SETUP);
        }
    }
    if (g_solo5 && !mem_given)
        mem_mib = 512; /* solo5-hvt's default */

    /* The remaining arguments form the guest command line. */
    size_t cl = 0;
    for (int j = i; j < argc; j++)
        cl += strlen(argv[j]) + 1;
    char *cmdline = calloc(1, cl + 1);
    if (!cmdline)
        return FUNK_EXIT_SETUP;
    for (int j = i; j < argc; j++) {
        if (j > i)
            strcat(cmdline, " ");
        strcat(cmdline, argv[j]);
    }
    if (cl >= HVT_CMDLINE_SIZE && !linux_guest)
        return die_usage("guest arguments longer than %s bytes", "8191");

    /* A plain Solo5 hvt guest runs only under KVM (it issues its hypercalls with outl), an spt
     * guest (g_solo5 == 2) only under the process backend (it makes Linux system calls). */
    int chosen = isolation != FUNK_ISOLATION_AUTO ? isolation
               : g_solo5 == 2                     ? FUNK_ISOLATION_PROCESS
               : g_solo5                          ? FUNK_ISOLATION_KVM
                                                  : funk_vm_isolation_auto();
    if (chosen == FUNK_ISOLATION_PROCESS)
        flags |= FUNK_VM_F_PROCESS;
    if (kvm_spawn && chosen == FUNK_ISOLATION_KVM)
        flags |= FUNK_VM_F_KVM_SPAWN; /* the spawned monitor drops its user itself */
    if (dumpcore_dir && chosen == FUNK_ISOLATION_PROCESS)
        return die_usage("--dumpcore: guests under KVM only (an spt guest's tender, solo5-spt, "
                         "has no --dumpcore either)%s", "");

    int rc = elf_rc;
    if (rc) {
        fprintf(stderr, "funk-monitor: cannot read '%s': %s\n", kernel, strerror(-rc));
        return FUNK_EXIT_LOAD;
    }

    struct cli_fn fn = {.req = {.method = method, .path = path}, .http = fn_http};
    if (fn_input) {
        char *body;
        size_t blen;
        rc = read_file(fn_input, &body, &blen);
        if (rc) {
            fprintf(stderr, "funk-monitor: --fn-input: cannot read '%s': %s\n", fn_input, strerror(-rc));
            free(elf);
            return tender_exit(FUNK_EXIT_SETUP);
        }
        fn.given = 1;
        fn.req.body = body;
        fn.req.body_len = blen;
        fn.req.headers = headers;
        fn.req.headers_len = headers_len;
        fn.req.id = 1;
    }

    rc = funk_vm_shell_new((size_t)mem_mib << 20, flags, &g_vm);
    if (rc) {
        fprintf(stderr, "funk-monitor: cannot create a %s: %s%s\n",
                chosen == FUNK_ISOLATION_PROCESS ? "process sandbox" : "KVM VM", strerror(-rc),
                rc == -ENOENT || rc == -EACCES ? " (is /dev/kvm available? try --isolation=process)" : "");
        return tender_exit(FUNK_EXIT_SETUP);
    }
    struct funk_vm_boot boot = {.cmdline = linux_guest ? NULL : cmdline, .env = env, .devs = devs,
                                .ndevs = ndevs, .argv = linux_guest ? (const char *const *)argv + i - 1 : NULL,
                                .bundle = bundle};
    if ((limits.memory_bytes || limits.cpu_millicores || limits.pids) &&
        (rc = funk_vm_set_limits(g_vm, &limits)) != 0) {
        fprintf(stderr, "funk-monitor: limits: %s\n", strerror(-rc));
        funk_vm_delete(g_vm);
        return tender_exit(FUNK_EXIT_USAGE);
    }
    rc = funk_vm_load(g_vm, elf, elf_len, &boot);
    free(elf);
    if (rc) {
        fprintf(stderr, "funk-monitor: %s: %s\n", kernel, funk_vm_error(g_vm));
        funk_vm_delete(g_vm);
        return tender_exit(FUNK_EXIT_LOAD);
    }
    if (flags & FUNK_VM_F_VERBOSE)
        fprintf(stderr, "funk-monitor: isolation: %s (%s)\n",
                chosen == FUNK_ISOLATION_KVM ? "kvm" : "process",
                isolation != FUNK_ISOLATION_AUTO ? "requested"
                : g_solo5 == 2 ? "auto: a Solo5 spt guest runs under the process backend"
                : g_solo5 ? "auto: a plain Solo5 guest runs under KVM only"
                : chosen == FUNK_ISOLATION_KVM ? "auto: hardware virtualization and /dev/kvm work"
                                               : "auto: no hardware virtualization here");

    /* Everything is open (/dev/kvm, the VM, the ELF, block and net devices): a root monitor needs
     * root no more, so a guest that subverts it through a hypercall gets an unprivileged user
     * (issue 11). The process backend drops in each guest process instead. */
    if (dumpcore_dir)
        fprintf(stderr, "funk-monitor: WARNING: --dumpcore: the guest runs without the seccomp "
                        "filter and as uid %d (debugging only)\n", (int)geteuid());
    if (chosen == FUNK_ISOLATION_KVM && !kvm_spawn && geteuid() == 0 && run_uid >= 0 &&
        !dumpcore_dir) {
        if (setgroups(0, NULL) != 0 ||
            setresgid((gid_t)run_gid, (gid_t)run_gid, (gid_t)run_gid) != 0 ||
            setresuid((uid_t)run_uid, (uid_t)run_uid, (uid_t)run_uid) != 0) {
            fprintf(stderr, "funk-monitor: cannot drop to uid/gid %ld:%ld: %s\n", run_uid, run_gid,
                    strerror(errno));
            funk_vm_delete(g_vm);
            return tender_exit(FUNK_EXIT_SETUP);
        }
        if (flags & FUNK_VM_F_VERBOSE)
            fprintf(stderr, "funk-monitor: running as uid/gid %ld:%ld\n", run_uid, run_gid);
    }

    if (timeout > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN must return EINTR */
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {.it_value = {.tv_sec = (time_t)timeout,
                                            .tv_usec = (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6)}};
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
            it.it_value.tv_usec = 1;
        setitimer(ITIMER_REAL, &it, NULL);
    }
    /* Give stdout its buffer now: glibc would otherwise allocate one (and probe the fd with
     * ioctl(TCGETS)) on first output, inside the sandbox. Every writer flushes explicitly. */
    static char outbuf[1 << 16];
    fflush(stdout);
    fflush(stderr);
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    rc = dumpcore_dir ? 0 : funk_vm_sandbox(g_vm);
    if (rc) {
        fprintf(stderr, "funk-monitor: installing the seccomp filter failed: %s\n", strerror(-rc));
        return tender_exit(FUNK_EXIT_SETUP);
    }
    struct funk_vm_io io = {.recv = cli_recv, .send = cli_send, .console = cli_console, .opaque = &fn};
    struct funk_vm_result res;
    rc = funk_vm_run(g_vm, &io, &res);
    if (rc) {
        const char *why = funk_vm_error(g_vm);
        fprintf(stderr, "funk-monitor: cannot run the guest: %s\n",
                why && *why ? why : strerror(-rc));
        return tender_exit(FUNK_EXIT_SETUP);
    }
    if (res.exit != FUNK_VM_EXIT_HALT)
        fprintf(stderr, "funk-monitor: %s\n", res.reason);
    else if (flags & FUNK_VM_F_VERBOSE)
        fprintf(stderr, "funk-monitor: %s\n", res.reason);
    if (dumpcore_fd >= 0 &&
        ((res.exit == FUNK_VM_EXIT_HALT && (res.status & 0xff) == 255) ||
         res.exit == FUNK_VM_EXIT_FAULT || res.exit == FUNK_VM_EXIT_TRIPLE))
        dump_core(dumpcore_fd, dumpcore_dir);
    /* A process guest's cgroup goes once its process is reaped (off the run's path, by the
     * library): delete the shell so this process does not exit before that. A KVM run left
     * this process under its own filter: nothing of that kind to clean there. */
    if (chosen == FUNK_ISOLATION_PROCESS)
        funk_vm_delete(g_vm);
    if (res.exit != FUNK_VM_EXIT_HALT)
        return tender_exit(funk_vm_result_exit_code(&res));
    return funk_vm_result_exit_code(&res);
}

int main(int argc, char **argv)
{
    int rc = run_cli(argc, argv);
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
}
