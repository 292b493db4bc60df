/* SPDX-License-Identifier: Apache-2.0 */
/* Boot timer for bench/arm64/run.sh: posix_spawn -> exit of each command, interleaved. */
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

enum { MAXC = 8 };

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

/* One timed run with output to /dev/null; 0 when it did not exit 0. */
static uint64_t spawn_once(char **cmd, const posix_spawn_file_actions_t *fa)
{
    uint64_t t0 = now_ns();
    pid_t pid;
    int st;
    if (posix_spawn(&pid, cmd[0], fa, NULL, cmd, environ) != 0 || waitpid(pid, &st, 0) != pid)
        return 0;
    uint64_t t = now_ns() - t0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : 0;
}

/* N -- LABEL CMD... [-- LABEL CMD...]: each case once per round in rotating order, after one
 * untimed warm-up each. One line per case: LABEL N MIN_US MEDIAN_US P99_US ERRORS. */
int main(int argc, char **argv)
{
    char *end;
    unsigned long rounds = argc > 3 ? strtoul(argv[1], &end, 10) : 0;
    if (rounds == 0 || rounds > 1000000 || *end || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: funk-bench-spawn N -- LABEL CMD... [-- LABEL CMD...]\n");
        return 64;
    }
    const char *label[MAXC];
    char **cmd[MAXC];
    int nc = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") != 0)
            continue;
        argv[i] = NULL; /* ends the previous case's command */
        if (nc == MAXC || i + 2 >= argc || strcmp(argv[i + 2], "--") == 0) {
            fprintf(stderr,
                    "funk-bench-spawn: each case needs a label and a command (at most %d)\n", MAXC);
            return 64;
        }
        label[nc] = argv[i + 1];
        cmd[nc++] = argv + i + 2;
        i += 1;
    }
    uint64_t *t = calloc((size_t)nc * rounds, sizeof *t);
    size_t n[MAXC] = {0}, err[MAXC] = {0};
    if (!t)
        return 1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    for (int k = 0; k < nc; k++)
        if (!spawn_once(cmd[k], &fa))
            fprintf(stderr, "funk-bench-spawn: warm-up of %s failed\n", label[k]);
    for (size_t r = 0; r < rounds; r++)
        for (int j = 0; j < nc; j++) {
            int k = (int)((r + (size_t)j) % (size_t)nc);
            uint64_t v = spawn_once(cmd[k], &fa);
            if (v)
                t[(size_t)k * rounds + n[k]++] = v;
            else
                err[k]++;
        }
    for (int k = 0; k < nc; k++) {
        uint64_t *v = t + (size_t)k * rounds;
        if (!n[k]) {
            printf("%s 0 0 0 0 %zu\n", label[k], err[k]);
            continue;
        }
        qsort(v, n[k], sizeof *v, cmp_u64);
        size_t p99 = n[k] * 99 / 100;
        printf("%s %zu %.1f %.1f %.1f %zu\n", label[k], n[k], v[0] / 1e3, v[n[k] / 2] / 1e3,
               v[p99 < n[k] ? p99 : n[k] - 1] / 1e3, err[k]);
    }
    posix_spawn_file_actions_destroy(&fa);
    free(t);
    return 0;
}
