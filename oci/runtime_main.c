/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime: an OCI runtime CLI that runs unikernel bundles under libfunk-vm and hands every
 * other bundle, unchanged, to runc (or crun: FUNK_RUNTIME_DELEGATE). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

#define DEFAULT_ROOT "/run/funk-runtime"
#define STATE_FILE "funk-state.json"
#define OCI_VERSION "1.0.2"

static FILE *g_logf;
static int g_logjson, g_debug;

void rt_log_open(const char *path, int json, int debug)
{
    g_logjson = json;
    g_debug = debug;
    if (path)
        g_logf = fopen(path, "ae");
}

void rt_log(enum rt_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char msg[1024];
    va_list ap;
    if (lvl == RT_DEBUG && !g_debug)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lvl <= RT_WARN || g_debug)
        fprintf(stderr, "funk-runtime: %s%s\n", lvl == RT_WARN ? "warning: " : "", msg);
    if (!g_logf)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char secs[40], when[64];
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, sizeof when, "%s.%09ldZ", secs, ts.tv_nsec); /* RFC 3339, as runc writes it */
    if (g_logjson) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "level", names[lvl], "msg", msg, "time", when);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (s)
            fprintf(g_logf, "%s\n", s);
        free(s);
        json_decref(j);
    } else {
        fprintf(g_logf, "%s %s %s\n", when, names[lvl], msg);
    }
    fflush(g_logf);
}

/* Usage errors exit 64 (EX_USAGE), as in every funk binary (docs/cli.md). */
#define RT_EXIT_USAGE 64

static int usage(FILE *f, int rc)
{
    fprintf(
        f,
        "usage: funk-runtime [--root DIR] [--log FILE] [--log-format text|json] "
        "[--systemd-cgroup]\n"
        "                    [--debug] [--accel-agent ADDR] COMMAND [OPTIONS] ID\n"
        "commands:\n"
        "  create [--bundle DIR] [--pid-file FILE] [--console-socket S] ID\n"
        "  start ID | state ID | kill ID [SIGNAL] | delete [--force] ID\n"
        "  run [--bundle DIR] [--pid-file FILE] [--detach] ID | features | ps ID | list\n"
        "A bundle is a unikernel when config.json carries org.funk.unikernel.binary or urunc's\n"
        "com.urunc.unikernel.*, or its rootfs holds /funk.json or urunc's /urunc.json (urunc\n"
        "images: hypervisor hvt runs, others are refused), or it carries com.funk.io=stdio (a\n"
        "static Linux program under the monitor's personality; with fprocess in process.env\n"
        "an HTTP function, as the classic watchdog); any other bundle is handed to\n"
        "$FUNK_RUNTIME_DELEGATE (default runc) with the same arguments.\n"
        "--accel-agent ADDR: funk-accel-agent for guests' ACCEL calls (unix:///path,\n"
        "vsock://CID:PORT, tcp://HOST:PORT; podman: --runtime-flag accel-agent=ADDR); the\n"
        "annotation org.funk.accel.agent overrides it, $FUNK_RUNTIME_ACCEL_AGENT is the "
        "default.\n"
        "Options take their value as --OPTION VALUE or --OPTION=VALUE; -h/--help, --version.\n"
        "Exit status: the guest's (run), 0 or 1 (other commands), 64 usage error.\n");
    return rc;
}

/* ---- state -------------------------------------------------------------------------------- */

static const char *g_root = DEFAULT_ROOT;
static char **g_argv;

static int valid_id(const char *id)
{
    if (!id || !*id || strlen(id) > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return 0;
    for (const char *p = id; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20)
            return 0;
    return 1;
}

static void state_path(char *out, size_t n, const char *id, const char *file)
{
    snprintf(out, n, "%s/%s%s%s", g_root, id, file ? "/" : "", file ? file : "");
}

/* Field 22 of /proc/PID/stat (start time), and whether the process is a zombie. */
static unsigned long long proc_start(pid_t pid, int *zombie)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    if (!s)
        return 0;
    char state = s[2];
    if (zombie)
        *zombie = state == 'Z' || state == 'X';
    unsigned long long v = 0;
    int field = 3;
    for (char *t = s + 2; *t; t++) {
        if (*t == ' ') {
            field++;
            if (field == 22) {
                v = strtoull(t + 1, NULL, 10);
                break;
            }
        }
    }
    return v;
}

