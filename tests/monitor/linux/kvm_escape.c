/* SPDX-License-Identifier: Apache-2.0 */
/* A hostile musl guest for the KVM personality: one privileged or forbidden act per run. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Usage: kvm_escape MODE. Each mode must end the guest with a fault (the monitor's reason on
 * stderr); "ESCAPED MODE" on stdout and exit 0 mean it did not. The privileged side of the guest
 * lies at 0x100000000 (linux_kvm_x86_64.c): the syscall entry page (user read/execute), then
 * the exception stubs, GDT, IDT, TSS and ring-0 stack (supervisor only).
 */

#define PRIV 0x100000000ull

static void say(const char *mode)
{
    fprintf(stderr, "attempt %s\n", mode);
    fflush(stderr);
}

static int ret_code(void)
{
    return 42;
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    say(m);
    if (!strcmp(m, "int80")) {
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory"); /* getpid */
    } else if (!strcmp(m, "sysenter")) {
        __asm__ volatile("sysenter" ::: "memory");
    } else if (!strcmp(m, "handler-write")) {
        *(volatile uint8_t *)(uintptr_t)PRIV = 0x90;
    } else if (!strcmp(m, "gdt-read")) {
        (void)*(volatile uint64_t *)(uintptr_t)(PRIV + 0x2000);
    } else if (!strcmp(m, "stub-jump")) {
        ((void (*)(void))(uintptr_t)(PRIV + 0x1000))();
    } else if (!strcmp(m, "entry-jump")) {
        ((void (*)(void))(uintptr_t)(PRIV + 0x100))(); /* past the entry: int3 filler */
    } else if (!strcmp(m, "text-write")) {
        *(volatile uint8_t *)(uintptr_t)&ret_code = 0xc3;
    } else if (!strcmp(m, "stack-exec")) {
        volatile uint8_t code[16] = {0xc3};
        ((void (*)(void))(uintptr_t)code)();
    } else if (!strcmp(m, "heap-exec")) {
        uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 2;
        memcpy(p, (const void *)(uintptr_t)&ret_code, 16);
        printf("copied %d\n", ((int (*)(void))(uintptr_t)p)());
    } else if (!strcmp(m, "after-munmap")) {
        volatile uint8_t *p =
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 2;
        p[0] = 1; /* in the TLB now */
        munmap((void *)(uintptr_t)p, 4096);
        (void)p[0];
    } else if (!strcmp(m, "after-mprotect")) {
        volatile uint8_t *p =
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 2;
        p[0] = 1;
        mprotect((void *)(uintptr_t)p, 4096, PROT_READ);
        p[0] = 2;
    } else if (!strcmp(m, "out")) {
        __asm__ volatile("mov $1, %%eax\n\tout %%al, $0x80" ::: "rax", "memory");
    } else if (!strcmp(m, "out-f0")) {
        /* the entry's own port, from elsewhere */
        __asm__ volatile("mov $1, %%eax\n\tout %%al, $0xf0" ::: "rax", "memory");
    } else if (!strcmp(m, "hlt")) {
        __asm__ volatile("hlt");
    } else if (!strcmp(m, "cr3")) {
        uint64_t v;
        __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    } else if (!strcmp(m, "wrmsr")) {
        /* LSTAR := 0 */
        __asm__ volatile("wrmsr" ::"c"(0xc0000082u), "a"(0), "d"(0) : "memory");
    } else if (!strcmp(m, "enosys")) {
        /* not a fault: an unknown call answers -ENOSYS every time (logged once) */
        long r[2];
        for (int i = 0; i < 2; i++)
            __asm__ volatile("syscall" : "=a"(r[i]) : "a"(335L) : "rcx", "r11", "memory");
        printf("enosys %ld %ld\n", r[0], r[1]);
        return 0;
    } else if (!strcmp(m, "null")) {
        (void)*(volatile int *)0;
    } else {
        fprintf(stderr, "unknown mode\n");
        return 2;
    }
    printf("ESCAPED %s\n", m);
    return 0;
}
