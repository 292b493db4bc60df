/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark unikernel: the guest-side cost of SDK operations (hypercall, copies, string and
 * printf calls), timed inside the guest with the TSC clock; used by bench/guest/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/guest.h>

static char src[4096], dst[4096];
static volatile size_t sink;

/* Byte-at-a-time copy: the baseline that rep movsb replaces. */
__attribute__((noinline)) static void copy_loop(char *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
        __asm__("" ::: "memory"); /* keep it a loop, not a memcpy call */
    }
}

__attribute__((noinline)) static void copy_q(void *d, const void *s, size_t n)
{
    size_t q = n / 8;
    __asm__ __volatile__("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
}

__attribute__((noinline)) static void copy_words(void *d, const void *s, size_t n)
{
    uint64_t *dq = d;
    const uint64_t *sq = s;
    for (size_t i = 0; i < n / 8; i++)
        dq[i] = sq[i];
}

#define TIME(label, iters, stmt)                                                                   \
    do {                                                                                           \
        funk_time_t t0 = funk_clock_monotonic();                                                   \
        for (int i_ = 0; i_ < (iters); i_++) {                                                     \
            stmt;                                                                                  \
        }                                                                                          \
        funk_time_t t1 = funk_clock_monotonic();                                                   \
        unsigned long long ns = (t1 - t0) / (unsigned long long)(iters);                           \
        printf("guestop %-28s %8llu ns/op (N=%d)\n", label, ns, (iters));                          \
    } while (0)

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    memset(src, 'a', sizeof src - 1);
    char buf[64];
    TIME("empty loop iteration", n * 10, __asm__ __volatile__("" ::: "memory"));
    TIME("hypercall (WALLTIME)", n, sink = funk_clock_wall());
    TIME("memcpy 1 KiB (rep movsb)", n, memcpy(dst, src, 1024));
    TIME("copy 1 KiB (rep movsq)", n, copy_q(dst, src, 1024));
    TIME("copy 1 KiB (u64 loop)", n / 10 + 1, copy_words(dst, src, 1024));
    TIME("copy 1 KiB (byte loop)", n / 10 + 1, copy_loop(dst, src, 1024));
    TIME("memset 1 KiB (rep stosb)", n, memset(dst, 0, 1024));
    TIME("strlen 100 B", n, sink = strlen(src + sizeof src - 101));
    TIME("snprintf %llu", n, snprintf(buf, sizeof buf, "%llu", 1234567890123ull));
    TIME("snprintf %.3f", n / 10 + 1, snprintf(buf, sizeof buf, "%.3f", 0x3fe1b22d0e560419ull));
    TIME("malloc+free 256 B", n, free(malloc(256)));
    return 0;
}
