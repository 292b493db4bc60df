/* SPDX-License-Identifier: Apache-2.0 */
/* Unikernel entry point on aarch64: the monitor enters here at EL1 (KVM) or in a process with
 * x0 = boot info and sp at the top of guest memory (16-byte aligned). */
    .section .text.start, "ax", %progbits
    .globl _start
    .type _start, %function
_start:
    mov x29, xzr        /* end of frame-pointer chains for debuggers */
    mov x30, xzr
    bl __funk_start     /* never returns: it halts with main's status */
    brk #0
    .size _start, . - _start

    .section .note.GNU-stack, "", %progbits
