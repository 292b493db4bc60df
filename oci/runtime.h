/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime internals: bundle description, state directory and logging shared by its files. */
#ifndef FUNK_OCI_RUNTIME_H
#define FUNK_OCI_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_MAX_NS 8
#define RT_MAX_BLOCK 8

/* What the runtime needs from a bundle's config.json to run a unikernel. */
struct rt_bundle {
    char *dir;         /* absolute bundle path */
    char *rootfs;      /* absolute rootfs path */
    char *binary;      /* unikernel path inside the rootfs ("/hello.elf") */
    char *cmdline;     /* guest command line (args after the binary, or the annotation) */
    char *mode;        /* "console" (default) or "fn": stdin is one request, body to stdout */
    int isolation;     /* FUNK_ISOLATION_KVM, _PROCESS or _AUTO (resolved in the container) */
    char *net;         /* manifest name of the guest's network device, or NULL for none */
    char **env;        /* NULL-terminated KEY=VALUE list from process.env */
    char *hostname;    /* may be NULL */
    size_t mem_bytes;  /* guest memory */
    int terminal;      /* process.terminal */
    uint32_t uid, gid; /* process.user: the monitor drops to them once its files are open */
    uint32_t *groups;  /* process.user.additionalGids */
    size_t ngroups;
    struct {
        int resource;
        uint64_t soft, hard;
    } rlimit[16]; /* process.rlimits */
    size_t nrlimit;
    struct {
        int type;   /* CLONE_NEW* */
        char *path; /* NULL: a new namespace */
    } ns[RT_MAX_NS];
    size_t nns;
    struct {
        char *name;
        char *path; /* inside the rootfs */
    } block[RT_MAX_BLOCK];
    size_t nblock;
    char *annotations_json; /* the config's annotations object, serialized ("{}" when none) */
    char *accel;            /* "agent:ADDR" (funk_vm_accel_set) for ACCEL guests, or NULL: none */
    /* com.funk.io=stdio: binary is an unmodified static Linux program run under the monitor's
     * system-call personality (process backend), with argv (NULL-terminated) and env as its
     * argv/envp and the rootfs, read-only, as its "/". serve: the image is a classic-watchdog
     * function (process.env has fprocess): the container serves HTTP on $port (8080) and runs
     * argv (fprocess) per request, the request as OpenFaaS's classic watchdog gives it. */
    int stdio, serve;
    char **argv;
};

/* Loads BUNDLE/config.json. Returns 1 when it describes a unikernel (b filled), 0 when it is an
 * ordinary container (to be delegated), or a negative errno with a message in err. */
int rt_bundle_load(const char *bundle_dir, struct rt_bundle *b, char *err, size_t errlen);
void rt_bundle_free(struct rt_bundle *b);

/* urunc's image description (urunc-dev/urunc): keys RT_URUNC_PREFIX + unikernelType, binary,
 * cmdline, hypervisor, initrd, block, blkMntPoint, ... (runtime_urunc.c).
 * rt_urunc_load: from the spec's annotations when they carry .binary and .hypervisor, else from
 * the rootfs's /urunc.json (values base64, "b64:"-prefixed or raw, as bunny writes them). Returns
 * 1 with *out = {key: decoded value, "source": where}, 0 when there is none, negative errno with a
 * message. rt_urunc_check: 0 when funk-runtime can run it (hvt; mirage/solo5/funk; no initrd),
 * else -ENOTSUP with the reason. */
#define RT_URUNC_PREFIX "com.urunc.unikernel."
struct json_t;
int rt_urunc_load(struct json_t *ann, const char *rootfs, struct json_t **out, char *err,
                  size_t errlen);
int rt_urunc_check(struct json_t *u, char *err, size_t errlen);
/* Strict standard base64 (padding required) into a NUL-free C string; 0 or -EINVAL/-ENOMEM. */
int rt_b64_decode(const char *in, char **out);
/* A urunc.json value: "b64:BASE64", raw base64 that decodes to UTF-8, or the text itself. */
int rt_urunc_decode_value(const char *v, char **out);

/* Parses "64M", "64Mi", "64MiB", "1G", "67108864"; returns 0 or -EINVAL. */
int rt_parse_size(const char *s, uint64_t *out);

/* Every file a bundle names inside its rootfs is opened through these (runtime_path.c): the path
 * resolves as if ROOTFD were "/" (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, or the same
 * walk done one component at a time where the kernel lacks openat2), so neither a symlinked
 * directory, an absolute symlink nor ".." reaches a host file.
 * rt_open_in_root opens only a regular file (else -EINVAL; the type is checked before the open,
 * so a device node or fifo is never opened); rt_resolve_in_root opens whatever the path names
 * (O_PATH for a lookup); rt_walk_in_root is the fallback walk itself. Negative errno on error. */
int rt_open_in_root(int rootfd, const char *path, int flags);
int rt_resolve_in_root(int rootfd, const char *path, int flags);
int rt_walk_in_root(int rootfd, const char *path, int flags);

/* Creates the container process (namespaces entered, VM loaded, waiting on the exec fifo).
 * Returns its pid or a negative errno with a message in err. */
pid_t rt_container_create(const struct rt_bundle *b, const char *statedir, char *err,
                          size_t errlen);

/* runtime_stdio.c: in a stdio image's container (b->serve), after `start`: the watchdog's HTTP
 * loop on $port, each request a fresh Linux-personality guest of elf with bundle_dir as "/".
 * Returns the container's exit status. */
int rt_stdio_serve(const struct rt_bundle *b, const char *elf, size_t elf_len,
                   const char *bundle_dir);

/* In the container's network namespace: creates tap "funk0" joined by tc redirects to the
 * namespace's interface; env gets FUNK_NET_IPV4 (addr/prefix), FUNK_NET_GATEWAY, FUNK_NET_IFACE. */
int rt_net_setup(int *tapfd, char *env[3], char *err, size_t errlen);

/* A stdio bundle's limits: argv entries and bytes of argv + env (the personality's staging area
 * is smaller still; this refuses absurd configs before anything is read). */
#define RT_STDIO_MAX_ARGS 4096
#define RT_STDIO_MAX_ARG_BYTES (256u << 10)

/* Logging to stderr and, when --log was given, to that file (text or runc's JSON lines). */
enum rt_level { RT_ERROR, RT_WARN, RT_INFO, RT_DEBUG };
void rt_log_open(const char *path, int json, int debug);
void rt_log(enum rt_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
