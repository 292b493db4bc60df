/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile guest (process backend): looks for the supervisor's memory and outlives its template.
 *   probe ADDR...  is ADDR (hex) readable, and does it hold "FUNKCANARY-"? Probed with
 *                  rt_sigprocmask(bad how, ADDR): -EFAULT when unmapped, -EINVAL when readable
 *                  (only calls the base filter allows), then read directly.
 *   spawn          clone a spinner during start-up (a snapshot template may clone), then serve
 *                  requests: the spinner must not outlive the template.
 *   plant SEED     write 128 bytes (byte k = 7k + 13 SEED + 1) into its own memory, then serve
 *                  requests: the supervisor looks for them in its own address space meanwhile
 *                  (the bytes are computed here, so neither the ELF nor the command line holds
 *                  them). Under funkd (no arguments) the environment says it:
 *                  HOSTILE_MODE=plant HOSTILE_SEED=SEED. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <funk/fn.h>
#include <funk/guest.h>

#include "hostile_sys.h"

static const char prefix[] = "FUNKCANARY-";

static int readable(uintptr_t a)
{
    long r = hostile_sys6(14 /* rt_sigprocmask */, 99, (long)a, 0, 8, 0, 0);
    return r == -22; /* -EINVAL: the set was copied from a mapped page */
}

static void hex(char *out, uint64_t v)
{
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = "0123456789abcdef"[v & 15];
    out[16] = '\0';
}

static void probe(int argc, char **argv)
{
    {
        int found = 0;
        for (int i = 2; i < argc; i++) {
            uintptr_t a = (uintptr_t)strtoull(argv[i], NULL, 16);
            if (!readable(a) || !readable(a + sizeof prefix - 2))
                continue;
            if (memcmp((const void *)a, prefix, sizeof prefix - 1) == 0) {
                char line[64] = "probe: found canary at 0x";
                hex(line + strlen(line), a);
                strcat(line, "\n");
                funk_console_write(line, strlen(line));
                found = 1;
            }
        }
        if (!found)
            HOSTILE_SAY("probe: none\n");
    }
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "probe") == 0) {
        /* At start-up (a snapshot template) and again in each request (its instance). */
        probe(argc, argv);
        struct funk_fn_req req;
        while (funk_fn_recv(&req) == 0) {
            probe(argc, argv);
            funk_fn_send(200, NULL, "ok", 2);
        }
        return 0;
    }
    const char *env_mode = funk_getenv("HOSTILE_MODE"), *env_seed = funk_getenv("HOSTILE_SEED");
    if ((argc >= 3 && strcmp(argv[1], "plant") == 0) ||
        (argc < 2 && env_mode && env_seed && strcmp(env_mode, "plant") == 0)) {
        static volatile uint8_t canary[128];
        unsigned seed = (unsigned)strtoul(argc >= 3 ? argv[2] : env_seed, NULL, 10);
        for (unsigned k = 0; k < sizeof canary; k++)
            canary[k] = (uint8_t)(7 * k + 13 * seed + 1);
        HOSTILE_SAY("plant: canary written\n");
        struct funk_fn_req req;
        while (funk_fn_recv(&req) == 0)
            funk_fn_send(200, NULL, "ok", 2);
        return canary[0] == (uint8_t)(13 * seed + 1) ? 0 : 3;
    }
    if (argc >= 2 && strcmp(argv[1], "spawn") == 0) {
        long pid = hostile_sys6(56 /* clone */, 17 /* SIGCHLD */, 0, 0, 0, 0, 0);
        if (pid == 0)
            for (;;)
                __asm__ __volatile__("" ::: "memory");
        if (pid > 0)
            HOSTILE_SAY("spawn: spinner started\n");
        else
            HOSTILE_SAY("spawn: clone refused\n");
        struct funk_fn_req req;
        while (funk_fn_recv(&req) == 0)
            funk_fn_send(200, NULL, "ok", 2);
        return 0;
    }
    HOSTILE_SAY("probe: unknown mode\n");
    return 2;
}
