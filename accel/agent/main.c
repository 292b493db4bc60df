/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel-agent: serves libfunk-accel to remote callers (rpc plugin, monitor) over unix,
 * vsock and TCP sockets; options, listeners, accept loop and clean shutdown on SIGTERM. */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTEN 8
#define EXIT_USAGE 64 /* sysexits EX_USAGE: the exit code of a usage error in every funk binary */

struct agent_limits agent_limits = {
    .max_frame = FKP_MAX_FRAME_DEFAULT,
    .max_sessions = 64,
    .max_resources = 1024,
    .max_clients = 1024,
    .cache_max = 4ull << 30,
    .frame_timeout_ms = 10000,
};

atomic_ullong agent_n_conns, agent_n_conns_total, agent_n_sessions, agent_n_regs, agent_n_frames,
    agent_n_bad_frames;

static const char usage_text[] =
    "usage: funk-accel-agent [OPTIONS]\n"
    "  --listen ADDR        unix:///path | vsock://CID:PORT | tcp://HOST:PORT (repeatable;\n"
    "                       default unix:///run/funk/accel.sock, or the sockets systemd\n"
    "                       passes in LISTEN_FDS when started by a socket unit)\n"
    "  --plugins LIST       plugins to serve (default: FUNK_ACCEL_PLUGINS, else cpu:exec)\n"
    "  --max-frame BYTES    largest frame payload accepted (default 268435456)\n"
    "  --max-sessions N     sessions per connection (default 64)\n"
    "  --max-resources N    resource registrations per connection (default 1024)\n"
    "  --max-clients N      connections at once (default 1024)\n"
    "  --cache-max BYTES    bytes of resources cached by hash (default 4 GiB)\n"
    "  --frame-timeout MS   time for the rest of a started frame (default 10000)\n"
    "  --exec-dir DIR       the operator's exec libraries: exec runs a LIBRARY resource only when\n"
    "                       its bytes are a file's here (default FUNK_ACCEL_EXEC_DIR, else\n"
    "                       <prefix>/lib/funk/exec)\n"
    "  --connections-fd FD  serve no listener: FD is a unix SOCK_SEQPACKET socket on which the\n"
    "                       parent (funk-monitor, funkd: a private agent) sends each new\n"
    "                       connection as one fd in SCM_RIGHTS with one byte; the agent ends\n"
    "                       when FD reads end of file and with its parent (PR_SET_PDEATHSIG)\n"
    "  --user UID:GID       after binding the sockets, drop to this unprivileged uid/gid\n"
    "  --no-seccomp         skip the seccomp filter loaded after plugin init (default: loaded)\n"
    "  -h, --help           this text;  --version  the version\n"
    "Options take their value as --OPTION VALUE or --OPTION=VALUE. Exit status: 0 after SIGTERM/SIGINT,\n"
    "1 on a runtime error, 64 on a usage error.\n"
    "environment: FUNK_ACCEL_LOG_LEVEL (info logs connections), FUNK_ACCEL_PLUGIN_PATH,\n"
    "             FUNK_ACCEL_EXEC_DIR\n";

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(sig_pipe[1], &b, 1);
    (void)n;
    errno = saved;
}

static bool parse_num(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "tcp:%s:%u", ip, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "tcp:[%s]:%u", ip, ntohs(in6->sin6_port));
    } else if (ss->ss_family == AF_VSOCK) {
        const struct sockaddr_vm *vm = (const struct sockaddr_vm *)ss;
        snprintf(out, len, "vsock:%u:%u", vm->svm_cid, vm->svm_port);
    } else {
        snprintf(out, len, "unix");
    }
}

/* Sockets passed by systemd socket activation (sd_listen_fds(3) protocol): LISTEN_PID must be
 * us, LISTEN_FDS the count starting at fd 3. Each must be a listening stream socket. Returns the
 * count (0: none passed), or -1 after saying why. The variables are removed so children do not
 * see them. */
