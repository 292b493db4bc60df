/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: initialised data, zeroed bss, constructors, argv, heap and printf work. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/fn.h>
#include <funk/guest.h>

static int data_var = 42;
static char bss_buf[4096];
static int ctor_ran;

__attribute__((constructor)) static void ctor(void)
{
    ctor_ran = data_var + 1;
}

static int fail(const char *what)
{
    printf("globals: FAIL %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (data_var != 42)
        return fail("initialised data");
    for (size_t i = 0; i < sizeof bss_buf; i++) {
        if (bss_buf[i] != 0)
            return fail("bss not zero");
    }
    if (ctor_ran != 43)
        return fail("constructor did not run");
    data_var = 7;
    if (data_var != 7)
        return fail("data not writable");
    char *p = malloc(100), *q = malloc(3000);
    if (p == NULL || q == NULL)
        return fail("malloc");
    memset(q, 'x', 3000);
    strcpy(p, "heap");
    p = realloc(p, 20000);
    if (p == NULL || strcmp(p, "heap") != 0)
        return fail("realloc");
    free(q);
    free(p);
    double d = 0.1;
    char line[160];
    snprintf(line, sizeof line, "%d|%5s|%-4x|%.3f|%g", -12, "ab", 255, FUNK_FARG(d), FUNK_FARG(d));
    if (strcmp(line, "-12|   ab|ff  |0.100|0.1") != 0)
        return fail(line);
    /* Bad input to the SDK gets an error, not a crash. */
    funk_handle_t h;
    if (funk_fn_send(42, NULL, NULL, 0) != -EINVAL || funk_fn_send(200, NULL, NULL, 5) != -EINVAL)
        return fail("funk_fn_send accepted a bad status or a NULL body");
    if (funk_fn_send(200, NULL, "x", 1) != -EINVAL)
        return fail("funk_fn_send without a request was accepted");
    if (funk_block_acquire("nope", &h, NULL) != -ENOENT ||
        funk_net_acquire("nope", &h, NULL) != -ENOENT)
        return fail("acquiring an undeclared device did not say ENOENT");
    printf("globals: OK argc=%d", argc);
    for (int i = 1; i < argc; i++)
        printf(" [%s]", argv[i]);
    const char *greeting = getenv("GREETING");
    printf(" GREETING=%s\n", greeting != NULL ? greeting : "(unset)");
    return 0;
}