struct rt_state {
    json_t *j;
    pid_t pid;
    const char *status; /* created, running, stopped */
};

/* Returns 1 when the container is ours, 0 when no funk state exists, negative on a bad state. */
static int state_load(const char *id, struct rt_state *st)
{
    char p[PATH_MAX];
    state_path(p, sizeof p, id, STATE_FILE);
    memset(st, 0, sizeof *st);
    st->j = json_load_file(p, 0, NULL);
    if (!st->j)
        return access(p, F_OK) == 0 ? -EINVAL : 0;
    st->pid = (pid_t)json_integer_value(json_object_get(st->j, "pid"));
    unsigned long long want =
        (unsigned long long)json_integer_value(json_object_get(st->j, "starttime"));
    int zombie = 0;
    unsigned long long have = st->pid > 0 ? proc_start(st->pid, &zombie) : 0;
    if (have == 0 || have != want || zombie) {
        st->status = "stopped";
    } else {
        state_path(p, sizeof p, id, "exec.fifo");
        st->status = access(p, F_OK) == 0 ? "created" : "running";
    }
    return 1;
}

static int rm_state(const char *id)
{
    char p[PATH_MAX];
    state_path(p, sizeof p, id, "exec.fifo");
    unlink(p);
    state_path(p, sizeof p, id, STATE_FILE);
    unlink(p);
    state_path(p, sizeof p, id, NULL);
    if (rmdir(p) < 0 && errno != ENOENT) {
        rt_log(RT_ERROR, "cannot remove state directory %s: %s", p, strerror(errno));
        return -errno;
    }
    return 0;
}

/* ---- delegation --------------------------------------------------------------------------- */

static int delegate(void)
{
    const char *rt = getenv("FUNK_RUNTIME_DELEGATE");
    if (!rt || !*rt)
        rt = "runc";
    if (getenv("FUNK_RUNTIME_DELEGATED")) {
        rt_log(RT_ERROR,
               "the delegate runtime '%s' is funk-runtime itself: set FUNK_RUNTIME_DELEGATE to "
               "runc or crun",
               rt);
        return 1;
    }
    setenv("FUNK_RUNTIME_DELEGATED", "1", 1);
    rt_log(RT_DEBUG, "not a unikernel: handing over to %s", rt);
    if (g_logf)
        fclose(g_logf);
    g_logf = NULL;
    g_argv[0] = (char *)rt;
    execvp(rt, g_argv);
    rt_log(RT_ERROR, "cannot run the delegate OCI runtime '%s': %s (set FUNK_RUNTIME_DELEGATE)", rt,
           strerror(errno));
    return 1;
}

/* ---- commands ----------------------------------------------------------------------------- */

struct create_opts {
    const char *bundle, *pid_file, *console_socket;
    const char *unknown; /* an option we do not know: fine for the delegate, an error for us */
    int detach;
};

/* Creates DIR and every missing parent with mode 0700, as runc does for its --root: the runc shim
 * passes --root /run/containerd/runc/<namespace>, whose parents need not exist on a fresh host.
 * Returns 0 when DIR is (now) a directory, else a negative errno. */
