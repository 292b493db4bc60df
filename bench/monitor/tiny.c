/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline fixture: a ~4 KB static program that prints "hello" and exits (no libc, no runtime,
 * so it cannot take the sanitizers host_dep adds; it is a measurement fixture, not funk code). */
void _start(void) __attribute__((noreturn));

void _start(void)
{
    static const char msg[] = "hello\n";
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(1L), "D"(1L), "S"(msg), "d"(sizeof msg - 1)
                     : "rcx", "r11", "memory");
    (void)ret;
    __asm__ volatile("syscall" : : "a"(231L), "D"(0L) : "rcx", "r11", "memory");
    __builtin_unreachable();
}
