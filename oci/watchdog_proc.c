/* SPDX-License-Identifier: Apache-2.0 */
/* funk-watchdog: runs the function process for one request: body on stdin, stdout streamed to
 * a sink, stderr captured, exec timeout enforced on the whole process group. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "watchdog.h"

#define ERR_CAP (64 * 1024)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int wd_run_process(char *const argv[], char *const env[], const char *body, size_t body_len,
                   wd_output_fn out, void *opaque, uint64_t timeout_ms, int echo_stderr,
                   struct wd_proc_result *res)
{
    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    pid_t pid;
    memset(res, 0, sizeof *res);
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
        res->spawn_error = errno;
        goto fail;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    posix_spawnattr_init(&at);
    /* Own process group, so a timeout ends the function and anything it started. */
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    posix_spawnattr_setsigdefault(&at, &def);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        res->spawn_error = rc;
        goto fail;
    }
    close(in[0]);
    close(o[1]);
    close(e[1]);
    in[0] = o[1] = e[1] = -1;
    fcntl(in[1], F_SETFL, O_NONBLOCK);

    uint64_t deadline = timeout_ms ? now_ms() + timeout_ms : 0;
    size_t sent = 0;
    int out_open = 1, err_open = 1, sink_ok = 1;
    if (body_len == 0) {
        close(in[1]);
        in[1] = -1;
    }
    char buf[65536];
    while (out_open || err_open) {
        struct pollfd p[3];
        int np = 0, io = -1, ie = -1, ii = -1;
        if (out_open) {
            p[np] = (struct pollfd){.fd = o[0], .events = POLLIN};
            io = np++;
        }
        if (err_open) {
            p[np] = (struct pollfd){.fd = e[0], .events = POLLIN};
            ie = np++;
        }
        if (in[1] >= 0) {
            p[np] = (struct pollfd){.fd = in[1], .events = POLLOUT};
            ii = np++;
        }
        int wait = -1;
        if (deadline) {
            uint64_t t = now_ms();
            if (t >= deadline) {
                res->timed_out = 1;
                break;
            }
            wait = (int)(deadline - t);
        }
        int n = poll(p, (nfds_t)np, wait);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (n == 0)
            continue;
        if (ii >= 0 && p[ii].revents) {
            ssize_t w = write(in[1], body + sent, body_len - sent);
            if (w > 0)
                sent += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == body_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (io >= 0 && p[io].revents) {
            ssize_t r = read(o[0], buf, sizeof buf);
            if (r > 0 && sink_ok && out(opaque, buf, (size_t)r) < 0) {
                /* Nobody takes the output any more (client gone or stalled past write_timeout,
                 * or over the size cap): end the process group now, not at exec_timeout. */
                sink_ok = 0;
                res->sink_failed = 1;
                kill(-pid, SIGKILL);
            }
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                out_open = 0;
        }
        if (ie >= 0 && p[ie].revents) {
            ssize_t r = read(e[0], buf, sizeof buf);
            if (r > 0) {
                if (echo_stderr && write(2, buf, (size_t)r) < 0)
                    echo_stderr = 0;
                size_t keep =
                    res->err_len + (size_t)r > ERR_CAP ? ERR_CAP - res->err_len : (size_t)r;
                if (keep) {
                    char *ne = realloc(res->err, res->err_len + keep + 1);
                    if (ne) {
                        res->err = ne;
                        memcpy(res->err + res->err_len, buf, keep);
                        res->err_len += keep;
                        res->err[res->err_len] = '\0';
                    }
                }
            }
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                err_open = 0;
        }
    }
    if (res->timed_out)
        kill(-pid, SIGKILL);
    int st = 0, pidfd = -1;
    for (;;) {
        pid_t w;
        if (!res->timed_out && deadline) {
            /* Output closed but the process may linger: keep honouring the deadline. */
            w = waitpid(pid, &st, WNOHANG);
            if (w == 0) {
                uint64_t t = now_ms();
                if (t >= deadline) {
                    res->timed_out = 1;
                    kill(-pid, SIGKILL);
                    continue;
                }
                /* wait for the exit itself (a pidfd turns readable), up to the deadline: a
                 * 1 ms sleep-and-poll here added a millisecond to every request */
                if (pidfd < 0)
                    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                if (pidfd >= 0) {
                    struct pollfd pp = {.fd = pidfd, .events = POLLIN};
                    uint64_t left = deadline - t;
                    poll(&pp, 1, left > 1000000 ? 1000000 : (int)left);
                } else {
                    struct timespec d = {0, 1000000}; /* no pidfd_open (Linux < 5.3) */
                    nanosleep(&d, NULL);
                }
                continue;
            }
        } else {
            w = waitpid(pid, &st, 0);
        }
        if (w == pid || (w < 0 && errno != EINTR))
            break;
    }
    if (pidfd >= 0)
        close(pidfd);
    res->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    close(o[0]);
    close(e[0]);
    if (in[1] >= 0)
        close(in[1]);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (o[i] >= 0)
            close(o[i]);
        if (e[i] >= 0)
            close(e[i]);
    }
    return -res->spawn_error;
}
