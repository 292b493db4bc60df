/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile funk guest for aarch64: asks the kernel directly for openat("/etc/passwd") with svc.
 * Under the process backend the seccomp filter (audit arch AARCH64, aarch64 numbers) must kill it
 * (sandbox, exit 78); under KVM svc at EL1 is an exception the monitor reports (exit 70). It
 * prints "svc: FAIL" if the call ever returns. */
#include <stdio.h>

int main(void)
{
    register long x8 __asm__("x8") = 56; /* __NR_openat on aarch64 */
    register long x0 __asm__("x0") = -100; /* AT_FDCWD */
    register long x1 __asm__("x1") = (long)"/etc/passwd";
    register long x2 __asm__("x2") = 0;
    __asm__ __volatile__("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    printf("svc: FAIL: openat returned %ld\n", x0);
    return 1;
}
