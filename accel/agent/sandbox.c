/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel-agent's own sandbox: drop to an unprivileged uid/gid once the sockets are bound,
 * then a seccomp filter that refuses what serving calls never needs. */
#include "agent.h"

#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

int agent_parse_user(const char *s, uid_t *uid, gid_t *gid)
{
    char *end;
    errno = 0;
    unsigned long u = strtoul(s, &end, 10);
    if (errno || end == s || *end != ':' || u == 0 || u >= 0xffffffffUL)
        return -EINVAL;
    const char *g = end + 1;
    unsigned long v = strtoul(g, &end, 10);
    if (errno || end == g || *end != '\0' || v == 0 || v >= 0xffffffffUL)
        return -EINVAL;
    *uid = (uid_t)u;
    *gid = (gid_t)v;
    return 0;
}

int agent_drop_user(uid_t uid, gid_t gid)
{
    /* Supplementary groups first (root's would stay otherwise), then gid, then uid. */
    if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
        int e = -errno;
        agent_err("dropping to uid %u gid %u: %s", (unsigned)uid, (unsigned)gid, strerror(errno));
        return e;
    }
    /* Verify: a process that can become root again has dropped nothing. */
    if (setuid(0) == 0 || seteuid(0) == 0) {
        agent_err("uid %u can still become root: refusing to run", (unsigned)uid);
        return -EPERM;
    }
#ifdef __SANITIZE_ADDRESS__
    /* A credential change makes the process non-dumpable; LeakSanitizer's exit-time scan
     * ptraces our threads from a helper and needs it dumpable. Sanitized builds only. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
    agent_info("running as uid %u gid %u", (unsigned)uid, (unsigned)gid);
    return 0;
}

/* Calls a compromised plugin or exec library could use to leave the agent: run programs, reach
 * other processes, change namespaces or mounts, load kernel code, open network sockets. */
static const int denied[] = {
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot),
    SCMP_SYS(unshare),
    SCMP_SYS(setns),
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(personality),
    SCMP_SYS(setuid),
    SCMP_SYS(setgid),
    SCMP_SYS(setreuid),
    SCMP_SYS(setregid),
    SCMP_SYS(setresuid),
    SCMP_SYS(setresgid),
    SCMP_SYS(setgroups),
    SCMP_SYS(acct),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(reboot),
    SCMP_SYS(settimeofday),
    SCMP_SYS(clock_settime),
    SCMP_SYS(open_by_handle_at),
#ifndef __SANITIZE_ADDRESS__
    SCMP_SYS(ptrace), /* LeakSanitizer needs it at exit in sanitized builds */
#endif
};

int agent_seccomp(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(denied) / sizeof(denied[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
    /* Network sockets: the agent only accepts on sockets it bound before the filter. */
    const int families[] = {AF_INET, AF_INET6, AF_PACKET, AF_NETLINK, AF_VSOCK};
    for (size_t i = 0; rc == 0 && i < sizeof(families) / sizeof(families[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
    /* Every thread: plugins (OpenBLAS, OpenCV, CUDA) started theirs during init. */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0)
        agent_err("seccomp filter: %s", strerror(-rc));
    else
        agent_info("seccomp filter loaded (%zu calls refused)", sizeof(denied) / sizeof(denied[0]));
    return rc;
}
