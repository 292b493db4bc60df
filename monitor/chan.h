/* SPDX-License-Identifier: Apache-2.0 */
/* The process backend's contract: guest process fds, the guest <-> supervisor wire format, caps. */
#ifndef FUNK_MONITOR_CHAN_H
#define FUNK_MONITOR_CHAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Who is who. The *supervisor* is the library user's process (funkd, funk-runtime,
 * funk-monitor): it owns the callbacks (requests, responses, console) and the guest's pid as
 * the kernel returned it (fork/clone, or a pidfd). The *guest process* runs the unikernel
 * natively plus the host code that serves its hypercalls; everything in it, including that host
 * code, is treated as the guest's: after its first instruction the guest may have rewritten any
 * byte of it. So every byte the supervisor reads from the channel is hostile input.
 *
 * Fds inside the guest process (everything else is closed before the guest runs):
 *   CHAN_FD  (3)      the channel to the supervisor (a SOCK_STREAM socket)
 *   DEV_FD0+i (4..)   manifest entry i (block: file, net: tap; an entry not attached leaves its
 *                     number unused); then one fd per hypercall module that carries one, in
 *                     module order (today only ACCEL's funk-accel-agent connection), each with
 *                     exactly that module's filter rules (struct hc_fd_ops in vm_internal.h)
 *
 * ACCEL does not travel over this channel (decided for issue 11): the guest process holds its
 * own connection to funk-accel-agent (a connected unix stream socket made before the sandbox,
 * or a TCP/vsock one for agent:ADDR) and may use only sendto/recvfrom/close on that one fd, plus
 * poll. Relaying through the supervisor would add a second decoder of guest-written accel
 * frames inside funkd and copy every tensor twice, for no gain in isolation: the agent already
 * takes each connection as a hostile tenant (its own sessions, its own cache view, exec of
 * operator-installed libraries only), runs sandboxed (--user, its own seccomp filter) and is
 * the ACCEL trust boundary (docs/security.md). No plugin ever runs in a guest's process or in
 * the supervisor; the filter is the same whether or not the guest links the accel library,
 * plus that module's rules for its fd when it has one.
 *
 * Frames (both directions): struct chan_hdr, then hdr.len payload bytes. hdr.magic ==
 * CHAN_MAGIC and hdr.version == CHAN_VERSION always. Guest -> supervisor:
 *   CHAN_CONSOLE  bytes of console output, 1..CHAN_CONSOLE_MSG_MAX per frame and at most
 *                 CHAN_CONSOLE_CALL_MAX per run
 *   CHAN_RECV     len 0: "give me the next request"; the supervisor answers with a CHAN_RECV
 *                 frame: struct chan_request, then method/path/query (each with its NUL),
 *                 headers, body
 *   CHAN_SEND     struct chan_send, then headers_len + body_len bytes (headers at most
 *                 CHAN_HEADERS_MAX, body at most CHAN_BODY_MAX); the supervisor answers an
 *                 int32_t (0 or -errno) without a frame header
 *   CHAN_RESULT   struct chan_result: how the run ended; the last frame of a run
 *   CHAN_TEMPLATE len 0: a snapshot template reached its first request and now waits for
 *                 fork commands (only while the supervisor makes a template)
 *   CHAN_FORKED   len 0 with one fd in SCM_RIGHTS: a template's answer to a fork command, the
 *                 pidfd of the new instance (only on a template's channel, only after a command)
 * Anything else (bad magic/version, an unknown type, a length over its cap, a frame out of
 * turn) is a protocol error: the supervisor kills the guest process and ends the run with
 * FUNK_VM_EXIT_PROTOCOL and the reason. Nothing the guest sends about itself (its pid, its size)
 * is ever acted on.
 *
 * Who kills whom: the supervisor SIGKILLs a guest by the pid fork returned (a fresh guest, its
 * own child, reaped with waitpid) or by the pidfd a template handed over for an instance (the
 * template can only hold pidfds of its own children). A snapshot template runs as init of its
 * own pid namespace where the kernel allows it, so when it ends every process it or its
 * instances forked ends too. Fresh guests set PR_SET_PDEATHSIG(SIGKILL).
 *
 * Exit codes of a run: include/funk/vm.h (enum funk_exit_code).
 */

#define CHAN_FD 3
#define DEV_FD0 4

#define CHAN_MAGIC 0x464bu /* "KF" little-endian */
#define CHAN_VERSION 1u

enum chan_type {
    CHAN_CONSOLE = 1,
    CHAN_RECV = 2,
    CHAN_SEND = 3,
    CHAN_RESULT = 4,
    CHAN_TEMPLATE = 5,
    CHAN_FORKED = 6,
};

struct chan_hdr {
    uint16_t magic;
    uint8_t version;
    uint8_t type;
    uint32_t len; /* payload bytes */
};

/* Caps on what a guest may send (and on what one frame may be). */
#define CHAN_CONSOLE_MSG_MAX (64u << 10)
#define CHAN_CONSOLE_CALL_MAX (64u << 20)
#define CHAN_HEADERS_MAX (1u << 20)
#define CHAN_BODY_MAX (256u << 20)
#define CHAN_FRAME_MAX ((uint32_t)sizeof(struct chan_send) + CHAN_HEADERS_MAX + CHAN_BODY_MAX)

struct chan_request { /* supervisor -> guest, answer to CHAN_RECV, then the strings */
    int32_t rc;
    uint32_t len[5]; /* method, path, query, headers, body */
    uint64_t id;
};

struct chan_send { /* guest -> supervisor, then headers and body */
    uint32_t status;
    uint32_t headers_len;
    uint64_t body_len;
};

struct chan_result {
    int32_t exit; /* enum funk_vm_exit */
    int32_t status;
    uint64_t hypercalls;
    uint64_t first_hypercall_ns;
    char reason[256];
};

/* Supervisor -> template commands on the template's channel (a uint32_t; CHAN_CMD_FORK carries
 * the new instance's channel socket in SCM_RIGHTS and is answered by a CHAN_FORKED frame). */
enum chan_cmd { CHAN_CMD_FORK = 1, CHAN_CMD_EXIT = 2 };

/* ---- The supervisor's one validating decoder (chan.c) ----------------------------------- */

/* What the supervisor expects next on a channel. */
enum chan_mode {
    CHAN_MODE_RUN = 0,  /* a guest serving a run: CONSOLE, RECV, SEND, RESULT */
    CHAN_MODE_TEMPLATE, /* a guest booting to become a template: also TEMPLATE */
    CHAN_MODE_FORK,     /* a template answering a fork command: FORKED only */
};

struct chan_state {
    enum chan_mode mode;
    uint64_t console_total; /* console bytes accepted so far in this run */
};

/* A decoded guest -> supervisor message (pointers into the payload passed in). */
struct chan_msg {
    unsigned type;
    const uint8_t *data; /* CONSOLE */
    size_t len;
    struct chan_send send; /* SEND */
    const uint8_t *headers, *body;
    struct chan_result result; /* RESULT (reason NUL-terminated) */
};

/*
 * Checks a frame header against the state: 0 when the payload (hdr->len bytes, at most
 * CHAN_FRAME_MAX) may be read, else -EPROTO with *why set to a static one-line reason.
 */
int chan_check_hdr(const struct chan_state *st, const struct chan_hdr *h, const char **why);

/*
 * Decodes the payload of a frame whose header chan_check_hdr accepted: fills *out and updates
 * st (console accounting). 0, or -EPROTO with *why set.
 */
int chan_decode(struct chan_state *st, const struct chan_hdr *h, const uint8_t *payload, size_t len,
                struct chan_msg *out, const char **why);

#endif /* FUNK_MONITOR_CHAN_H */