static int inherited_listeners(int *fds, int max)
{
    const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
    unsigned long long p, n;
    if (pid == NULL || nfds == NULL || !parse_num(pid, 1, INT_MAX, &p) || (pid_t)p != getpid())
        return 0;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!parse_num(nfds, 0, (unsigned long long)max, &n)) {
        fprintf(stderr, "funk-accel-agent: LISTEN_FDS=%s: at most %d sockets\n", nfds, max);
        return -1;
    }
    for (int i = 0; i < (int)n; i++) {
        int fd = 3 + i, type = 0, acc = 0;
        socklen_t l = sizeof(type), la = sizeof(acc);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &la) < 0 || type != SOCK_STREAM ||
            !acc) {
            fprintf(stderr, "funk-accel-agent: inherited fd %d is not a listening stream socket\n",
                    fd);
            return -1;
        }
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
            return -1;
        fds[i] = fd;
    }
    return (int)n;
}

/* --connections-fd: FD must be a unix SOCK_SEQPACKET socket; the agent dies with its parent.
 * 0, or -1 after saying why. */
static int private_parent(int fd)
{
    int type = 0;
    socklen_t l = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_SEQPACKET) {
        fprintf(stderr, "funk-accel-agent: --connections-fd %d is not a SOCK_SEQPACKET socket\n",
                fd);
        return -1;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        perror("funk-accel-agent: --connections-fd");
        return -1;
    }
    return 0;
}

/* One message from the parent on --connections-fd: one byte and one connected unix stream
 * socket, served like an accepted connection. Anything else is dropped (its fds closed).
 * Returns -1 at end of file or on an error of the socket itself, else 0. */