static int mkdir_p(const char *dir)
{
    char p[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p)
        return -ENAMETOOLONG;
    memcpy(p, dir, n + 1);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(p, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int write_file_atomic(const char *path, const char *data)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    int ok = fputs(data, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

static int do_create(const char *id, const struct create_opts *o, pid_t *out_pid)
{
    char err[1024] = "", p[PATH_MAX];
    struct rt_bundle b;
    int rc = rt_bundle_load(o->bundle ? o->bundle : ".", &b, err, sizeof err);
    if (rc == 0) {
        rt_bundle_free(&b);
        return delegate();
    }
    if (rc < 0) {
        rt_log(RT_ERROR, "%s", err);
        rt_bundle_free(&b);
        return 1;
    }
    if (o->unknown) {
        rt_log(RT_ERROR, "unknown option '%s'", o->unknown);
        rt_bundle_free(&b);
        return RT_EXIT_USAGE;
    }
    if (b.terminal || o->console_socket) {
        rt_log(RT_ERROR,
               "a terminal was requested (process.terminal or --console-socket): unikernels have "
               "a console, not a tty; run without -t");
        rt_bundle_free(&b);
        return 1;
    }
    if ((rc = mkdir_p(g_root)) < 0) {
        rt_log(RT_ERROR, "cannot create the state root %s: %s", g_root, strerror(-rc));
        rt_bundle_free(&b);
        return 1;
    }
    state_path(p, sizeof p, id, NULL);
    if (mkdir(p, 0700) < 0) {
        rt_log(RT_ERROR,
               errno == EEXIST ? "container '%s' already exists"
                               : "cannot create state for '%s': %s",
               id, strerror(errno));
        rt_bundle_free(&b);
        return 1;
    }
    char statedir[PATH_MAX];
    snprintf(statedir, sizeof statedir, "%s", p);
    state_path(p, sizeof p, id, "exec.fifo");
    if (mkfifo(p, 0600) < 0) {
        rt_log(RT_ERROR, "mkfifo %s: %s", p, strerror(errno));
        rm_state(id);
        rt_bundle_free(&b);
        return 1;
    }
    pid_t pid = rt_container_create(&b, statedir, err, sizeof err);
    if (pid < 0) {
        rt_log(RT_ERROR, "%s", err);
        rm_state(id);
        rt_bundle_free(&b);
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char created[80], secs[40];
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(created, sizeof created, "%s.%09ldZ", secs, ts.tv_nsec);
    json_t *ann = json_loads(b.annotations_json, 0, NULL);
    json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:I, s:s, s:s, s:I}", "ociVersion",
                          OCI_VERSION, "id", id, "pid", (int)pid, "bundle", b.dir, "rootfs",
                          b.rootfs, "created", created, "annotations", ann ? ann : json_object(),
                          "starttime", (json_int_t)proc_start(pid, NULL), "binary", b.binary,
                          "owner", "", "memory", (json_int_t)b.mem_bytes);
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    state_path(p, sizeof p, id, STATE_FILE);
    if (!s || write_file_atomic(p, s) < 0) {
        rt_log(RT_ERROR, "cannot write %s", p);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        rm_state(id);
        free(s);
        rt_bundle_free(&b);
        return 1;
    }
    free(s);
    if (o->pid_file) {
        char num[32];
        snprintf(num, sizeof num, "%d", (int)pid);
        if (write_file_atomic(o->pid_file, num) < 0) {
            rt_log(RT_ERROR, "cannot write pid file %s", o->pid_file);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            rm_state(id);
            rt_bundle_free(&b);
            return 1;
        }
    }
    rt_log(RT_INFO, "created unikernel container %s: %s, %zu MiB, pid %d", id, b.binary,
           b.mem_bytes >> 20, (int)pid);
    rt_bundle_free(&b);
    if (out_pid)
        *out_pid = pid;
    return 0;
}

static int do_start(const char *id)
{
    struct rt_state st;
    if (state_load(id, &st) < 0) {
        rt_log(RT_ERROR, "container '%s': unreadable state", id);
        return 1;
    }
    int rc = 1;
    if (strcmp(st.status, "created") != 0) {
        rt_log(RT_ERROR, "container '%s' is %s, not created: cannot start it", id, st.status);
        goto out;
    }
    char p[PATH_MAX];
    state_path(p, sizeof p, id, "exec.fifo");
    int fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rt_log(RT_ERROR, "container '%s': cannot open its exec fifo: %s", id, strerror(errno));
        goto out;
    }
    /* Remove the fifo first: from here on, state reports "running". */
    unlink(p);
    if (write(fd, "1", 1) != 1) {
        rt_log(RT_ERROR, "container '%s': cannot start: %s", id, strerror(errno));
        close(fd);
        goto out;
    }
    close(fd);
    rc = 0;
out:
    json_decref(st.j);
    return rc;
}

static int do_state(const char *id)
{
    struct rt_state st;
    if (state_load(id, &st) < 0) {
        rt_log(RT_ERROR, "container '%s': unreadable state", id);
        return 1;
    }
    json_t *out = json_pack(
        "{s:O, s:O, s:s, s:i, s:O, s:O, s:O, s:O}", "ociVersion",
        json_object_get(st.j, "ociVersion"), "id", json_object_get(st.j, "id"), "status", st.status,
        "pid", strcmp(st.status, "stopped") == 0 ? 0 : (int)st.pid, "bundle",
        json_object_get(st.j, "bundle"), "rootfs", json_object_get(st.j, "rootfs"), "created",
        json_object_get(st.j, "created"), "annotations", json_object_get(st.j, "annotations"));
    json_object_set_new(out, "owner", json_string(""));
    char *s = out ? json_dumps(out, JSON_INDENT(2)) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(out);
    json_decref(st.j);
    return s ? 0 : 1;
}

static int parse_signal(const char *s)
{
    static const struct {
        const char *n;
        int v;
    } sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
                {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"ALRM", SIGALRM},
                {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"PIPE", SIGPIPE}, {"WINCH", SIGWINCH}};
    if (!s)
        return SIGTERM;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end)
        return v > 0 && v < NSIG ? (int)v : -EINVAL;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (strcasecmp(s, sigs[i].n) == 0)
            return sigs[i].v;
    return -EINVAL;
}

