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

__attribute__((noinline)) static void copy_movsb(void *d, const void *s, size_t n)
{
    __asm__ __volatile__("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

__attribute__((noinline)) static void set_loop(char *d, char c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        d[i] = c;
        __asm__("" ::: "memory");
    }
}

__attribute__((noinline)) static size_t strlen_loop(const char *s)
{
    size_t n = 0;
    while (s[n]) {
        n++;
        __asm__("" ::: "memory");
    }
    return n;
}

__attribute__((noinline)) static void copy_words(void *d, const void *s, size_t n)
{
    uint64_t *dq = d;
    const uint64_t *sq = s;
    for (size_t i = 0; i < n / 8; i++)
        dq[i] = sq[i];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

#define SAMPLES 41
static uint64_t samples[SAMPLES];
static uint64_t sdk_median; /* the last SDK line's median, for the baselines' ratio */

/* Times SAMPLES batches of `batch` runs of stmt and prints min/median/p99 per run. */
#define TIME(label, batch, is_baseline, stmt)                                                      \
    do {                                                                                           \
        for (int s_ = 0; s_ < SAMPLES; s_++) {                                                     \
            funk_time_t t0 = funk_clock_monotonic();                                               \
            for (int i_ = 0; i_ < (batch); i_++) {                                                 \
                stmt;                                                                              \
            }                                                                                      \
            samples[s_] = (funk_clock_monotonic() - t0) / (uint64_t)(batch);                       \
        }                                                                                          \
        qsort(samples, SAMPLES, sizeof samples[0], cmp_u64);                                       \
        uint64_t med_ = samples[SAMPLES / 2];                                                      \
        printf("guestop %-30s %9llu %9llu %9llu", label, (unsigned long long)samples[0],           \
               (unsigned long long)med_, (unsigned long long)samples[SAMPLES - 1]);                \
        if (is_baseline && sdk_median > 0)                                                         \
            printf("   SDK is x%llu.%01llu faster\n", (unsigned long long)(med_ / sdk_median),     \
                   (unsigned long long)(med_ * 10 / sdk_median % 10));                             \
        else                                                                                       \
            printf("\n");                                                                          \
        if (!is_baseline)                                                                          \
            sdk_median = med_;                                                                     \
    } while (0)

int main(void)
{
    memset(src, 'a', sizeof src - 1);
    char buf[64];
    printf("guestop %-30s %9s %9s %9s   (ns per operation, %d samples of a batch)\n", "operation",
           "min", "median", "p99", SAMPLES);
    TIME("empty loop iteration", 100, 0, __asm__ __volatile__("" ::: "memory"));
    TIME("hypercall (WALLTIME)", 5, 0, sink = funk_clock_wall());
    TIME("memcpy 1 KiB (SDK, rep movsq)", 3, 0, memcpy(dst, src, 1024));
    TIME("  baseline: rep movsb", 3, 1, copy_movsb(dst, src, 1024));
    TIME("  baseline: u64 loop", 1, 1, copy_words(dst, src, 1024));
    TIME("  baseline: byte loop", 1, 1, copy_loop(dst, src, 1024));
    TIME("memset 1 KiB (SDK, rep stosq)", 3, 0, memset(dst, 0, 1024));
    TIME("  baseline: byte loop", 1, 1, set_loop(dst, 0, 1024));
    TIME("strlen 100 B (SDK, words)", 3, 0, sink = strlen(src + sizeof src - 101));
    TIME("  baseline: byte loop", 1, 1, sink = strlen_loop(src + sizeof src - 101));
    TIME("snprintf %llu", 3, 0, snprintf(buf, sizeof buf, "%llu", 1234567890123ull));
    TIME("snprintf %.3f", 1, 0, snprintf(buf, sizeof buf, "%.3f", 0x3fe1b22d0e560419ull));
    TIME("malloc+free 256 B", 5, 0, free(malloc(256)));
    return 0;
}
