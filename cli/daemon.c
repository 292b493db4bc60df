/* SPDX-License-Identifier: Apache-2.0 */
/* funk daemon: starts funkd (in the foreground, or detached with -d and waits until it answers
 * /healthz at the address it listens on); what `funk up` did before `up` became faas-cli's
 * build + push + deploy. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"

static int healthy(const char *base)
{
    char url[4096];
    snprintf(url, sizeof url, "%s/healthz", base);
    long code;
    return cli_http_status(url, NULL, NULL, NULL, 1000L, &code) == CURLE_OK && code == 200;
}

/* mkdir -p with mode for the parts it creates. */
static int mkdirs(const char *path, mode_t mode)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return -ENAMETOOLONG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The value of funkd option `name` in argv (--name VALUE or --name=VALUE), or NULL. */
static const char *opt_value(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    const char *v = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], name, n) != 0)
            continue;
        if (argv[i][n] == '=')
            v = argv[i] + n + 1;
        else if (argv[i][n] == '\0' && i + 1 < argc)
            v = argv[++i];
    }
    return v;
}

/* funk daemon [-d] FUNKD-OPTIONS --help: funkd itself checks the options before --help (in its
 * getopt order, so a bad one fails with funkd's usage error), and its usage text (the options)
 * follows ours. A --help that funkd took as an option's value would start it: it is stopped
 * after a deadline and that is said. */
static int daemon_help(const char *funkd, int argc, char **argv, int first)
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        fprintf(stderr, "funk daemon: pipe: %s\n", strerror(errno));
        return 1;
    }
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return 1;
    int k = 0;
    args[k++] = (char *)funkd;
    for (int i = first; i < argc; i++)
        args[k++] = argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        execv(funkd, args);
        _exit(127);
    }
    free(args);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        fprintf(stderr, "funk daemon: fork: %s\n", strerror(errno));
        return 1;
    }
    char *out = NULL;
    size_t len = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int st = 0, done = 0;
    for (;;) { /* until EOF: funkd printed its usage and exited, or the deadline */
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left =
            10000 - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        if (left <= 0 || poll(&pf, 1, (int)left) == 0)
            break;
        char b[4096];
        ssize_t n = read(pfd[0], b, sizeof b);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            done = waitpid(pid, &st, 0) == pid;
            break;
        }
        char *p = realloc(out, len + (size_t)n + 1);
        if (!p)
            break;
        out = p;
        memcpy(out + len, b, (size_t)n);
        len += (size_t)n;
        out[len] = '\0';
    }
    close(pfd[0]);
    if (!done) {
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
        free(out);
        return funk_usage_error("funk daemon", "%s",
                                "funkd did not stop at --help: an option "
                                "before it took '--help' as its value");
    }
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (rc == 0)
        printf("usage: funk daemon [-d] [FUNKD OPTIONS]\n"
               "  starts funkd with FUNKD OPTIONS (below); -d: in the background, logging to\n"
               "  STATE_DIR/funkd-HOST-PORT.log (or $FUNK_LOG), until it answers /healthz.\n"
               "  `funk daemon -d` alone on a host run by systemd with the funkd.service unit\n"
               "  installed is `systemctl start funkd.service` (then the same wait).\n"
               "  Without --listen funkd listens where the gateway URL points. FUNKD: the funkd\n"
               "  binary to run (default: the one next to funk).\n\n%s",
               out ? out : "");
    free(out);
    return rc;
}

extern char **environ;

/* Waits up to 20 s for /healthz at base. pid > 0: the funkd we started, whose early exit ends
 * the wait (its exit code in *code, -1 otherwise). 1 when it answers, else 0. */
static int wait_healthy(const char *base, pid_t pid, int *code)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    *code = -1;
    for (;;) {
        if (healthy(base))
            return 1;
        int st;
        if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
            *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 20)
            return 0;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Runs `systemctl ARGS...` (found on PATH), output discarded; its exit status or -1. */
