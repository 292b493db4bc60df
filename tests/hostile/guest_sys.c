/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile guest: makes one raw system call the sandbox must refuse (process backend: SIGSYS,
 * exit 78; KVM: the instruction never reaches the host, a guest fault).
 *   sys NR [ARGS...]  the raw call with up to 6 arguments (strtoull base 0; AFD: the fd of the
 *                     ACCEL agent connection under the process backend)
 *   shadow            open("/etc/shadow")          prlimit   prlimit64(1, RLIMIT_NOFILE, new)
 *   setown            fcntl(3, F_SETOWN, 1)         setsig    fcntl(3, F_SETSIG, SIGKILL)
 *   async             fcntl(3, F_SETFL, O_ASYNC)    clone     clone(SIGCHLD)
 *   write0, write1    write(0|1, "x", 1)            int80     int $0x80 (32-bit ABI)
 *   rlimit-up RES     prlimit64(0, RES, {inf, inf}) setrlimit-up RES  setrlimit(RES, {inf, inf})
 *   threads           clone a spinning thread (CLONE_THREAD|CLONE_VM), then spin: only the
 *                     wall-clock timeout ends it, and it must end every thread
 * Prints "sys: allowed <ret>" and exits 3 if the call came back with success, "sys: failed
 * <-ret>" and exits 4 if it came back with an error (a filter let it through; the kernel said
 * no). Built twice: hostile_sys.elf and hostile_sys_accel.elf, which carries the accel note
 * (the note widened the process filter before issue 11); it also takes a first argument
 * "live": one ACCEL noop round trip ("sys: accel live", or "sys: accel dead" and exit 5), then
 * the call named by the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <funk/guest.h>

#include "hostile_sys.h"

static const char shadow[] = "/etc/shadow";
static uint64_t lim[2] = {1, 1};
static uint64_t unlimited[2] = {~0ull, ~0ull};
static uint8_t thread_stack[16384] __attribute__((aligned(16)));

#ifdef HOSTILE_ACCEL
#include <funk/accel.h>
#endif

/* The process backend's ACCEL agent socket: the first fd after the manifest's devices
 * (monitor/chan.h), i.e. 4 + the manifest's entries (Solo5's reserved entry 0 included). */
static long accel_fd(void)
{
    const struct mft *mft = funk_boot_info()->mft;
    return 4 + (long)(mft ? mft->entries : 0);
}

int main(int argc, char **argv)
{
#ifdef HOSTILE_ACCEL
    if (argc > 99)
        return (int)funk_accel_version(); /* links the accel note */
    if (argc >= 2 && strcmp(argv[1], "live") == 0) {
        /* ACCEL works first (the agent connection is open and its rules are in the filter),
         * then the attack in the remaining arguments runs under that same filter. */
        funk_accel_session *s = NULL;
        if (funk_accel_session_new(&s) != 0 || funk_accel_noop(s) != 0) {
            HOSTILE_SAY("sys: accel dead\n");
            return 5;
        }
        HOSTILE_SAY("sys: accel live\n");
        argc--;
        argv++;
    }
#endif
    if (argc < 2) {
        HOSTILE_SAY("sys: usage\n");
        return 2;
    }
    const char *m = argv[1];
    long r = 0;
    if (strcmp(m, "sys") == 0 && argc >= 3) {
        long a[6] = {0, 0, 0, 0, 0, 0};
        for (int i = 0; i < 6 && 3 + i < argc; i++)
            a[i] = strcmp(argv[3 + i], "AFD") == 0 ? accel_fd()
                                                    : (long)strtoull(argv[3 + i], NULL, 0);
        r = hostile_sys6((long)strtoull(argv[2], NULL, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
    } else if (strcmp(m, "shadow") == 0) {
        r = hostile_sys(2, shadow, 0, 0);
    } else if (strcmp(m, "prlimit") == 0) {
        r = hostile_sys6(302, 1, 7, (long)lim, 0, 0, 0);
    } else if (strcmp(m, "rlimit-up") == 0 && argc >= 3) {
        r = hostile_sys6(302, 0, (long)strtoull(argv[2], NULL, 0), (long)unlimited, 0, 0, 0);
    } else if (strcmp(m, "setrlimit-up") == 0 && argc >= 3) {
        r = hostile_sys(160, (long)strtoull(argv[2], NULL, 0), unlimited, 0);
    } else if (strcmp(m, "threads") == 0) {
        /* CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM; the new thread spins on its own stack. */
        register long r10 __asm__("r10") = 0;
        register long r8 __asm__("r8") = 0;
        __asm__ __volatile__("syscall\n\t"
                             "test %%rax, %%rax\n\t"
                             "jnz 1f\n"
                             "2:\tjmp 2b\n"
                             "1:"
                             : "=a"(r)
                             : "a"(56L), "D"(0x00050f00L), "S"(thread_stack + sizeof thread_stack),
                               "d"(0L), "r"(r10), "r"(r8)
                             : "rcx", "r11", "memory");
        if (r > 0) {
            HOSTILE_SAY("sys: thread started\n");
            for (;;)
                __asm__ __volatile__("" ::: "memory");
        }
    } else if (strcmp(m, "setown") == 0) {
        r = hostile_sys(72, 3, 8, 1);
    } else if (strcmp(m, "setsig") == 0) {
        r = hostile_sys(72, 3, 10, 9);
    } else if (strcmp(m, "async") == 0) {
        r = hostile_sys(72, 3, 4, 020000);
    } else if (strcmp(m, "clone") == 0) {
        r = hostile_sys6(56, 17, 0, 0, 0, 0, 0);
        if (r == 0)
            for (;;)
                __asm__ __volatile__("" ::: "memory");
    } else if (strcmp(m, "write0") == 0 || strcmp(m, "write1") == 0) {
        r = hostile_sys(1, m[5] - '0', "x", 1);
    } else if (strcmp(m, "int80") == 0) {
        long nr = 20; /* getpid in the 32-bit table */
        __asm__ __volatile__("int $0x80" : "+a"(nr) : : "memory");
        r = nr;
    } else {
        HOSTILE_SAY("sys: unknown mode\n");
        return 2;
    }
    char line[64];
    strcpy(line, r < 0 ? "sys: failed " : "sys: allowed ");
    size_t n = strlen(line);
    unsigned long v = (unsigned long)(r < 0 ? -r : r);
    char tmp[24];
    int k = 0;
    do
        tmp[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 23);
    while (k)
        line[n++] = tmp[--k];
    line[n++] = '\n';
    funk_console_write(line, n);
    return r < 0 ? 4 : 3;
}
