/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: reads the pattern the test wrote into block 1 of "disk", writes block 0 and
 * reads it back, and checks that out-of-range and unaligned requests are refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <funk/guest.h>

FUNK_MANIFEST(1, FUNK_DEV_BLOCK("disk"));

static char buf[4096], back[4096];

int main(void)
{
    funk_handle_t h;
    struct funk_block_info bi;
    int r = funk_block_acquire("disk", &h, &bi);
    if (r < 0) {
        printf("block: FAIL acquire: %s\n", strerror(-r));
        return 1;
    }
    if (bi.block_size == 0 || bi.block_size > sizeof buf || bi.capacity < 2 * bi.block_size) {
        printf("block: FAIL geometry capacity=%llu block=%llu\n", (unsigned long long)bi.capacity,
               (unsigned long long)bi.block_size);
        return 1;
    }
    size_t bs = bi.block_size;
    r = funk_block_read(h, bs, buf, bs);
    if (r < 0 || memcmp(buf, "funk-block-test", 15) != 0) {
        printf("block: FAIL read of block 1 (%d)\n", r);
        return 1;
    }
    for (size_t i = 0; i < bs; i++)
        buf[i] = (char)('a' + i % 26);
    if ((r = funk_block_write(h, 0, buf, bs)) < 0 || (r = funk_block_read(h, 0, back, bs)) < 0 ||
        memcmp(buf, back, bs) != 0) {
        printf("block: FAIL write/read back (%d)\n", r);
        return 1;
    }
    if (funk_block_read(h, bi.capacity, back, bs) != -EINVAL) {
        printf("block: FAIL read past the end accepted\n");
        return 1;
    }
    if (funk_block_write(h, 1, buf, bs) != -EINVAL) {
        printf("block: FAIL unaligned write accepted\n");
        return 1;
    }
    printf("block: OK capacity=%llu block=%zu\n", (unsigned long long)bi.capacity, bs);
    return 0;
}