static int systemctl(const char *a1, const char *a2, const char *a3)
{
    char *args[] = {"systemctl", (char *)a1, (char *)a2, (char *)a3, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "systemctl", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* With systemd as PID 1 (its runtime dir exists; FUNK_SYSTEMD_RUNTIME_DIR names another, for
 * tests) and a funkd.service it knows (the installed unit, docs/install.md), the service is
 * what runs funkd: `systemctl start funkd.service`, then wait for /healthz at base. 1 when
 * that path does not apply (no systemd, no unit), else the command's exit status. */
static int start_service(const char *base)
{
    const char *dir = getenv("FUNK_SYSTEMD_RUNTIME_DIR");
    struct stat st;
    if (stat(dir && *dir ? dir : "/run/systemd/system", &st) != 0 || !S_ISDIR(st.st_mode))
        return 1;
    if (systemctl("cat", "funkd.service", NULL) != 0)
        return 1;
    if (systemctl("start", "funkd.service", NULL) != 0) {
        fprintf(stderr, "funk daemon: systemctl start funkd.service failed (journalctl -u "
                        "funkd.service says why)\n");
        return -1;
    }
    int code;
    if (wait_healthy(base, 0, &code)) {
        printf("funkd is up at %s (systemd service funkd.service; journalctl -u funkd)\n", base);
        return 0;
    }
    fprintf(stderr, "funk daemon: funkd.service started but nothing answers at %s within 20 s "
                    "(its FUNKD_ARGS in /etc/default/funkd may listen elsewhere)\n", base);
    return -1;
}

int cmd_daemon(int argc, char **argv)
{
    int detach = argc > 1 && strcmp(argv[1], "-d") == 0;
    int help = 0;
    for (int i = 1 + detach; i < argc && !help; i++)
        help = strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0;
    char exe[PATH_MAX], funkd[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "funk daemon: cannot find my own binary\n");
        return 1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    const char *env = getenv("FUNKD");
    /* installed: next to funk; in a build tree: BUILD/gateway/funkd beside BUILD/cli/funk */
    snprintf(funkd, sizeof funkd, "%s/funkd", exe);
    if (access(funkd, X_OK) != 0)
        snprintf(funkd, sizeof funkd, "%s/../gateway/funkd", exe);
    if (env && *env)
        snprintf(funkd, sizeof funkd, "%s", env);
    if (access(funkd, X_OK) != 0) {
        fprintf(stderr, "funk daemon: %s not found (build funk first: make)\n", funkd);
        return 1;
    }
    if (help)
        return daemon_help(funkd, argc, argv, 1 + detach);
    /* Where funkd will listen: --listen when given (and then that is where we wait for it),
     * else the host:port of the gateway URL. */
    const char *gateway = cli_gateway_get();
    const char *listen_opt = opt_value(argc, argv, "--listen");
    char listen[512] = "", base[600];
    if (listen_opt) {
        snprintf(listen, sizeof listen, "%s", listen_opt);
    } else {
        const char *hp = strstr(gateway, "://");
        snprintf(listen, sizeof listen, "%s", hp ? hp + 3 : gateway);
        listen[strcspn(listen, "/")] = '\0';
        if (!strchr(listen, ':'))
            snprintf(listen + strlen(listen), sizeof listen - strlen(listen), ":80");
    }
    /* funkd bound to every address is reached on loopback */
    snprintf(base, sizeof base, "http://%s%s",
             strncmp(listen, "0.0.0.0:", 8) == 0 ? "127.0.0.1" : "",
             strncmp(listen, "0.0.0.0:", 8) == 0 ? listen + 7 : listen);
    if (healthy(base)) {
        fprintf(stderr, "funk daemon: funkd already answers at %s\n", base);
        return detach ? 0 : 1;
    }
    /* `funk daemon -d` alone, where the service is installed: let systemd run it (with its
     * sandbox and restarts); options for funkd mean a funkd of the user's own, started here */
    if (detach && argc == 2 && !(env && *env)) {
        int s = start_service(base);
        if (s <= 0)
            return s == 0 ? 0 : 1;
    }
    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!args)
        return 1;
    int k = 0;
    args[k++] = funkd;
    for (int i = 1 + detach; i < argc; i++)
        args[k++] = argv[i];
    if (!listen_opt) {
        args[k++] = "--listen";
        args[k++] = listen;
    }
    args[k] = NULL;
    if (!detach) {
        execv(funkd, args);
        fprintf(stderr, "funk daemon: cannot run %s: %s\n", funkd, strerror(errno));
        free(args);
        return 1;
    }
    /* Detached: funkd's log goes to a file so that callers waiting on our output are not held;
     * one file per listen address, in funkd's own state dir (two funkds never share one). */
    char logpath[PATH_MAX + 600];
    const char *lp = getenv("FUNK_LOG");
    if (lp && *lp) {
        snprintf(logpath, sizeof logpath, "%s", lp);
    } else {
        const char *state = opt_value(argc, argv, "--state-dir");
        if (!state || !*state)
            state = getenv("FUNK_STATE_DIR");
        if (!state || !*state)
            state = "funk-state"; /* funkd's own default */
        int r = mkdirs(state, 0700);
        if (r < 0) {
            fprintf(stderr, "funk daemon: cannot create %s: %s\n", state, strerror(-r));
            free(args);
            return 1;
        }
        char tag[512];
        snprintf(tag, sizeof tag, "%s", listen);
        for (char *c = tag; *c; c++)
            if (*c == ':' || *c == '/')
                *c = '-';
        snprintf(logpath, sizeof logpath, "%s/funkd-%s.log", state, tag);
    }
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (logfd < 0) {
        fprintf(stderr, "funk daemon: cannot open %s: %s\n", logpath, strerror(errno));
        free(args);
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execv(funkd, args);
        _exit(127);
    }
    close(logfd);
    free(args);
    if (pid < 0) {
        fprintf(stderr, "funk daemon: fork: %s\n", strerror(errno));
        return 1;
    }
    int code;
    if (wait_healthy(base, pid, &code)) {
        printf("funkd is up at %s (pid %d, log %s)\n", base, (int)pid, logpath);
        return 0;
    }
    if (code >= 0) {
        fprintf(stderr, "funk daemon: funkd exited (status %d%s) before answering; log %s\n", code,
                code == CLI_EXIT_USAGE ? ": a usage error" : "", logpath);
        return code == CLI_EXIT_USAGE ? CLI_EXIT_USAGE : 1;
    }
    fprintf(stderr, "funk daemon: funkd (pid %d) did not answer at %s within 20 s; log %s\n",
            (int)pid, base, logpath);
    return 1;
}
