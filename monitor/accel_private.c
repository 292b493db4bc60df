/* SPDX-License-Identifier: Apache-2.0 */
/* The private funk-accel-agent (accel_private.h): spawned on first use, one connection a guest. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accel_private.h"
#include "fdpass.h"

#ifndef FUNK_ACCEL_AGENT_PATH
#define FUNK_ACCEL_AGENT_PATH "/usr/local/bin/funk-accel-agent"
#endif
#define AGENT_CTL_FD 3
#define AGENT_ENV_MAX 64

static pthread_mutex_t amu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t acv = PTHREAD_COND_INITIALIZER;
static int actl = -1; /* the SOCK_SEQPACKET socket whose peer is the agent's fd 3 */
static pid_t aowner;  /* the process that started it (a fork must start its own) */
static int astate;    /* 0 none, 1 starting, 2 up, <0 -errno of the last start */

/* Only what plugins read: the library user's other variables (a password, a token) stay here. */
static bool env_for_agent(const char *e)
{
    static const char *const prefixes[] = {
        "FUNK_ACCEL_", "FUNK_MODEL_DIR=", "LD_LIBRARY_PATH=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
        "LSAN_OPTIONS=", "OMP_", "OPENBLAS_", "GOTO_", "CUDA_", "OCL_", "POCL_", "HOME=",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* Where the agent binary is (see accel_private.h); 0 or -ENOENT. */
static int agent_path(char *out, size_t len)
{
    const char *env = getenv("FUNK_ACCEL_AGENT");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"funk-accel-agent", "../accel/agent/funk-accel-agent",
                                              "../../accel/agent/funk-accel-agent"};
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                if ((size_t)snprintf(out, len, "%s/%s", exe, rel[i]) < len &&
                    access(out, X_OK) == 0)
                    return 0;
            }
        }
    }
    snprintf(out, len, "%s", FUNK_ACCEL_AGENT_PATH);
    return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

static int spawn_agent(int ctl_child)
{
    char path[PATH_MAX];
    int rc = agent_path(path, sizeof path);
    if (rc)
        return rc;
    extern char **environ;
    char *envp[AGENT_ENV_MAX + 1];
    size_t ne = 0;
    for (char **e = environ; e && *e && ne < AGENT_ENV_MAX; e++)
        if (env_for_agent(*e))
            envp[ne++] = *e;
    envp[ne] = NULL;
    /* Root drops to nobody (the agent checks that it cannot regain root); others already are
     * an unprivileged user. */
    char *argv[] = {"funk-accel-agent", "--connections-fd", "3", NULL, NULL, NULL};
    if (geteuid() == 0) {
        argv[3] = "--user";
        argv[4] = "65534:65534";
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, ctl_child, AGENT_CTL_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, AGENT_CTL_FD + 1);
    pid_t pid;
    rc = -posix_spawn(&pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* The agent's parent: spawns it, then waits forever, so that its PR_SET_PDEATHSIG (set by the
 * agent itself) fires only when this process ends. The agent is reaped by whoever reaps this
 * process's children; it ends when its fd 3 reads end of file. */
static void *agent_parent(void *arg)
{
    (void)arg;
    int sv[2];
    int rc = 0;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        rc = -errno;
    if (rc == 0) {
        rc = spawn_agent(sv[1]);
        close(sv[1]);
        if (rc)
            close(sv[0]);
    }
    pthread_mutex_lock(&amu);
    if (rc == 0) {
        actl = sv[0];
        aowner = getpid();
        astate = 2;
    } else {
        astate = rc;
    }
    pthread_cond_broadcast(&acv);
    pthread_mutex_unlock(&amu);
    if (rc)
        return NULL;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;)
        pause();
}

/* The control socket, starting the agent when there is none (or it went away). */
static int agent_ctl(void)
{
    if (astate == 2 && aowner != getpid()) {
        astate = 0; /* we are a fork of the process that started it */
        actl = -1;
    }
    if (astate <= 0) {
        astate = 1;
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 << 10);
        int rc = pthread_create(&t, &a, agent_parent, NULL);
        pthread_attr_destroy(&a);
        if (rc) {
            astate = 0;
            return -rc;
        }
    }
    while (astate == 1)
        pthread_cond_wait(&acv, &amu);
    return astate == 2 ? actl : astate;
}

int accel_private_connect(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pthread_mutex_lock(&amu);
    int rc = agent_ctl();
    if (rc >= 0) {
        char one = 'c';
        if (fdpass_send(rc, &one, 1, &sv[1], 1) != 1) {
            rc = errno == EPIPE || errno == ECONNRESET ? -ECONNRESET : -errno;
            /* The agent is gone: the next guest starts a new one. */
            close(actl);
            actl = -1;
            astate = 0;
        }
    }
    pthread_mutex_unlock(&amu);
    close(sv[1]);
    if (rc < 0) {
        close(sv[0]);
        return rc;
    }
    return sv[0];
}
