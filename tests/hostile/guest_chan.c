/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile guest (process backend): forges frames on the supervisor channel (fd 3) with raw
 * system calls, in today's format and in the format of the monitor before chan.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <funk/guest.h>

#include "hostile_sys.h"

#define OLD_CONSOLE 1u
#define OLD_SEND 3u
#define OLD_HELLO 6u
#define NEW_MAGIC 0x464bu

static void put_old(uint8_t *h, uint32_t type, uint32_t len)
{
    memcpy(h, &type, 4);
    memcpy(h + 4, &len, 4);
}

static void put_new(uint8_t *h, uint8_t type, uint32_t len)
{
    uint16_t magic = NEW_MAGIC;
    memcpy(h, &magic, 2);
    h[2] = 1; /* version */
    h[3] = type;
    memcpy(h + 4, &len, 4);
}

static uint8_t junk[64 << 10];

static void spin(void)
{
    for (;;)
        __asm__ __volatile__("" ::: "memory");
}

int main(int argc, char **argv)
{
    if (argc < 3 || funk_isolation() != FUNK_ISOLATION_PROCESS) {
        HOSTILE_SAY("chan: needs ATTACK old|new under the process backend\n");
        return 2;
    }
    const char *what = argv[1];
    int old = strcmp(argv[2], "old") == 0;
    uint8_t f[64];
    memset(f, 0, sizeof f);
    if (strcmp(what, "hello") == 0 && argc > 3) {
        /* "I am pid N": the old supervisor believed it and SIGKILLed N on timeout. */
        int32_t pid = (int32_t)strtoul(argv[3], NULL, 10);
        if (old)
            put_old(f, OLD_HELLO, 4);
        else
            put_new(f, 6, 4);
        memcpy(f + 8, &pid, 4);
        hostile_write_all(3, f, 12);
        spin();
    } else if (strcmp(what, "send") == 0) {
        /* headers_len 1 + body_len 2^64-1 wraps to 0: the frame claims no payload at all. */
        uint32_t status = 200, hl = 1;
        uint64_t bl = UINT64_MAX;
        if (old)
            put_old(f, OLD_SEND, 16);
        else
            put_new(f, 3, 16);
        memcpy(f + 8, &status, 4);
        memcpy(f + 12, &hl, 4);
        memcpy(f + 16, &bl, 8);
        hostile_write_all(3, f, 24);
        int32_t rc;
        hostile_read_all(3, &rc, sizeof rc);
        HOSTILE_SAY("chan: send answered\n");
        return 0;
    } else if (strcmp(what, "console") == 0) {
        /* One console frame claiming 2000 MiB, then the bytes to fill it. */
        uint32_t len = 2000u << 20;
        if (old)
            put_old(f, OLD_CONSOLE, len);
        else
            put_new(f, 1, len);
        hostile_write_all(3, f, 8);
        memset(junk, 'x', sizeof junk);
        for (uint32_t done = 0; done < len; done += sizeof junk)
            if (hostile_write_all(3, junk, sizeof junk) != 0)
                break;
        spin();
    } else if (strcmp(what, "unknown") == 0) {
        put_new(f, 99, 0);
        hostile_write_all(3, f, 8);
        spin();
    }
    HOSTILE_SAY("chan: unknown attack\n");
    return 2;
}
