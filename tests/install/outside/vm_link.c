/* SPDX-License-Identifier: Apache-2.0 */
/* Links against the installed static libfunk-vm with `pkg-config --libs funk-vm`. */
#include <funk/vm.h>
#include <stdio.h>

int main(void)
{
    struct funk_vm_result r = {.exit = FUNK_VM_EXIT_HALT, .status = 7};
    printf("exit code %d\n", funk_vm_result_exit_code(&r));
    return 0;
}
