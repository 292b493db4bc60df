/* SPDX-License-Identifier: Apache-2.0 */
/* Unikernel entry point: the monitor jumps here in long mode with %rdi = boot info and %rsp at
 * the top of guest memory. Three instructions, then C (every instruction is emulated under PVM). */
    .section .text.start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    andq $-16, %rsp     /* the ABI wants 16-byte alignment before the call */
    xorl %ebp, %ebp     /* end of frame-pointer chains for debuggers */
    call __funk_start   /* never returns: it halts with main's status */
    ud2
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
