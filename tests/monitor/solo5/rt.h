/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal Solo5-style runtime for funk's test unikernels, hvt or (-DRT_SPT) spt. */
#ifndef FUNK_TESTS_SOLO5_RT_H
#define FUNK_TESTS_SOLO5_RT_H

#include <stddef.h>
#include <stdint.h>

#include <funk/abi/hvt.h>

/* Solo5's exit statuses. */
#define RT_EXIT_SUCCESS 0
#define RT_EXIT_FAILURE 1
#define RT_EXIT_ABORT 255

/* The test's entry: the command line with --solo5:* options removed. */
int app_main(const char *cmdline);

extern const struct hvt_boot_info *rt_boot;

void rt_puts(const char *s);
void rt_putx(uint64_t v); /* 0x-prefixed hex */
void rt_putu(uint64_t v); /* decimal */
void rt_exit(int status, void *cookie) __attribute__((noreturn));
void rt_abort(const char *why) __attribute__((noreturn));
void *rt_memcpy(void *d, const void *s, size_t n);
void *rt_memset(void *d, int c, size_t n);
size_t rt_strlen(const char *s);
int rt_strcmp(const char *a, const char *b);

/* Manifest look-up: the index of device `name` of `type`, or -1; *e gets its entry. */
int rt_device(const char *name, uint32_t type, const struct mft_entry **e);

/* One block of device h (manifest index): HVT_R_OK, HVT_R_EINVAL (bad size or offset)... */
int rt_block_io(int write, int h, uint64_t off, void *buf, uint64_t len);
/* One frame on net device h: read needs len >= MTU + 14 (*got: its size; HVT_R_AGAIN: none). */
int rt_net_read(int h, void *buf, uint64_t len, uint64_t *got);
int rt_net_write(int h, const void *buf, uint64_t len);

#ifdef RT_SPT
/* Raw Linux system calls (x86-64 numbers), the only way an spt guest reaches its tender. */
enum {
    RT_SYS_read = 0,
    RT_SYS_write = 1,
    RT_SYS_open = 2,
    RT_SYS_pread64 = 17,
    RT_SYS_pwrite64 = 18,
    RT_SYS_getpid = 39,
    RT_SYS_arch_prctl = 158,
    RT_SYS_clock_gettime = 228,
    RT_SYS_exit_group = 231,
    RT_SYS_epoll_pwait = 281,
    RT_SYS_timerfd_settime = 286,
};
long rt_syscall(long nr, long a, long b, long c, long d, long e, long f);
#endif

uint64_t rt_walltime_ns(void);
uint64_t rt_monotonic_ns(void); /* hvt: TSC / cpu_cycle_freq (WALLTIME when 0) */
/* POLL: waits up to ns for input on a net device; returns the ready set. */
uint64_t rt_poll(uint64_t ns);

/* TLS as Solo5's bindings do it (x86_64 variant II): size of a block, set it up, load FS. */
size_t rt_tls_size(void);
uintptr_t rt_tls_init(void *block); /* returns the thread pointer */
void rt_set_tls_base(uintptr_t tp);

#endif
