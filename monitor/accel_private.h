/* SPDX-License-Identifier: Apache-2.0 */
/* The private funk-accel-agent: the child that serves this process's guests' ACCEL calls. */
#ifndef FUNK_MONITOR_ACCEL_PRIVATE_H
#define FUNK_MONITOR_ACCEL_PRIVATE_H

/*
 * `--accel` without an address (funk-monitor's and funkd's default) means a funk-accel-agent of
 * our own, so plugins never run in the library user's process nor in a guest's (issue 11). On
 * first use a thread that does nothing else and never exits spawns it:
 *
 *   funk-accel-agent --connections-fd 3 [--user 65534:65534 when we are root]
 *
 * with fds 0/1 on /dev/null, our stderr, one SOCK_SEQPACKET socket at fd 3 and an environment
 * of only the plugins' settings (FUNK_ACCEL_*, FUNK_MODEL_DIR, the BLAS/OpenMP/GPU runtimes'
 * and the sanitizers' variables, LD_LIBRARY_PATH): none of the library user's secrets. Each guest
 * gets a socketpair; one end travels to the agent in SCM_RIGHTS (one fd and one byte per
 * message) and becomes one agent connection (its own sessions and its own cache view); the
 * other end is the guest's. The agent is sandboxed as always (--user, its own seccomp filter)
 * and ends with us: PR_SET_PDEATHSIG on that thread, and end of file on fd 3.
 *
 * The binary: $FUNK_ACCEL_AGENT, else funk-accel-agent beside this executable, else in a build
 * tree's accel/agent/, else the installed one (FUNK_ACCEL_AGENT_PATH at build time).
 */

/* A new connection to the private agent (started on first use): a connected socket (CLOEXEC)
 * or -errno. Thread-safe. */
int accel_private_connect(void);

#endif
