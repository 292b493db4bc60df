/* SPDX-License-Identifier: Apache-2.0 */
/* Exception entry stubs of the test runtime: push a zero error code where the CPU pushes none,
 * then the vector, and call rt_trap(frame) (which never returns). */
    .text
    .macro TRAP vec, has_ec
    .global rt_trap_\vec
rt_trap_\vec:
    .if \has_ec == 0
    pushq $0
    .endif
    pushq $\vec
    movq %rsp, %rdi
    andq $-16, %rsp
    call rt_trap
    .endm

    TRAP 0, 0
    TRAP 1, 0
    TRAP 2, 0
    TRAP 3, 0
    TRAP 4, 0
    TRAP 5, 0
    TRAP 6, 0
    TRAP 7, 0
    TRAP 8, 1
    TRAP 9, 0
    TRAP 10, 1
    TRAP 11, 1
    TRAP 12, 1
    TRAP 13, 1
    TRAP 14, 1
    TRAP 15, 0
    TRAP 16, 0
    TRAP 17, 1
    TRAP 18, 0
    TRAP 19, 0
    TRAP 20, 0

    .section .rodata
    .global rt_trap_table
    .balign 8
rt_trap_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20
    .quad rt_trap_\v
    .endr

    .section .note.GNU-stack,"",@progbits
