/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime: reads an OCI bundle's config.json and decides whether it is a unikernel. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/vm.h>

#include "runtime.h"

#define DEFAULT_MEM (8u << 20)
#define STDIO_DEFAULT_MEM (64u << 20) /* a libc program wants a heap (as funkd gives it) */
#define MAX_MEM (4096ull << 20)
#define MIN_MEM (2u << 20)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int rt_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    uint64_t mul = 1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    default:
        return -EINVAL;
    }
    if (mul > 1 && (strcmp(end, "i") == 0 || strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 ||
                    strcmp(end, "b") == 0))
        end += strlen(end);
    if (*end || v > (UINT64_MAX >> 30))
        return -EINVAL;
    *out = v * mul;
    return 0;
}

static const char *jstr(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A path inside the rootfs: absolute-looking, no ".." component, so it cannot leave it. */
static int safe_inner_path(const char *p)
{
    if (!p || !*p || strlen(p) >= PATH_MAX)
        return 0;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 0;
        s += n;
    }
    return 1;
}

static char *join(const char *a, const char *b)
{
    char *r;
    if (asprintf(&r, "%s%s%s", a, b[0] == '/' ? "" : "/", b) < 0)
        return NULL;
    return r;
}

/* Reads ROOTFS/funk.json (written by `funk image build`), when there is one: a regular file
 * resolved inside the rootfs (an image's funk.json -> /etc/shadow names the rootfs's own file). */
static json_t *load_funk_json(const char *rootfs)
{
    int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return NULL;
    int fd = rt_open_in_root(rootfd, "/funk.json", O_RDONLY);
    close(rootfd);
    if (fd < 0)
        return NULL;
    json_t *j = json_loadfd(fd, 0, NULL);
    close(fd);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* urunc's description (spec annotations, else /urunc.json), checked: 1 and *u when funk runs
 * it, 0 when there is none, -ENOTSUP (another hypervisor, rumprun, an initrd) or another
 * negative errno with the reason in err. */
static int urunc_desc(json_t *ann, const char *rootfs, json_t **u, char *err, size_t errlen)
{
    int rc = rt_urunc_load(ann, rootfs, u, err, errlen);
    if (rc == 1 && (rc = rt_urunc_check(*u, err, errlen)) == 0)
        return 1;
    if (rc < 0) {
        json_decref(*u);
        *u = NULL;
    }
    return rc;
}

static const struct {
    const char *name;
    int flag;
} ns_names[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP},
};

static int parse_namespaces(json_t *linux_, struct rt_bundle *b, char *err, size_t errlen)
{
    json_t *arr = json_object_get(linux_, "namespaces");
    size_t i;
    json_t *e;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return fail(err, errlen, -EINVAL, "linux.namespaces is not an array");
    json_array_foreach(arr, i, e)
    {
        const char *t = jstr(e, "type"), *path = jstr(e, "path");
        int flag = 0;
        for (size_t k = 0; k < sizeof ns_names / sizeof ns_names[0]; k++)
            if (t && strcmp(t, ns_names[k].name) == 0)
                flag = ns_names[k].flag;
        if (!flag)
            return fail(err, errlen, -EINVAL, "linux.namespaces[%zu]: unknown type '%s'", i,
                        t ? t : "(none)");
        if (flag == CLONE_NEWUSER)
            return fail(
                err, errlen, -ENOTSUP,
                "user namespaces are not supported for unikernels (the monitor needs /dev/kvm)");
        if (b->nns == RT_MAX_NS)
            return fail(err, errlen, -EINVAL, "linux.namespaces: too many entries");
        b->ns[b->nns].type = flag;
        b->ns[b->nns].path = path && *path ? strdup(path) : NULL;
        b->nns++;
    }
    return 0;
}

