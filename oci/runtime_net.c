/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime: networking of a unikernel container: a tap in the container's network namespace,
 * joined to the namespace's interface by tc redirects, and that interface's address for the guest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"

#define TAP_NAME "funk0"

extern char **environ;

/* Runs tc with the given arguments; 0 when it succeeded. */
static int run_tc(char *const argv[])
{
    static const char *const paths[] = {"/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc", "/bin/tc"};
    const char *tc = NULL;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0] && !tc; i++)
        if (access(paths[i], X_OK) == 0)
            tc = paths[i];
    if (!tc)
        return -ENOENT;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0); /* our message says why */
    int rc = posix_spawn(&pid, tc, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -rc;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* Default IPv4 gateway of the namespace from /proc/net/route ("" when none). */
static void default_gateway(char *out, size_t n)
{
    FILE *f = fopen("/proc/net/route", "re");
    char line[256];
    out[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char ifn[IFNAMSIZ + 1];
        unsigned dst, gw, flags;
        if (sscanf(line, "%16s %x %x %x", ifn, &dst, &gw, &flags) == 4 && dst == 0 && (flags & 2)) {
            struct in_addr a = {.s_addr = gw};
            inet_ntop(AF_INET, &a, out, (socklen_t)n);
            break;
        }
    }
    fclose(f);
}

static int prefix_len(const struct sockaddr *mask)
{
    uint32_t m = ntohl(((const struct sockaddr_in *)mask)->sin_addr.s_addr);
    int p = 0;
    while (m & 0x80000000u) {
        p++;
        m <<= 1;
    }
    return p;
}

int rt_net_setup(int *tapfd, char *env[3], char *err, size_t errlen)
{
    struct ifaddrs *ifa = NULL, *use = NULL;
    int fd = -1, sk = -1, rc;
    if (getifaddrs(&ifa) < 0) {
        snprintf(err, errlen, "getifaddrs: %s", strerror(errno));
        return -errno;
    }
    for (struct ifaddrs *i = ifa; i && !use; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK) &&
            (i->ifa_flags & IFF_UP) && strcmp(i->ifa_name, TAP_NAME) != 0)
            use = i;
    if (!use) {
        snprintf(err, errlen,
                 "the unikernel wants a network device but the container's network namespace has "
                 "no interface with an IPv4 address (run it with a network, not --network none)");
        rc = -ENODEV;
        goto out;
    }
    char ifname[IFNAMSIZ], addr[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
    snprintf(ifname, sizeof ifname, "%s", use->ifa_name);
    inet_ntop(AF_INET, &((struct sockaddr_in *)use->ifa_addr)->sin_addr, addr, sizeof addr);
    int plen = use->ifa_netmask ? prefix_len(use->ifa_netmask) : 32;
    default_gateway(gw, sizeof gw);

    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
        goto out;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", TAP_NAME);
    /* Not persistent: the tap goes away with the container process. */
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        rc = -errno;
        snprintf(err, errlen, "creating tap %s: %s", TAP_NAME, strerror(errno));
        goto out;
    }
    sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq q;
    memset(&q, 0, sizeof q);
    snprintf(q.ifr_name, sizeof q.ifr_name, "%s", ifname);
    int mtu = sk >= 0 && ioctl(sk, SIOCGIFMTU, &q) == 0 ? q.ifr_mtu : 1500;
    memset(&q, 0, sizeof q);
    snprintf(q.ifr_name, sizeof q.ifr_name, "%s", TAP_NAME);
    q.ifr_mtu = mtu;
    ioctl(sk, SIOCSIFMTU, &q);
    memset(&q, 0, sizeof q);
    snprintf(q.ifr_name, sizeof q.ifr_name, "%s", TAP_NAME);
    if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &q) < 0 ||
        (q.ifr_flags |= IFF_UP, ioctl(sk, SIOCSIFFLAGS, &q) < 0)) {
        rc = -errno;
        snprintf(err, errlen, "bringing %s up: %s", TAP_NAME, strerror(errno));
        goto out;
    }
    /* Everything arriving on the namespace's interface goes to the guest and back. */
    char *const in1[] = {"tc", "qdisc", "add", "dev", ifname, "ingress", NULL};
    char *const in2[] = {"tc",       "filter", "add",    "dev",      ifname, "parent", "ffff:",
                         "protocol", "all",    "u32",    "match",    "u32",  "0",      "0",
                         "action",   "mirred", "egress", "redirect", "dev",  TAP_NAME, NULL};
    char *const out1[] = {"tc", "qdisc", "add", "dev", TAP_NAME, "ingress", NULL};
    char *const out2[] = {"tc",       "filter", "add",    "dev",      TAP_NAME, "parent", "ffff:",
                          "protocol", "all",    "u32",    "match",    "u32",    "0",      "0",
                          "action",   "mirred", "egress", "redirect", "dev",    ifname,   NULL};
    /* A pod's namespace outlives its containers: drop what a previous one installed. */
    char *const del[] = {"tc", "qdisc", "del", "dev", ifname, "ingress", NULL};
    run_tc(del);
    if ((rc = run_tc(in1)) < 0 || (rc = run_tc(in2)) < 0 || (rc = run_tc(out1)) < 0 ||
        (rc = run_tc(out2)) < 0) {
        snprintf(err, errlen,
                 "tc redirect between %s and %s failed (%s; is iproute2's tc installed?)", ifname,
                 TAP_NAME, strerror(-rc));
        goto out;
    }
    if (asprintf(&env[0], "FUNK_NET_IPV4=%s/%d", addr, plen) < 0 ||
        asprintf(&env[1], "FUNK_NET_GATEWAY=%s", gw) < 0 ||
        asprintf(&env[2], "FUNK_NET_IFACE=%s", ifname) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    *tapfd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (sk >= 0)
        close(sk);
    freeifaddrs(ifa);
    return rc;
}
