/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel-agent internals: limits, connection state, the content cache, serving one frame. */
#ifndef FUNK_AGENT_H
#define FUNK_AGENT_H

#include "proto.h"

#include <funk/accel.h>
#include <funk/accel_plugin.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_LOG "agent"
#define agent_err(...) funk_accel_log(FUNK_LOG_ERROR, AGENT_LOG, __VA_ARGS__)
#define agent_warn(...) funk_accel_log(FUNK_LOG_WARN, AGENT_LOG, __VA_ARGS__)
#define agent_info(...) funk_accel_log(FUNK_LOG_INFO, AGENT_LOG, __VA_ARGS__)
#define agent_debug(...) funk_accel_log(FUNK_LOG_DEBUG, AGENT_LOG, __VA_ARGS__)

struct agent_limits {
    uint32_t max_frame;     /* payload bytes of one frame */
    uint32_t max_sessions;  /* per connection */
    uint32_t max_resources; /* registrations per connection */
    uint32_t max_clients;   /* connections at once */
    uint64_t cache_max;     /* bytes of cached resource blobs */
    int frame_timeout_ms;   /* the rest of a frame once its first byte arrived */
};

extern struct agent_limits agent_limits;

/* Counters for the STATS message (and the log line at exit). */
extern atomic_ullong agent_n_conns, agent_n_conns_total, agent_n_sessions, agent_n_regs,
    agent_n_frames, agent_n_bad_frames;

/* ---- Content cache (cache.c): blobs by SHA-256, stored once; conn.c lets a connection name
 * only the hashes whose bytes it sent itself (per-connection tenants). ------------------------ */
struct cache_var;

/* Stores bytes under their hash (always verified, also when cached already). -EBADMSG: hash
 * mismatch; -ENOSPC: over cache_max with every cached blob in use. */
int cache_put(uint32_t type, const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const void *data,
              size_t len);
bool cache_have(const uint8_t hash[FUNK_ACCEL_HASH_SIZE]);
/* A resource for (hash, type, attrs) with one user taken; -ENOENT: blob not cached. */
int cache_get(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], uint32_t type, const struct fkp_list *attrs,
              struct cache_var **out, funk_accel_resource **res);
void cache_release(struct cache_var *v);
void cache_stats(uint64_t *entries, uint64_t *bytes);
void cache_clear(void);

/* ---- Sandbox (sandbox.c) ------------------------------------------------------------------- */
#include <sys/types.h>
/* "UID:GID", both numeric and non-zero. */
int agent_parse_user(const char *s, uid_t *uid, gid_t *gid);
/* setgroups(0), gid, uid, then checks that root cannot be regained. */
int agent_drop_user(uid_t uid, gid_t gid);
/* Refuses exec, ptrace-like, namespace, mount, module, network-socket calls in every thread. */
int agent_seccomp(void);

/* ---- Connections (conn.c) ----------------------------------------------------------------- */
struct conn;
/* Starts serving an accepted socket on its own thread; -EBUSY over max_clients. */
int conn_start(int fd, const char *peer);
/* Shuts every connection's socket down and waits for their threads to finish. */
void conn_stop_all(void);

#endif
