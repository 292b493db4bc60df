/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: sends one Ethernet frame on "net0" and waits (up to 3 s) for the test's reply. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <funk/guest.h>

FUNK_MANIFEST(1, FUNK_DEV_NET("net0"));

#define ETHERTYPE_EXPERIMENTAL 0x88b5 /* IEEE 802 local experimental */

static unsigned char frame[1514];

int main(void)
{
    funk_handle_t h;
    struct funk_net_info ni;
    int r = funk_net_acquire("net0", &h, &ni);
    if (r < 0) {
        printf("net: FAIL acquire: %s\n", strerror(-r));
        return 1;
    }
    memset(frame, 0xff, 6); /* broadcast */
    memcpy(frame + 6, ni.mac, 6);
    frame[12] = ETHERTYPE_EXPERIMENTAL >> 8;
    frame[13] = ETHERTYPE_EXPERIMENTAL & 0xff;
    memcpy(frame + 14, "funk-net-ping", 13);
    if ((r = funk_net_write(h, frame, 60)) < 0) {
        printf("net: FAIL write: %s\n", strerror(-r));
        return 1;
    }
    funk_time_t deadline = funk_clock_monotonic() + 3000000000ull;
    while (funk_clock_monotonic() < deadline) {
        size_t n = 0;
        r = funk_net_read(h, frame, sizeof frame, &n);
        if (r == 0 && n >= 27 && memcmp(frame + 14, "funk-net-pong", 13) == 0) {
            printf("net: OK mtu=%u reply of %zu bytes\n", ni.mtu, n);
            return 0;
        }
        if (r == -EAGAIN)
            funk_yield(deadline, NULL);
        else if (r < 0) {
            printf("net: FAIL read: %s\n", strerror(-r));
            return 1;
        }
    }
    printf("net: FAIL no reply\n");
    return 1;
}
