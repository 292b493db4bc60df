/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile guest: raw pread64/pwrite64 on its block device's fd past the device (issue 11 item
 * 10). Under the process backend manifest entry i is fd 4 + i (chan.h). Modes:
 *   far      pwrite64(4, buf, 1, 1 GiB): one byte far past the end (grew the file before)
 *   edge     pwrite64(4, buf, block, capacity): a whole block just past the end
 *   big      pread64(4, buf, 2 blocks, 0): more than one block in one call
 *   ok       pwrite64(4, buf, block, 0): allowed (must come back) */
#include <stdint.h>
#include <string.h>

#include <funk/guest.h>

#include "hostile_sys.h"

FUNK_MANIFEST(1, FUNK_DEV_BLOCK("disk"));

static char buf[16384];

int main(int argc, char **argv)
{
    funk_handle_t h;
    struct funk_block_info bi;
    if (argc < 2 || funk_block_acquire("disk", &h, &bi) < 0 || bi.block_size > sizeof buf / 2) {
        HOSTILE_SAY("block: setup failed\n");
        return 2;
    }
    long r, fd = 4 + (long)h;
    if (strcmp(argv[1], "far") == 0)
        r = hostile_sys6(18, fd, (long)buf, 1, 1L << 30, 0, 0);
    else if (strcmp(argv[1], "edge") == 0)
        r = hostile_sys6(18, fd, (long)buf, (long)bi.block_size, (long)bi.capacity, 0, 0);
    else if (strcmp(argv[1], "big") == 0)
        r = hostile_sys6(17, fd, (long)buf, 2 * (long)bi.block_size, 0, 0, 0);
    else
        r = hostile_sys6(18, fd, (long)buf, (long)bi.block_size, 0, 0, 0);
    if (r == (long)bi.block_size)
        HOSTILE_SAY("block: call came back\n");
    else
        HOSTILE_SAY("block: call failed\n");
    return 0;
}
