/* SPDX-License-Identifier: Apache-2.0 */
/* A hostile musl guest: raw system calls that must all fail and reach nothing on the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long rc)
{
    /* raw syscall() in musl returns -1 with errno for errors */
    printf("%s %s\n", what, rc < 0 ? "refused" : "ALLOWED");
    /* and to the log: under KVM the int $0x80 at the end is a fault, and a guest that faults
     * sends no response (stdout) */
    fprintf(stderr, "%s %s\n", what, rc < 0 ? "refused" : "ALLOWED");
}

int main(int argc, char **argv)
{
    const char *victim = argc > 1 ? argv[1] : "/tmp/funk-linux-escape";
    long parent = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
    report("socket", syscall(SYS_socket, 2, 1, 0));
    char *const av[] = {"/bin/sh", "-c", "touch /tmp/funk-linux-escaped", NULL};
    report("execve", syscall(SYS_execve, "/bin/sh", av, NULL));
    report("open-passwd", syscall(SYS_open, "/etc/passwd", 0));
    report("openat-passwd", syscall(SYS_openat, -100, "/etc/passwd", 0));
    report("creat-victim", syscall(SYS_openat, -100, victim, 0101 /* O_WRONLY|O_CREAT */, 0644));
    report("ptrace", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, parent, 0, 0));
    report("kill-parent", syscall(SYS_kill, parent, 9));
    report("write-fd5", syscall(SYS_write, 5, "x", 1));
    report("fork", syscall(SYS_fork));
    char *heap = malloc(8192);
    void *page = (void *)(((unsigned long)heap + 4095) & ~4095ul);
    report("mprotect-exec-heap", syscall(SYS_mprotect, page, 4096, PROT_READ | PROT_EXEC));
    report("mmap-exec", (long)syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -1
                            ? -1
                            : 0);
    /* the 32-bit entry (int $0x80: open("/etc/passwd")), with a pointer below 4 GiB */
    static const char passwd[] = "/etc/passwd";
    long r32;
    __asm__ volatile("int $0x80" : "=a"(r32) : "a"(5L), "b"(passwd), "c"(0L) : "memory");
    report("int80-open", r32 < 0 && r32 > -4096 ? -1 : 0);
    fflush(stdout);
    return 0;
}
