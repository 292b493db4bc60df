// SPDX-License-Identifier: Apache-2.0
/* A hostile funk-cc --linux function: asks FN_RECV to write the request into its own text (the
 * monitor must refuse with -EFAULT, text unchanged), then answers normally. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/fn.h>

static unsigned sum(const unsigned char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

int main(void)
{
    const unsigned char *text = (const unsigned char *)(uintptr_t)&sum;
    unsigned before = sum(text, 256);
    struct funk_hc_fn_recv a = {.buf = (void *)(uintptr_t)((uintptr_t)text & ~(uintptr_t)7),
                                .len = 4096};
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"((long)FUNK_LINUX_HC_NR), "D"((long)FUNK_HC_FN_RECV), "S"(&a)
                     : "rcx", "r11", "memory");
    unsigned after = sum(text, 256);
    char out[128];
    int n = snprintf(out, sizeof out, "FN_RECV into text: %ld, text %s\n", r,
                     before == after ? "unchanged" : "CHANGED");
    struct funk_fn_req req;
    if (funk_fn_recv(&req) != 0)
        return 3;
    funk_fn_send(200, NULL, out, (size_t)n);
    return 0;
}
