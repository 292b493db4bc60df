/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal Solo5-style hvt runtime for funk's test unikernels (hypercalls, traps, TLS, ssp). */
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

uint64_t rt_walltime_ns(void);
uint64_t rt_monotonic_ns(void); /* TSC / cpu_cycle_freq (WALLTIME when 0) */
/* POLL: waits up to ns for input on a net device; returns the ready set. */
uint64_t rt_poll(uint64_t ns);

/* TLS as Solo5's bindings do it (x86_64 variant II): size of a block, set it up, load FS. */
size_t rt_tls_size(void);
uintptr_t rt_tls_init(void *block); /* returns the thread pointer */
void rt_set_tls_base(uintptr_t tp);

#endif