static int parse_blocks(const char *spec, struct rt_bundle *b, char *err, size_t errlen)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return -ENOMEM;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !safe_inner_path(eq + 1)) {
            int rc =
                fail(err, errlen, -EINVAL,
                     "annotation org.funk.unikernel.block: '%s' is not NAME=/path/in/rootfs", tok);
            free(copy);
            return rc;
        }
        if (b->nblock == RT_MAX_BLOCK) {
            free(copy);
            return fail(err, errlen, -EINVAL,
                        "annotation org.funk.unikernel.block: too many devices");
        }
        *eq = '\0';
        b->block[b->nblock].name = strdup(tok);
        b->block[b->nblock].path = strdup(eq + 1);
        b->nblock++;
    }
    free(copy);
    return 0;
}

static const struct {
    const char *name;
    int res;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

/* process.user (uid, gid, additionalGids) and process.rlimits. */
static int parse_user_rlimits(json_t *proc, struct rt_bundle *b, char *err, size_t errlen)
{
    json_t *user = json_object_get(proc, "user");
    json_t *uid = json_object_get(user, "uid"), *gid = json_object_get(user, "gid");
    if ((uid && (!json_is_integer(uid) || json_integer_value(uid) < 0 ||
                 json_integer_value(uid) > UINT32_MAX - 1)) ||
        (gid && (!json_is_integer(gid) || json_integer_value(gid) < 0 ||
                 json_integer_value(gid) > UINT32_MAX - 1)))
        return fail(err, errlen, -EINVAL, "process.user: uid/gid must be integers");
    b->uid = uid ? (uint32_t)json_integer_value(uid) : 0;
    b->gid = gid ? (uint32_t)json_integer_value(gid) : 0;
    json_t *extra = json_object_get(user, "additionalGids");
    size_t n = json_array_size(extra), i;
    json_t *e;
    b->groups = n ? calloc(n, sizeof *b->groups) : NULL;
    json_array_foreach(extra, i, e)
    {
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return fail(err, errlen, -EINVAL, "process.user.additionalGids[%zu] is not a gid", i);
        b->groups[b->ngroups++] = (uint32_t)json_integer_value(e);
    }
    json_t *rl = json_object_get(proc, "rlimits");
    json_array_foreach(rl, i, e)
    {
        const char *t = jstr(e, "type");
        json_t *soft = json_object_get(e, "soft"), *hard = json_object_get(e, "hard");
        int res = -1;
        for (size_t k = 0; t && k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
            if (strcmp(t, rlimit_names[k].name) == 0)
                res = rlimit_names[k].res;
        if (res < 0 || !json_is_integer(soft) || !json_is_integer(hard))
            return fail(err, errlen, -EINVAL,
                        "process.rlimits[%zu]: unknown type '%s' or bad soft/hard", i,
                        t ? t : "(none)");
        if (b->nrlimit == sizeof b->rlimit / sizeof b->rlimit[0])
            return fail(err, errlen, -EINVAL, "process.rlimits: too many entries");
        b->rlimit[b->nrlimit].resource = res;
        b->rlimit[b->nrlimit].soft = (uint64_t)json_integer_value(soft);
        b->rlimit[b->nrlimit].hard = (uint64_t)json_integer_value(hard);
        b->nrlimit++;
    }
    return 0;
}

/* Joins args[from..] with spaces; NULL when there are none. */
static char *join_args(json_t *args, size_t from)
{
    size_t n = json_array_size(args), len = 0;
    if (from >= n)
        return NULL;
    for (size_t i = from; i < n; i++)
        len += strlen(json_string_value(json_array_get(args, i))) + 1;
    char *r = calloc(1, len + 1);
    if (!r)
        return NULL;
    for (size_t i = from; i < n; i++) {
        if (i > from)
            strcat(r, " ");
        strcat(r, json_string_value(json_array_get(args, i)));
    }
    return r;
}

static int same_inner_path(const char *a, const char *b)
{
    while (*a == '/')
        a++;
    while (*b == '/')
        b++;
    return strcmp(a, b) == 0;
}

/* The program of a stdio bundle: argv[0] when it holds a '/', else the first PATH entry (from
 * process.env, else the usual one) whose NAME is a regular file inside the rootfs. */
static char *stdio_program(const char *rootfs, const char *name, char **env)
{
    if (strchr(name, '/'))
        return strdup(name);
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            path = env[i] + 5;
    int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return NULL;
    char *found = NULL;
    for (const char *p = path; !found && *p;) {
        size_t n = strcspn(p, ":");
        char *cand = NULL;
        if (n && p[0] == '/' && asprintf(&cand, "%.*s/%s", (int)n, p, name) > 0 &&
            safe_inner_path(cand)) {
            int fd = rt_open_in_root(rootfd, cand, O_RDONLY);
            if (fd >= 0) {
                close(fd);
                found = cand;
                cand = NULL;
            }
        }
        free(cand);
        p += n;
        if (*p == ':')
            p++;
    }
    close(rootfd);
    return found;
}

/* argv of a stdio bundle: fprocess split at spaces (as the watchdogs do), else process.args. */
static int stdio_argv(json_t *args, const char *fprocess, struct rt_bundle *b, char *err,
                      size_t errlen)
{
    size_t n = fprocess ? strlen(fprocess) / 2 + 2 : json_array_size(args) + 1, bytes = 0, k = 0;
    if (n > RT_STDIO_MAX_ARGS + 1)
        return fail(err, errlen, -E2BIG, "stdio program: more than %u arguments",
                    RT_STDIO_MAX_ARGS);
    b->argv = calloc(n, sizeof *b->argv);
    if (!b->argv)
        return -ENOMEM;
    if (fprocess) {
        char *copy = strdup(fprocess), *save = NULL;
        if (!copy)
            return -ENOMEM;
        for (char *t = strtok_r(copy, " ", &save); t && k + 1 < n; t = strtok_r(NULL, " ", &save))
            b->argv[k++] = strdup(t);
        free(copy);
    } else {
        for (size_t i = 0; i < json_array_size(args); i++)
            b->argv[k++] = strdup(json_string_value(json_array_get(args, i)));
    }
    for (size_t i = 0; i < k; i++) {
        if (!b->argv[i])
            return -ENOMEM;
        bytes += strlen(b->argv[i]) + 1;
    }
    for (size_t i = 0; b->env && b->env[i]; i++)
        bytes += strlen(b->env[i]) + 1;
    if (bytes > RT_STDIO_MAX_ARG_BYTES)
        return fail(err, errlen, -E2BIG,
                    "stdio program: arguments and environment of %zu bytes (at most %u)", bytes,
                    RT_STDIO_MAX_ARG_BYTES);
    if (k == 0)
        return fail(err, errlen, -EINVAL, "stdio program: %s names no command",
                    fprocess ? "fprocess" : "process.args");
    b->binary = stdio_program(b->rootfs, b->argv[0], b->env);
    if (!b->binary)
        return fail(err, errlen, -ENOENT, "stdio program '%s': not found in the rootfs's PATH",
                    b->argv[0]);
    if (!safe_inner_path(b->binary))
        return fail(err, errlen, -EINVAL, "stdio program '%s' is not a path inside the rootfs",
                    b->binary);
    return 0;
}

int rt_bundle_load(const char *bundle_dir, struct rt_bundle *b, char *err, size_t errlen)
{
    json_error_t jerr;
    int rc;
    memset(b, 0, sizeof *b);
    char real[PATH_MAX];
    if (!realpath(bundle_dir, real))
        return fail(err, errlen, -errno, "bundle '%s': %s", bundle_dir, strerror(errno));
    b->dir = strdup(real);
    char *cfgpath = join(real, "config.json");
    json_t *cfg = cfgpath ? json_load_file(cfgpath, 0, &jerr) : NULL;
    json_t *fj = NULL, *uj = NULL; /* /funk.json, urunc's description */
    if (!cfg) {
        rc = fail(err, errlen, access(cfgpath, F_OK) ? -ENOENT : -EINVAL, "%s: %s",
                  cfgpath ? cfgpath : "config.json",
                  access(cfgpath, F_OK) ? "no such file" : jerr.text);
        goto out;
    }
    if (!json_is_object(cfg)) {
        rc = fail(err, errlen, -EINVAL, "%s: not a JSON object", cfgpath);
        goto out;
    }
    json_t *root = json_object_get(cfg, "root");
    const char *rpath = jstr(root, "path");
    if (!rpath) {
        rc = fail(err, errlen, -EINVAL, "%s: root.path is missing", cfgpath);
        goto out;
    }
    b->rootfs = rpath[0] == '/' ? strdup(rpath) : join(real, rpath);

    json_t *ann = json_object_get(cfg, "annotations");
    if (ann && !json_is_object(ann)) {
        rc = fail(err, errlen, -EINVAL, "%s: annotations is not an object", cfgpath);
        goto out;
    }
    b->annotations_json = ann ? json_dumps(ann, JSON_COMPACT) : strdup("{}");

    /* Where the unikernel description comes from: our annotations, urunc's (hvt only), or
     * the rootfs's /funk.json (docker and nerdctl drop image annotations). */
    const char *binary = NULL, *cmdline = NULL, *memory = NULL, *block = NULL, *mode = NULL,
               *src = NULL;
    const char *net = NULL, *iso = NULL, *ublock = NULL;
    int urunc = 0; /* urunc_desc's answer, once asked */
    /* com.funk.io (the label funkd reads): stdio makes an unmodified static Linux program a
     * function, from the annotation or the rootfs's /funk.json "io" */
    const char *io = jstr(ann, "com.funk.io");
    if (!io && !jstr(ann, "org.funk.unikernel.binary") && (fj = load_funk_json(b->rootfs)))
        io = jstr(fj, "io");
    if (io && strcmp(io, "stdio") != 0 && strcmp(io, "fn") != 0) {
        rc = fail(err, errlen, -EINVAL, "com.funk.io '%s' is not stdio or fn", io);
        goto out;
    }
    if (io && strcmp(io, "stdio") == 0) {
        b->stdio = 1;
        src = jstr(ann, "com.funk.io") ? "annotation com.funk.io" : "rootfs /funk.json";
        memory = jstr(ann, "org.funk.unikernel.memory");
        if (!memory && fj)
            memory = jstr(fj, "memory");
        mode = "fn";     /* stdin is the program's input, its output goes to stdout */
        iso = "process"; /* the personality has no KVM side yet */
        binary = "/";    /* set from argv below */
    } else if ((binary = jstr(ann, "org.funk.unikernel.binary"))) {
        src = "annotation org.funk.unikernel";
        cmdline = jstr(ann, "org.funk.unikernel.cmdline");
        memory = jstr(ann, "org.funk.unikernel.memory");
        block = jstr(ann, "org.funk.unikernel.block");
        mode = jstr(ann, "org.funk.unikernel.mode");
        net = jstr(ann, "org.funk.unikernel.net");
        iso = jstr(ann, "org.funk.unikernel.isolation");
    } else if (jstr(ann, RT_URUNC_PREFIX "binary") &&
               (urunc = urunc_desc(ann, b->rootfs, &uj, err, errlen)) != 0) {
        /* urunc's annotations in the spec (or, when incomplete there, its /urunc.json) */
    } else if (fj || (fj = load_funk_json(b->rootfs)) != NULL) {
        src = "rootfs /funk.json";
        binary = jstr(fj, "binary");
        cmdline = jstr(fj, "cmdline");
        memory = jstr(fj, "memory");
        block = jstr(fj, "block");
        mode = jstr(fj, "mode");
        net = jstr(fj, "net");
        iso = jstr(fj, "isolation");
        if (!binary) {
            rc = fail(err, errlen, -EINVAL, "%s/funk.json: \"binary\" is missing", b->rootfs);
            goto out;
        }
    } else if ((urunc = urunc_desc(ann, b->rootfs, &uj, err, errlen)) == 0) {
        rc = 0; /* an ordinary container */
        goto out;
    }
    if (urunc < 0) {
        rc = urunc;
        goto out;
    }
    if (urunc) {
        src = jstr(uj, "source");
        binary = jstr(uj, RT_URUNC_PREFIX "binary");
        cmdline = jstr(uj, RT_URUNC_PREFIX "cmdline");
        ublock = jstr(uj, RT_URUNC_PREFIX "block");
        iso = "kvm"; /* hvt is Solo5's KVM tender: plain Solo5 guests need KVM */
    }
    if (!safe_inner_path(binary)) {
        rc = fail(err, errlen, -EINVAL, "%s: binary '%s' is not a path inside the rootfs", src,
                  binary);
        goto out;
    }
    b->binary = b->stdio ? NULL : strdup(binary);
    if (mode && strcmp(mode, "console") != 0 && strcmp(mode, "fn") != 0) {
        rc = fail(err, errlen, -EINVAL, "%s: mode '%s' is not console or fn", src, mode);
        goto out;
    }
    b->mode = strdup(mode ? mode : "console");
    if (net && (!*net || strlen(net) > 64 || strpbrk(net, " =,/"))) {
        rc = fail(err, errlen, -EINVAL, "%s: network device name '%s' is not a manifest name", src,
                  net);
        goto out;
    }
    b->net = net ? strdup(net) : NULL;
    /* Isolation: the image's choice, else the node's (FUNK_RUNTIME_ISOLATION), else auto: KVM
     * where the CPU virtualizes in hardware, the process backend elsewhere. */
    const char *iso_src = iso ? src : "FUNK_RUNTIME_ISOLATION";
    if (!iso)
        iso = getenv("FUNK_RUNTIME_ISOLATION");
    b->isolation = funk_vm_isolation_parse(iso && *iso ? iso : "auto");
    if (b->stdio && b->isolation != FUNK_ISOLATION_PROCESS) {
        rc = fail(err, errlen, -ENOTSUP,
                  "%s: stdio programs run on the process backend only (the monitor's Linux "
                  "personality has no KVM side yet)",
                  iso_src);
        goto out;
    }
    if (b->isolation < 0) {
        rc = fail(err, errlen, -EINVAL, "%s: isolation '%s' is not kvm, process or auto", iso_src,
                  iso);
        goto out;
    }
    if (block && (rc = parse_blocks(block, b, err, errlen)) < 0)
        goto out;
    /* urunc's .block: one disk image in the rootfs, the guest's "storage" device (the name
     * urunc gives MirageOS's block device on hvt). */
    if (ublock && *ublock) {
        if (!safe_inner_path(ublock)) {
            rc = fail(err, errlen, -EINVAL, "%s: block '%s' is not a path inside the rootfs", src,
                      ublock);
            goto out;
        }
        b->block[0].name = strdup("storage");
        b->block[0].path = strdup(ublock);
        b->nblock = 1;
    }
    /* ACCEL guests' agent: the container's annotation, else the node's FUNK_RUNTIME_ACCEL_AGENT.
     * The runtime connects to it from the host side before the container enters its rootfs,
     * so the socket needs no mount into the container. */
    const char *agent = jstr(ann, "org.funk.accel.agent"), *agent_src = "annotation";
    if (!agent) {
        agent = getenv("FUNK_RUNTIME_ACCEL_AGENT");
        agent_src = "FUNK_RUNTIME_ACCEL_AGENT";
    }
    if (agent && *agent) {
        if (strlen(agent) > 400 || asprintf(&b->accel, "agent:%s", agent) < 0 ||
            funk_vm_accel_set(b->accel) < 0) {
            rc = fail(err, errlen, -EINVAL,
                      "%s org.funk.accel.agent: '%s' is not an agent address (unix:///path, "
                      "vsock://CID:PORT, tcp://HOST:PORT)",
                      agent_src, agent);
            goto out;
        }
    }

    json_t *proc = json_object_get(cfg, "process");
    json_t *args = json_object_get(proc, "args");
    if (args && !json_is_array(args)) {
        rc = fail(err, errlen, -EINVAL, "%s: process.args is not an array", cfgpath);
        goto out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(args, i, e) if (!json_is_string(e))
    {
        rc = fail(err, errlen, -EINVAL, "%s: process.args[%zu] is not a string", cfgpath, i);
        goto out;
    }
    /* process.args: the binary itself (image Entrypoint) then the guest's arguments; arguments
     * that do not start with the binary are all the guest's. Nothing given: the annotation. */
    size_t nargs = json_array_size(args);
    size_t from =
        nargs && !b->stdio && same_inner_path(json_string_value(json_array_get(args, 0)), binary)
            ? 1
            : 0;
    b->cmdline = b->stdio ? NULL : join_args(args, from);
    if (!b->cmdline)
        b->cmdline = strdup(cmdline ? cmdline : "");
    b->terminal = json_is_true(json_object_get(proc, "terminal"));
    if ((rc = parse_user_rlimits(proc, b, err, errlen)) < 0)
        goto out;

    json_t *env = json_object_get(proc, "env");
    size_t nenv = json_array_size(env);
    b->env = calloc(nenv + 1, sizeof *b->env);
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (!s || !strchr(s, '=') || s[0] == '=') {
            rc = fail(err, errlen, -EINVAL, "%s: process.env[%zu] is not KEY=VALUE", cfgpath, i);
            goto out;
        }
        b->env[i] = strdup(s);
    }
    if (b->stdio) {
        /* a classic-watchdog image (ENV fprocess): an HTTP function; else one run of args */
        const char *fp = NULL;
        for (size_t k = 0; b->env && b->env[k]; k++) {
            if (strncmp(b->env[k], "fprocess=", 9) == 0)
                fp = b->env[k] + 9;
            else if (!fp && strncmp(b->env[k], "function_process=", 17) == 0)
                fp = b->env[k] + 17;
        }
        b->serve = fp != NULL;
        if ((rc = stdio_argv(args, fp, b, err, errlen)) < 0)
            goto out;
    }
    const char *hn = jstr(cfg, "hostname");
    b->hostname = hn ? strdup(hn) : NULL;

    /* Guest memory: what the image asks for, within linux.resources.memory.limit; without an
     * image value the limit itself (so Kubernetes limits size the guest); default 8 MiB. */
    json_t *linux_ = json_object_get(cfg, "linux");
    json_t *lim =
        json_object_get(json_object_get(json_object_get(linux_, "resources"), "memory"), "limit");
    uint64_t limit =
        json_is_integer(lim) && json_integer_value(lim) > 0 ? (uint64_t)json_integer_value(lim) : 0;
    uint64_t mem = b->stdio ? STDIO_DEFAULT_MEM : DEFAULT_MEM;
    if (memory) {
        if (rt_parse_size(memory, &mem) < 0) {
            rc =
                fail(err, errlen, -EINVAL, "%s: memory '%s' is not a size (e.g. 64M)", src, memory);
            goto out;
        }
        if (limit && mem > limit) {
            rc = fail(err, errlen, -EINVAL,
                      "%s: the unikernel needs %s, more than the memory limit of %llu bytes", src,
                      memory, (unsigned long long)limit);
            goto out;
        }
    } else if (limit) {
        mem = limit > MAX_MEM ? MAX_MEM : limit;
    }
    mem &= ~(uint64_t)(MIN_MEM - 1);
    if (mem < MIN_MEM || mem > MAX_MEM) {
        rc = fail(err, errlen, -EINVAL, "guest memory %llu bytes: must be between 2 MiB and 4 GiB",
                  (unsigned long long)mem);
        goto out;
    }
    b->mem_bytes = (size_t)mem;
    if ((rc = parse_namespaces(linux_, b, err, errlen)) < 0)
        goto out;
    rc = 1;
out:
    json_decref(uj);
    json_decref(fj);
    json_decref(cfg);
    free(cfgpath);
    return rc;
}

void rt_bundle_free(struct rt_bundle *b)
{
    free(b->dir);
    free(b->rootfs);
    free(b->binary);
    free(b->cmdline);
    free(b->mode);
    free(b->net);
    for (size_t i = 0; b->env && b->env[i]; i++)
        free(b->env[i]);
    free(b->env);
    free(b->hostname);
    for (size_t i = 0; i < b->nns; i++)
        free(b->ns[i].path);
    for (size_t i = 0; i < b->nblock; i++) {
        free(b->block[i].name);
        free(b->block[i].path);
    }
    free(b->annotations_json);
    free(b->accel);
    free(b->groups);
    for (size_t i = 0; b->argv && b->argv[i]; i++)
        free(b->argv[i]);
    free(b->argv);
    memset(b, 0, sizeof *b);
}