static int do_kill(const char *id, const char *signame)
{
    int sig = parse_signal(signame);
    if (sig < 0) {
        rt_log(RT_ERROR, "kill: unknown signal '%s'", signame);
        return 1;
    }
    struct rt_state st;
    if (state_load(id, &st) < 0) {
        rt_log(RT_ERROR, "container '%s': unreadable state", id);
        return 1;
    }
    int rc = 1;
    if (strcmp(st.status, "stopped") == 0) {
        /* runc's wording: the runc shim maps "container not running" to "already finished"
         * (the CRI kills every exited container once more); other text is a failed kill. */
        rt_log(RT_ERROR, "container not running: '%s' has stopped", id);
    } else if (kill(st.pid, sig) < 0) {
        rt_log(RT_ERROR, "kill %d: %s", (int)st.pid, strerror(errno));
    } else {
        rc = 0;
    }
    json_decref(st.j);
    return rc;
}

/* Waits until the process is gone (or a zombie, which holds no VM and no tap any more). */
static int wait_gone(pid_t pid, unsigned long long start)
{
    for (int i = 0; i < 5000; i++) {
        int zombie = 0;
        unsigned long long s = proc_start(pid, &zombie);
        if (s == 0 || s != start || zombie)
            return 0;
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    return -ETIMEDOUT;
}

static int do_delete(const char *id, int force)
{
    struct rt_state st;
    int r = state_load(id, &st);
    if (r < 0) {
        rt_log(RT_WARN, "container '%s': unreadable state, removing it", id);
        return rm_state(id) ? 1 : 0;
    }
    int rc = 1;
    if (strcmp(st.status, "running") == 0 && !force) {
        rt_log(RT_ERROR, "container '%s' is running: stop it first or use delete --force", id);
        goto out;
    }
    if (strcmp(st.status, "stopped") != 0) {
        kill(st.pid, SIGKILL);
        if (wait_gone(st.pid, (unsigned long long)json_integer_value(
                                  json_object_get(st.j, "starttime"))) < 0) {
            rt_log(RT_ERROR, "container '%s': process %d did not end after SIGKILL", id,
                   (int)st.pid);
            goto out;
        }
    }
    rc = rm_state(id) ? 1 : 0;
out:
    json_decref(st.j);
    return rc;
}

static int do_features(void)
{
    printf("{\n"
           "  \"ociVersionMin\": \"1.0.0\",\n"
           "  \"ociVersionMax\": \"1.1.0\",\n"
           "  \"hooks\": [],\n"
           "  \"mountOptions\": [],\n"
           "  \"linux\": {\n"
           "    \"namespaces\": [\"cgroup\", \"ipc\", \"mount\", \"network\", \"pid\", \"uts\"],\n"
           "    \"capabilities\": [],\n"
           "    \"cgroup\": {\"v1\": false, \"v2\": false, \"systemd\": false, \"systemdUser\": "
           "false},\n"
           "    \"seccomp\": {\"enabled\": true, \"actions\": [], \"operators\": [], \"archs\": "
           "[\"SCMP_ARCH_X86_64\"]},\n"
           "    \"apparmor\": {\"enabled\": false},\n"
           "    \"selinux\": {\"enabled\": false}\n"
           "  },\n"
           "  \"annotations\": {\n"
           "    \"org.funk.runtime.unikernel\": \"org.funk.unikernel.binary, .cmdline, .memory, "
           ".block, .mode, .net, .isolation; "
           "com.urunc.unikernel.* (hvt); rootfs /funk.json, /urunc.json\",\n"
           "    \"org.funk.runtime.accel\": \"org.funk.accel.agent (funk-accel-agent address)\",\n"
           "    \"org.funk.runtime.delegate\": \"%s\"\n"
           "  }\n"
           "}\n",
           getenv("FUNK_RUNTIME_DELEGATE") ? getenv("FUNK_RUNTIME_DELEGATE") : "runc");
    return 0;
}

static int do_list(void)
{
    DIR *d = opendir(g_root);
    printf("ID\tPID\tSTATUS\tBUNDLE\n");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct rt_state st;
        if (e->d_name[0] == '.' || state_load(e->d_name, &st) <= 0)
            continue;
        printf("%s\t%d\t%s\t%s\n", e->d_name, (int)st.pid, st.status,
               json_string_value(json_object_get(st.j, "bundle")));
        json_decref(st.j);
    }
    closedir(d);
    return 0;
}