static int private_conn(int fd)
{
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        return -1;
    int fds[4], nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && nfds < 4; i++)
            memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    int type = 0, domain = 0;
    socklen_t l = sizeof(type), ld = sizeof(domain);
    bool ok = n == 1 && nfds == 1 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
              getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_STREAM &&
              getsockopt(fds[0], SOL_SOCKET, SO_DOMAIN, &domain, &ld) == 0 && domain == AF_UNIX;
    if (!ok) {
        agent_warn("--connections-fd: dropped a message that is not one byte and one unix "
                   "stream socket");
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return 0;
    }
    int crc = conn_start(fds[0], "private");
    if (crc < 0) {
        agent_warn("refusing a private connection: %s", strerror(-crc));
        struct fkp_buf b = {0};
        if (fkp_enc_error(&b, 0, 0, crc) == 0)
            fkp_write_all(fds[0], b.p, b.len, 100);
        fkp_buf_free(&b);
        close(fds[0]);
    }
    return 0;
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "funk-accel-agent: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry 'funk-accel-agent --help'.\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *listen_addr[MAX_LISTEN];
    int n_listen = 0;
    const char *plugins = NULL;
    bool drop = false, filter = true;
    int conn_fd = -1; /* --connections-fd */
    uid_t uid = 0;
    gid_t gid = 0;
    enum { O_LISTEN = 256, O_PLUGINS, O_MAX_FRAME, O_MAX_SESSIONS, O_MAX_RESOURCES,
           O_MAX_CLIENTS, O_CACHE_MAX, O_FRAME_TIMEOUT, O_EXEC_DIR, O_USER, O_NO_SECCOMP,
           O_VERSION, O_CONN_FD };
    static const struct option opts[] = {
        {"listen", required_argument, 0, O_LISTEN},
        {"plugins", required_argument, 0, O_PLUGINS},
        {"max-frame", required_argument, 0, O_MAX_FRAME},
        {"max-sessions", required_argument, 0, O_MAX_SESSIONS},
        {"max-resources", required_argument, 0, O_MAX_RESOURCES},
        {"max-clients", required_argument, 0, O_MAX_CLIENTS},
        {"cache-max", required_argument, 0, O_CACHE_MAX},
        {"frame-timeout", required_argument, 0, O_FRAME_TIMEOUT},
        {"exec-dir", required_argument, 0, O_EXEC_DIR},
        {"user", required_argument, 0, O_USER},
        {"connections-fd", required_argument, 0, O_CONN_FD},
        {"no-seccomp", no_argument, 0, O_NO_SECCOMP},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *v = optarg;
        const char *name = argv[optind - 1];
        unsigned long long n;
        int ok = 1;
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case O_VERSION:
            printf("funk-accel-agent %s\n", FUNK_VERSION);
            return 0;
        case O_NO_SECCOMP:
            filter = false;
            break;
        case O_LISTEN:
            if (n_listen == MAX_LISTEN)
                return usage_error("at most 8 --listen addresses%s%s", "", "");
            listen_addr[n_listen++] = v;
            break;
        case O_PLUGINS:
            plugins = v;
            break;
        case O_CONN_FD:
            if ((ok = parse_num(v, 3, INT_MAX, &n)))
                conn_fd = (int)n;
            break;
        case O_USER:
            ok = agent_parse_user(v, &uid, &gid) == 0;
            drop = ok;
            break;
        case O_EXEC_DIR:
            /* The runtime reads it where exec looks a library up. */
            ok = *v == '/';
            if (ok)
                setenv("FUNK_ACCEL_EXEC_DIR", v, 1);
            break;
        case O_MAX_FRAME:
            if ((ok = parse_num(v, 64, FKP_MAX_FRAME_LIMIT, &n)))
                agent_limits.max_frame = (uint32_t)n;
            break;
        case O_MAX_SESSIONS:
            if ((ok = parse_num(v, 1, 1u << 20, &n)))
                agent_limits.max_sessions = (uint32_t)n;
            break;
        case O_MAX_RESOURCES:
            if ((ok = parse_num(v, 1, 1u << 20, &n)))
                agent_limits.max_resources = (uint32_t)n;
            break;
        case O_MAX_CLIENTS:
            if ((ok = parse_num(v, 1, 1u << 16, &n)))
                agent_limits.max_clients = (uint32_t)n;
            break;
        case O_CACHE_MAX:
            if ((ok = parse_num(v, 1, ULLONG_MAX, &n)))
                agent_limits.cache_max = n;
            break;
        case O_FRAME_TIMEOUT:
            if ((ok = parse_num(v, 1, INT_MAX, &n)))
                agent_limits.frame_timeout_ms = (int)n;
            break;
        case ':':
            return usage_error("option '%s' needs a value%s", argv[optind - 1], "");
        default:
            if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0 &&
                strchr(argv[optind - 1], '='))
                return usage_error("option '%s' takes no value%s", argv[optind - 1], "");
            return usage_error("unknown option '%s'%s", argv[optind - 1], "");
        }
        if (!ok) {
            /* name is "--opt=value" or the value itself after "--opt" */
            return usage_error("bad value '%s' for %s", v,
                               strncmp(name, "--", 2) == 0 ? name : argv[optind - 2]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'%s", argv[optind], "");

    int inherited[MAX_LISTEN];
    int n_inherited = inherited_listeners(inherited, MAX_LISTEN);
    if (n_inherited < 0)
        return 1;
    if (n_inherited > 0 && n_listen > 0)
        return usage_error("--listen %s given, but systemd passed %s sockets (LISTEN_FDS)",
                           listen_addr[0], "its");
    if (conn_fd >= 0 && (n_listen > 0 || n_inherited > 0))
        return usage_error("--connections-fd serves no listener: not with --listen or "
                           "LISTEN_FDS%s%s", "", "");
    if (conn_fd >= 0 && private_parent(conn_fd) < 0)
        return 1;
    if (n_listen == 0 && n_inherited == 0 && conn_fd < 0)
        listen_addr[n_listen++] = "unix:///run/funk/accel.sock";

    struct fkp_addr addrs[MAX_LISTEN];
    for (int i = 0; i < n_listen; i++) {
        const char *why = NULL;
        if (fkp_addr_parse(listen_addr[i], &addrs[i], &why) < 0) {
            fprintf(stderr, "funk-accel-agent: bad address '%s': %s\n", listen_addr[i], why);
            return EXIT_USAGE;
        }
    }

    /* The agent must not serve through itself. */
    if (plugins == NULL)
        plugins = getenv("FUNK_ACCEL_PLUGINS");
    if (plugins && (strstr(plugins, "rpc") != NULL)) {
        fprintf(stderr, "funk-accel-agent: refusing to load the rpc plugin (it would call "
                        "itself)\n");
        return EXIT_USAGE;
    }
    int rc = funk_accel_init(plugins);
    if (rc < 0) {
        fprintf(stderr, "funk-accel-agent: loading plugins: %s\n", funk_accel_strerror(rc));
        return 1;
    }

    if (pipe2(sig_pipe, O_CLOEXEC) < 0) {
        perror("funk-accel-agent: pipe");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct pollfd pfd[MAX_LISTEN + 1];
    /* Socket activation: systemd owns the sockets (and their paths); serve them as they are. */
    static char inherited_name[MAX_LISTEN][32];
    for (int i = 0; i < n_inherited; i++) {
        snprintf(inherited_name[i], sizeof inherited_name[i], "systemd socket fd %d", inherited[i]);
        listen_addr[i] = inherited_name[i];
        addrs[i].family = 0; /* not ours to unlink */
        pfd[i] = (struct pollfd){.fd = inherited[i], .events = POLLIN};
        funk_accel_log(FUNK_LOG_WARN, AGENT_LOG, "listening on %s", listen_addr[i]);
    }
    if (n_inherited > 0)
        n_listen = n_inherited;
    for (int i = n_inherited; i < n_listen; i++) {
        int fd = fkp_listen(&addrs[i], 128);
        if (fd < 0) {
            fprintf(stderr, "funk-accel-agent: listen %s: %s\n", listen_addr[i], strerror(-fd));
            for (int j = 0; j < i; j++)
                close(pfd[j].fd);
            funk_accel_fini();
            return 1;
        }
        pfd[i] = (struct pollfd){.fd = fd, .events = POLLIN};
        funk_accel_log(FUNK_LOG_WARN, AGENT_LOG, "listening on %s", listen_addr[i]);
    }
    if (conn_fd >= 0)
        pfd[n_listen++] = (struct pollfd){.fd = conn_fd, .events = POLLIN};
    pfd[n_listen] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};

    /* Sockets bound and plugins initialised (devices opened, models found): from here on the
     * agent needs neither root nor the calls the filter refuses. (A credential change clears
     * the parent-death signal: a private agent sets it again.) */
    if ((drop && agent_drop_user(uid, gid) < 0) ||
        (drop && conn_fd >= 0 && private_parent(conn_fd) < 0) ||
        (filter && agent_seccomp() < 0)) {
        for (int i = 0; i < n_listen; i++)
            close(pfd[i].fd);
        funk_accel_fini();
        return 1;
    }

    int sig = 0; /* -1: a private agent's parent went away */
    while (sig == 0) {
        if (poll(pfd, (nfds_t)n_listen + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            agent_err("poll: %s", strerror(errno));
            break;
        }
        if (pfd[n_listen].revents) {
            unsigned char b = 0;
            if (read(sig_pipe[0], &b, 1) == 1)
                sig = b;
            break;
        }
        for (int i = 0; i < n_listen; i++) {
            if (pfd[i].fd == conn_fd && pfd[i].revents) {
                if (private_conn(conn_fd) < 0) {
                    sig = -1; /* the parent is gone: so are we */
                    break;
                }
                continue;
            }
            if (!(pfd[i].revents & POLLIN))
                continue;
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            int fd = accept4(pfd[i].fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                    agent_warn("accept on %s: %s", listen_addr[i], strerror(errno));
                if (errno == EMFILE || errno == ENFILE)
                    usleep(10000); /* let connections close */
                continue;
            }
            char peer[64];
            peer_name(&ss, peer, sizeof(peer));
            int crc = conn_start(fd, peer);
            if (crc < 0) {
                agent_warn("refusing connection from %s: %s", peer, strerror(-crc));
                struct fkp_buf b = {0};
                if (fkp_enc_error(&b, 0, 0, crc) == 0)
                    fkp_write_all(fd, b.p, b.len, 100);
                fkp_buf_free(&b);
                close(fd);
            }
        }
    }

    if (sig < 0)
        funk_accel_log(FUNK_LOG_INFO, AGENT_LOG, "parent gone: shutting down");
    else
        funk_accel_log(FUNK_LOG_WARN, AGENT_LOG, "signal %d: shutting down", sig);
    for (int i = 0; i < n_listen; i++) {
        close(pfd[i].fd);
        if (pfd[i].fd != conn_fd && addrs[i].family == AF_UNIX)
            unlink(((struct sockaddr_un *)addrs[i].sa)->sun_path);
    }
    conn_stop_all();
    cache_clear();
    funk_accel_fini();
    funk_accel_log(conn_fd >= 0 ? FUNK_LOG_INFO : FUNK_LOG_WARN, AGENT_LOG,
                   "stopped: %llu connections served, %llu frames, %llu refused as malformed",
                   (unsigned long long)atomic_load(&agent_n_conns_total),
                   (unsigned long long)atomic_load(&agent_n_frames),
                   (unsigned long long)atomic_load(&agent_n_bad_frames));
    return 0;
}