static int do_ps(const char *id, int json)
{
    struct rt_state st;
    if (state_load(id, &st) < 0)
        return 1;
    int alive = strcmp(st.status, "stopped") != 0;
    if (json)
        alive ? printf("[%d]\n", (int)st.pid) : printf("[]\n");
    else
        alive ? printf("PID\n%d\n", (int)st.pid) : printf("PID\n");
    json_decref(st.j);
    return 0;
}

/* ---- argument parsing --------------------------------------------------------------------- */

/* Option VALUE given as "--opt VALUE" or "--opt=VALUE"; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int is_flag(const char *a, const char *name)
{
    return strcmp(a, name) == 0 || (strncmp(a, name, strlen(name)) == 0 && a[strlen(name)] == '=');
}

int main(int argc, char **argv)
{
    const char *log = NULL, *logfmt = "text", *v;
    int debug = 0, i;
    g_argv = argv;
    signal(SIGPIPE, SIG_IGN);
    /* --accel-agent is ours alone: taken out of argv before anything else reads it, so a
     * delegated (ordinary) container's runc never sees it. rt_bundle_load reads the env. */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        int from = i;
        if (!(v = opt_value(argc, argv, &i, "--accel-agent")))
            continue;
        setenv("FUNK_RUNTIME_ACCEL_AGENT", v, 1);
        int drop = i - from + 1;
        memmove(&argv[from], &argv[i + 1], (size_t)(argc - i) * sizeof *argv); /* with NULL */
        argc -= drop;
        i = from - 1;
    }
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if ((v = opt_value(argc, argv, &i, "--root")))
            g_root = v;
        else if ((v = opt_value(argc, argv, &i, "--log")))
            log = v;
        else if ((v = opt_value(argc, argv, &i, "--log-format")))
            logfmt = v;
        else if ((v = opt_value(argc, argv, &i, "--criu")) ||
                 (v = opt_value(argc, argv, &i, "--rootless")))
            ;
        else if (is_flag(a, "--systemd-cgroup"))
            ;
        else if (is_flag(a, "--debug"))
            debug = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout, 0);
        else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("funk-runtime %s\nspec: %s\n", FUNK_VERSION, OCI_VERSION);
            return 0;
        } else {
            fprintf(stderr, "funk-runtime: unknown option '%s'\nTry 'funk-runtime --help'.\n", a);
            return RT_EXIT_USAGE;
        }
    }
    if (strcmp(logfmt, "json") != 0 && strcmp(logfmt, "text") != 0) {
        fprintf(stderr, "funk-runtime: --log-format: '%s' is not text or json\n", logfmt);
        return RT_EXIT_USAGE;
    }
    rt_log_open(log, strcmp(logfmt, "json") == 0, debug);
    if (i >= argc) {
        fprintf(stderr, "funk-runtime: missing command\n");
        return usage(stderr, RT_EXIT_USAGE);
    }
    const char *cmd = argv[i++];

    for (int k = i; k < argc && (strcmp(cmd, "features") == 0 || strcmp(cmd, "list") == 0 ||
                                 strcmp(cmd, "version") == 0);
         k++)
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
            return usage(stdout, 0);
    if (strcmp(cmd, "features") == 0)
        return do_features();
    if (strcmp(cmd, "list") == 0)
        return do_list();
    if (strcmp(cmd, "version") == 0) {
        printf("funk-runtime %s\nspec: %s\n", FUNK_VERSION, OCI_VERSION);
        return 0;
    }

    /* Commands on an existing container: ours when our state exists, else the delegate's
     * (checked before parsing, so the delegate's own options pass through untouched). */
    if (strcmp(cmd, "create") != 0 && strcmp(cmd, "run") != 0) {
        int ours = 0;
        for (int k = i; k < argc && strcmp(argv[k], "--") != 0; k++)
            if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
                return usage(stdout, 0);
        for (int k = i; k < argc && !ours; k++) {
            struct rt_state st = {0};
            if (argv[k][0] != '-' && valid_id(argv[k]) && state_load(argv[k], &st) != 0)
                ours = 1;
            json_decref(st.j);
        }
        if (!ours)
            return delegate();
    }

    struct create_opts co = {0};
    int force = 0, psjson = 0, create_like = strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0;
    const char *id = NULL, *extra = NULL;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (!id)
                id = a;
            else if (!extra)
                extra = a;
            else {
                rt_log(RT_ERROR, "%s: unexpected argument '%s'", cmd, a);
                return RT_EXIT_USAGE;
            }
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout, 0);
        if (create_like &&
            ((v = opt_value(argc, argv, &i, "--bundle")) || (v = opt_value(argc, argv, &i, "-b"))))
            co.bundle = v;
        else if (create_like && (v = opt_value(argc, argv, &i, "--pid-file")))
            co.pid_file = v;
        else if (create_like && (v = opt_value(argc, argv, &i, "--console-socket")))
            co.console_socket = v;
        else if (create_like && ((v = opt_value(argc, argv, &i, "--preserve-fds")) ||
                                 (v = opt_value(argc, argv, &i, "--notify-socket"))))
            ;
        else if (create_like && (is_flag(a, "--no-pivot") || is_flag(a, "--no-new-keyring") ||
                                 is_flag(a, "--no-subreaper") || is_flag(a, "--keep")))
            ;
        else if (strcmp(cmd, "run") == 0 && (strcmp(a, "--detach") == 0 || strcmp(a, "-d") == 0))
            co.detach = 1;
        else if (strcmp(cmd, "delete") == 0 && (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0))
            force = 1;
        else if (strcmp(cmd, "kill") == 0 && (strcmp(a, "--all") == 0 || strcmp(a, "-a") == 0))
            ;
        else if (strcmp(cmd, "ps") == 0 && (v = opt_value(argc, argv, &i, "--format")))
            psjson = strcmp(v, "json") == 0;
        else if (strcmp(cmd, "ps") == 0 && (v = opt_value(argc, argv, &i, "-f")))
            psjson = strcmp(v, "json") == 0;
        else if (create_like && !co.unknown)
            co.unknown = a;
        else {
            rt_log(RT_ERROR, "%s: unknown option '%s'", cmd, a);
            return RT_EXIT_USAGE;
        }
    }
    if (!id) {
        rt_log(RT_ERROR, "%s: missing container ID", cmd);
        return RT_EXIT_USAGE;
    }
    if (!valid_id(id)) {
        rt_log(RT_ERROR, "%s: invalid container ID '%s'", cmd, id);
        return RT_EXIT_USAGE;
    }

    if (strcmp(cmd, "create") == 0)
        return do_create(id, &co, NULL);
    if (strcmp(cmd, "run") == 0) {
        pid_t pid;
        int rc = do_create(id, &co, &pid);
        if (rc)
            return rc;
        if (do_start(id)) {
            do_delete(id, 1);
            return 1;
        }
        if (co.detach)
            return 0;
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        do_delete(id, 1);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }

    if (strcmp(cmd, "start") == 0)
        return do_start(id);
    if (strcmp(cmd, "state") == 0)
        return do_state(id);
    if (strcmp(cmd, "kill") == 0)
        return do_kill(id, extra);
    if (strcmp(cmd, "delete") == 0)
        return do_delete(id, force);
    if (strcmp(cmd, "ps") == 0)
        return do_ps(id, psjson);
    if (strcmp(cmd, "update") == 0) {
        rt_log(RT_WARN, "update: resources of a running unikernel are fixed; ignored for '%s'", id);
        return 0;
    }
    rt_log(RT_ERROR, "%s: not supported for unikernel container '%s'", cmd, id);
    return 1;
}
