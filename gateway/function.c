/* SPDX-License-Identifier: Apache-2.0 */
/* funkd function registry: deployment validation, labels, status JSON, persistence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/vm.h>

#include "elf_note.h"
#include "gw.h"
#include "registry.h"

static struct gw_function **fns;
static size_t nfns, capfns;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;

int gw_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= GW_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* One DNS-1123 label: a-z, 0-9 and '-', starting and ending with a letter or digit. */
static int dns_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

int gw_valid_dns_label(const char *s)
{
    return dns_label(s, strlen(s));
}

int gw_valid_dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= GW_NAME_MAX)
        return 0;
    for (const char *p = s;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (!dns_label(p, l))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

int gw_split_name(const char *full, char name[GW_NAME_MAX], char ns[GW_NAME_MAX])
{
    if (!gw_valid_name(full))
        return 0;
    const char *dot = strrchr(full, '.');
    if (dot && dot != full && dot[1]) {
        snprintf(name, GW_NAME_MAX, "%.*s", (int)(dot - full), full);
        snprintf(ns, GW_NAME_MAX, "%s", dot + 1);
    } else {
        snprintf(name, GW_NAME_MAX, "%s", full);
        snprintf(ns, GW_NAME_MAX, "%s", GW_DEFAULT_NS);
    }
    return 1;
}

void gw_fn_ref(struct gw_function *fn)
{
    pthread_mutex_lock(&reg_mu);
    fn->refs++;
    pthread_mutex_unlock(&reg_mu);
}

static void fn_free(struct gw_function *fn)
{
    json_decref(fn->spec);
    free(fn->elf);
    free(fn->exec_path);
    for (size_t i = 0; fn->argv && fn->argv[i]; i++)
        free(fn->argv[i]);
    free(fn->argv);
    gw_snap_release(fn->snap);
    for (size_t i = 0; fn->env && fn->env[i]; i++)
        free(fn->env[i]);
    free(fn->env);
    for (size_t i = 0; fn->secrets && fn->secrets[i]; i++)
        free(fn->secrets[i]);
    free(fn->secrets);
    pthread_mutex_destroy(&fn->mu);
    pthread_cond_destroy(&fn->cv);
    free(fn);
}

void gw_fn_put(struct gw_function *fn)
{
    if (!fn)
        return;
    pthread_mutex_lock(&reg_mu);
    int last = --fn->refs == 0;
    pthread_mutex_unlock(&reg_mu);
    if (last)
        fn_free(fn);
}

static ssize_t find_locked(const char *name, const char *ns)
{
    for (size_t i = 0; i < nfns; i++)
        if (strcmp(fns[i]->name, name) == 0 && strcmp(fns[i]->ns, ns) == 0)
            return (ssize_t)i;
    return -1;
}

struct gw_function *gw_fn_get(const char *name, const char *ns)
{
    pthread_mutex_lock(&reg_mu);
    ssize_t i = find_locked(name, ns);
    struct gw_function *fn = NULL;
    if (i >= 0) {
        fn = fns[i];
        fn->refs++;
    }
    pthread_mutex_unlock(&reg_mu);
    return fn;
}

int gw_fn_count(void)
{
    pthread_mutex_lock(&reg_mu);
    int n = (int)nfns;
    pthread_mutex_unlock(&reg_mu);
    return n;
}

/* Finds a local image: a path to an ELF or OCI layout (-EISDIR), or the name of an installed
 * unikernel. */
static int resolve_local(const char *image, char *out, size_t outlen)
{
    struct stat st;
    if (strchr(image, '/')) {
        if (stat(image, &st) != 0)
            return -errno;
        snprintf(out, outlen, "%s", image);
        return S_ISDIR(st.st_mode) ? -EISDIR : 0;
    }
    const char *dirs = getenv("FUNK_UNIKERNEL_PATH");
    char exe[PATH_MAX], buf[PATH_MAX * 2];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
    } else {
        exe[0] = '\0';
    }
    snprintf(buf, sizeof buf, "%s%s%s/../unikernels", dirs ? dirs : "", dirs ? ":" : "", exe);
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char p[PATH_MAX * 2 + 16];
        int l = strlen(image) > 4 && strcmp(image + strlen(image) - 4, ".elf") == 0;
        snprintf(p, sizeof p, "%s/%s%s", d, image, l ? "" : ".elf");
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            char *r = realpath(p, NULL);
            const char *src = r ? r : p;
            size_t l2 = strlen(src);
            if (l2 < outlen)
                memcpy(out, src, l2 + 1);
            free(r);
            if (l2 < outlen)
                return 0;
        }
    }
    return -ENOENT;
}

/* Finds an image: local (resolve_local), else a registry reference or uploaded image by digest
 * (pulled and cached: -EISDIR with the layout in out, digest set). faas-cli appends ":latest"
 * to an image whose last component has no tag, so a local path or installed name with
 * ":latest" is that path or name; another tag on a local image is an error that says so. */
static int resolve_image(const char *image, char *out, size_t outlen, char digest[72], char *err,
                         size_t errlen)
{
    digest[0] = '\0';
    int rc = resolve_local(image, out, outlen);
    if (rc == 0 || rc == -EISDIR)
        return rc;
    const char *slash = strrchr(image, '/');
    const char *colon = strrchr(slash ? slash : image, ':');
    if (colon && colon != image && !strchr(image, '@') && (size_t)(colon - image) < PATH_MAX) {
        char base[PATH_MAX];
        snprintf(base, sizeof base, "%.*s", (int)(colon - image), image);
        int lrc = resolve_local(base, out, outlen);
        if (lrc == 0 || lrc == -EISDIR) {
            if (strcmp(colon + 1, "latest") == 0)
                return lrc;
            snprintf(err, errlen,
                     "image '%.200s': a local image has no tag but latest (deploy '%.200s', or "
                     "push it to a registry with `funk image push`)",
                     image, base);
            return -EINVAL;
        }
    }
    if (funk_digest_valid(image) || funk_ref_is_remote(image)) {
        if (outlen < PATH_MAX) {
            snprintf(err, errlen, "internal: path buffer too small");
            return -EINVAL;
        }
        rc = gw_image_fetch(image, out, digest, err, errlen);
        return rc ? rc : -EISDIR;
    }
    snprintf(err, errlen,
             "image '%.300s' not found (a unikernel ELF path or installed unikernel name, an OCI "
             "layout, a registry reference host[:port]/repo[:tag][@digest], or sha256:DIGEST of "
             "an uploaded image): %s",
             image, strerror(-rc));
    return rc;
}

static int read_file(const char *path, void **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) {
            fclose(f);
            return -ENOMEM;
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (cap >= (256u << 20)) {
            free(b);
            fclose(f);
            return -EFBIG;
        }
        char *nb = realloc(b, cap *= 2);
        if (!nb)
            free(b);
        b = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return -EIO;
    }
    *out = b;
    *len = n;
    return 0;
}

static const char *label(json_t *spec, const char *key)
{
    json_t *v = json_object_get(json_object_get(spec, "labels"), key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *env_var(json_t *spec, const char *key)
{
    json_t *v = json_object_get(json_object_get(spec, "envVars"), key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto bad;                                                                                  \
    } while (0)

/* Builds a function from a FunctionDeployment (validated); NULL with err on a bad one. restore:
 * a spec stored by this or an older funkd (names checked by the older, looser rule). */
static struct gw_function *fn_build(json_t *spec, int restore, char *err, size_t errlen)
{
    char *oci_mem = NULL; /* the image's org.funk.unikernel.memory (OCI layouts) */
    struct gw_function *fn = calloc(1, sizeof *fn);
    if (!fn) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&fn->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fn->cv, &ca);
    pthread_condattr_destroy(&ca);
    fn->refs = 1;
    fn->spec = json_incref(spec);
    if (!json_is_object(spec))
        BAD("the body must be a JSON object (FunctionDeployment)");
    json_t *svc = json_object_get(spec, "service"), *img = json_object_get(spec, "image");
    json_t *nsj = json_object_get(spec, "namespace");
    if (!json_is_string(svc) || !json_string_length(svc))
        BAD("'service' (the function name) is required");
    /* A new deployment's names are DNS-1123 labels, as OpenFaaS requires (faas-netes refuses
     * others, and they become host names and Kubernetes object names there). Functions stored
     * by an older funkd under the looser rule are still restored. */
    const char *sv = json_string_value(svc);
    if (strlen(sv) != json_string_length(svc) ||
        (restore ? !gw_valid_name(sv) || strchr(sv, '.') : !gw_valid_dns_label(sv)))
        BAD("'service': '%.80s' is not a valid function name: names are DNS-1123 labels (lower "
            "case a-z, 0-9 and '-', starting and ending with a letter or digit, at most 63 "
            "characters)",
            sv);
    if (!json_is_string(img) || !json_string_length(img))
        BAD("'image' is required (a unikernel ELF path or installed unikernel name)");
    if (nsj && !json_is_null(nsj) &&
        (!json_is_string(nsj) ||
         (json_string_length(nsj) && (strlen(json_string_value(nsj)) != json_string_length(nsj) ||
                                      (restore ? !gw_valid_name(json_string_value(nsj))
                                               : !gw_valid_dns_label(json_string_value(nsj)))))))
        BAD("'namespace' is not a valid name: namespaces are DNS-1123 labels (lower case a-z, "
            "0-9 and '-', starting and ending with a letter or digit, at most 63 characters)");
    snprintf(fn->name, sizeof fn->name, "%s", json_string_value(svc));
    snprintf(fn->ns, sizeof fn->ns, "%s",
             json_is_string(nsj) && json_string_length(nsj) ? json_string_value(nsj)
                                                            : GW_DEFAULT_NS);
    snprintf(fn->key, sizeof fn->key, "%s.%s", fn->name, fn->ns);
    json_object_set_new(spec, "namespace", json_string(fn->ns));

    const char *fields[] = {"envVars", "labels", "annotations"};
    for (int i = 0; i < 3; i++) {
        json_t *o = json_object_get(spec, fields[i]);
        if (o && !json_is_null(o) && !json_is_object(o))
            BAD("'%s' must be an object of strings", fields[i]);
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) if (!json_is_string(v))
            BAD("'%s.%s' must be a string", fields[i], k);
    }
    /* image */
    const char *inv = label(spec, "com.funk.invoke");
    char path[PATH_MAX], ierr[700] = "", pinned[PATH_MAX];
    const char *image = json_string_value(img);
    /* a registry image deployed before (restart, or a spec read back) stays on its digest */
    json_t *pin = json_object_get(spec, "imageDigest");
    if (json_is_string(pin) && funk_digest_valid(json_string_value(pin)) && !strchr(image, '@') &&
        funk_ref_is_remote(image) &&
        (size_t)snprintf(pinned, sizeof pinned, "%s@%s", image, json_string_value(pin)) <
            sizeof pinned)
        image = pinned;
    int rc = resolve_image(image, path, sizeof path, fn->image_digest, ierr, sizeof ierr);
    if (rc == -EISDIR) {
        char oerr[400];
        if (gw_oci_load(path, &fn->elf, &fn->elf_len, &oci_mem, oerr, sizeof oerr) != 0)
            BAD("image '%s' (OCI layout): %s", fn->image_digest[0] ? image : path, oerr);
        if (fn->image_digest[0])
            json_object_set_new(spec, "imageDigest", json_string(fn->image_digest));
        else
            json_object_del(spec, "imageDigest");
        goto loaded;
    }
    json_object_del(spec, "imageDigest");
    if (rc != 0)
        BAD("%s", ierr);
    if (inv && strcmp(inv, "exec") == 0) {
        /* a native program per call: the forked-process baseline, no VM */
        struct stat xst;
        if (stat(path, &xst) != 0 || !S_ISREG(xst.st_mode) || !(xst.st_mode & 0111) ||
            access(path, X_OK) != 0)
            BAD("image '%s' is not executable (com.funk.invoke=exec)", path);
        const char *m0 = label(spec, "com.funk.mode");
        if (m0 && strcmp(m0, "per-request") != 0)
            BAD("com.funk.invoke=exec functions run per request only");
        fn->exec_path = strdup(path);
        goto limits;
    }
    rc = read_file(path, &fn->elf, &fn->elf_len);
    if (rc != 0)
        BAD("image '%s': %s", path, strerror(-rc));
loaded:;
    unsigned note_flags = 0;
    int funk = gw_elf_is_funk(fn->elf, fn->elf_len, &note_flags);
    if (funk < 0)
        BAD("image '%s' is not an ELF unikernel", path);
    /* mode and invocation */
    const char *m = label(spec, "com.funk.mode");
    if (!m || strcmp(m, "per-request") == 0)
        fn->mode = GW_MODE_PER_REQUEST;
    else if (strcmp(m, "warm") == 0)
        fn->mode = GW_MODE_WARM;
    else if (strcmp(m, "snapshot") == 0)
        fn->mode = GW_MODE_SNAPSHOT;
    else
        BAD("label com.funk.mode: '%s' is not per-request, warm or snapshot", m);
    if (inv && strcmp(inv, "console") != 0 && strcmp(inv, "fn") != 0)
        BAD("label com.funk.invoke: '%s' is not fn, console or exec", inv);
    fn->console = inv ? strcmp(inv, "console") == 0 : !funk;
    fn->funk_guest = funk == 1;
    /* stdio: an unmodified static Linux program (no funk or Solo5 note), or com.funk.io=stdio */
    const char *io = label(spec, "com.funk.io");
    if (io && strcmp(io, "stdio") != 0 && strcmp(io, "fn") != 0)
        BAD("label com.funk.io: '%s' is not stdio or fn", io);
    int kind = funk == 1 ? 2 : gw_elf_kind(fn->elf, fn->elf_len);
    /* funk-cc --linux: a static Linux program (no Solo5 note) that carries the funk note */
    int linux_fn = funk == 1 && gw_elf_kind(fn->elf, fn->elf_len) != 1;
    if (linux_fn) {
        if (gw_elf_kind(fn->elf, fn->elf_len) < 0)
            BAD("image '%s' is a dynamically linked program: build it with funk-cc --linux "
                "(static, on musl)", path);
        if (io && strcmp(io, "stdio") == 0)
            BAD("image '%s' is a funk function (funk-cc --linux): its I/O is FN_RECV/FN_SEND, "
                "not stdio", path);
        if (inv && strcmp(inv, "fn") != 0)
            BAD("label com.funk.invoke: '%s' does not apply to a funk-cc --linux function", inv);
        if (fn->mode == GW_MODE_SNAPSHOT)
            BAD("funk-cc --linux functions run per request or warm, not as snapshots (yet)%s", "");
        const char *iso1 = label(spec, "com.funk.isolation");
        int w1 = iso1 ? funk_vm_isolation_parse(iso1) : FUNK_ISOLATION_PROCESS;
        if (w1 == FUNK_ISOLATION_KVM)
            BAD("funk-cc --linux functions run on the process backend in funkd (the Linux "
                "personality's KVM side serves one guest per process: funk-monitor --linux "
                "--isolation=kvm): drop com.funk.isolation=kvm%s", "");
        if (w1 < 0)
            BAD("label com.funk.isolation: '%s' is not kvm, process or auto", iso1);
        const char *base1 = strrchr(path, '/');
        fn->argv = calloc(2, sizeof *fn->argv);
        if (!fn->argv || !(fn->argv[0] = strdup(base1 ? base1 + 1 : path)))
            BAD("out of memory%s", "");
        fn->linux_fn = 1;
        fn->console = 0;
        fn->funk_guest = 1;
        fn->isolation = FUNK_ISOLATION_PROCESS;
        fn->vm_flags = FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX;
        goto limits;
    }
    if ((io && strcmp(io, "stdio") == 0) || (!io && !inv && kind <= 0)) {
        if (kind == 2 || kind == 1)
            BAD("com.funk.io=stdio is for static Linux programs; image '%s' is a %s unikernel",
                path, kind == 2 ? "funk" : "Solo5");
        if (kind < 0)
            BAD("image '%s' is a dynamically linked program: stdio functions are static "
                "executables (link with -static, e.g. musl-gcc -static; Debian's busybox-static)",
                path);
        if (inv)
            BAD("label com.funk.invoke does not apply to stdio functions (%s)", inv);
        if (fn->mode != GW_MODE_PER_REQUEST)
            BAD("stdio functions run per request only (a fresh process per call, like the "
                "classic watchdog), not %s", m);
        const char *iso0 = label(spec, "com.funk.isolation");
        int w0 = iso0 ? funk_vm_isolation_parse(iso0) : FUNK_ISOLATION_PROCESS;
        if (w0 == FUNK_ISOLATION_KVM)
            BAD("stdio functions run on the process backend (the monitor's Linux personality "
                "has no KVM side yet): drop com.funk.isolation=kvm%s", "");
        if (w0 < 0)
            BAD("label com.funk.isolation: '%s' is not kvm, process or auto", iso0);
        /* argv: fprocess split at spaces as the watchdogs do; else the image's file name */
        const char *fp = json_string_value(json_object_get(spec, "envProcess"));
        const char *base = strrchr(json_string_value(img), '/');
        base = base ? base + 1 : json_string_value(img);
        char *words = strdup(fp && *fp ? fp : base);
        size_t cap = (words ? strlen(words) : 0) / 2 + 2, n = 0;
        fn->argv = words ? calloc(cap, sizeof *fn->argv) : NULL;
        if (!fn->argv) {
            free(words);
            BAD("out of memory");
        }
        char *save = NULL;
        for (char *w = strtok_r(words, " \t", &save); w && n + 1 < cap;
             w = strtok_r(NULL, " \t", &save))
            fn->argv[n++] = strdup(w);
        free(words);
        if (n == 0)
            BAD("envProcess (fprocess) names no command%s", "");
        fn->stdio = 1;
        fn->console = 0;
        fn->isolation = FUNK_ISOLATION_PROCESS;
        fn->vm_flags = FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX;
        goto limits;
    }
    /* isolation: label, else funkd's --isolation; auto picks kvm with hardware virtualization,
     * else the process backend, which needs a funk guest built for it */
    const char *iso = label(spec, "com.funk.isolation");
    int want = iso ? funk_vm_isolation_parse(iso) : gw_cfg.isolation;
    if (want < 0)
        BAD("label com.funk.isolation: '%s' is not kvm, process or auto", iso);
    int process_ok = funk == 1 && (note_flags & FUNK_NOTE_F_PROCESS_OK);
    if (want == FUNK_ISOLATION_PROCESS && !process_ok)
        BAD("this image cannot run under the process backend (%s)",
            funk == 1 ? "its funk note lacks the process flag" : "plain Solo5 guest");
    if (want == FUNK_ISOLATION_AUTO)
        want = process_ok ? funk_vm_isolation_auto() : FUNK_ISOLATION_KVM;
    fn->isolation = want;
    /* KVM guests run in their own spawned monitor process, never in funkd's (issue 11). */
    fn->vm_flags = want == FUNK_ISOLATION_PROCESS ? FUNK_VM_F_PROCESS : FUNK_VM_F_KVM_SPAWN;
    /* A guest's ACCEL state (sessions, resources, the agent connection) lives on the host side
     * of its instance, which a snapshot cannot hand on: instances could not share one agent
     * connection and a KVM snapshot holds guest memory only. Refused at deploy rather than
     * failing every call. */
    if (fn->mode == GW_MODE_SNAPSHOT && funk == 1 &&
        elf_note_find(fn->elf, fn->elf_len, FUNK_NOTE_TYPE_ACCEL, NULL) == 1)
        BAD("this function uses ACCEL (<funk/accel.h>), which snapshot mode cannot serve (%s): "
            "deploy it with com.funk.mode=warm or per-request",
            want == FUNK_ISOLATION_KVM
                ? "a KVM snapshot does not carry the accelerator state"
                : "instances cannot share the template's one funk-accel-agent connection");
    if (fn->console && fn->mode != GW_MODE_PER_REQUEST)
        BAD("console-mode functions (plain Solo5 guests) run per request only (not warm or "
            "snapshot)");
limits:
    /* timeouts and limits (labels first, then of-watchdog's envVars names) */
    fn->timeout = gw_cfg.timeout;
    const char *t = label(spec, "com.funk.timeout");
    if (!t)
        t = env_var(spec, "exec_timeout");
    if (t && ((fn->timeout = gw_parse_secs(t)) <= 0 || fn->timeout > 3600))
        BAD("timeout '%s' is not a duration between 0 and 1h", t);
    fn->idle_timeout = gw_cfg.idle_timeout;
    if ((t = label(spec, "com.funk.idle_timeout")) &&
        ((fn->idle_timeout = gw_parse_secs(t)) <= 0 || fn->idle_timeout > 86400))
        BAD("label com.funk.idle_timeout: '%s' is not a duration", t);
    const char *mi = label(spec, "com.funk.max_inflight");
    if (!mi)
        mi = env_var(spec, "max_inflight");
    if (mi && parse_int(mi, 0, 1000000, &fn->max_inflight) != 0)
        BAD("max_inflight '%s' is not a number", mi);
    fn->scale_min = 0;
    fn->scale_max = 5;
    if ((t = label(spec, "com.openfaas.scale.min")) && parse_int(t, 0, 1000, &fn->scale_min) != 0)
        BAD("label com.openfaas.scale.min: '%s' is not a number 0..1000", t);
    if ((t = label(spec, "com.openfaas.scale.max")) && parse_int(t, 1, 1000, &fn->scale_max) != 0)
        BAD("label com.openfaas.scale.max: '%s' is not a number 1..1000", t);
    /* per-request funk guests: boot some ahead so a call does not wait for a boot */
    fn->preboot =
        fn->mode == GW_MODE_PER_REQUEST && !fn->console && !fn->exec_path && fn->funk_guest
            ? (int)gw_cfg.preboot
            : 0;
    /* stdio guests get the request's Http_* variables at load: never booted ahead */
    if ((t = label(spec, "com.funk.preboot")) && parse_int(t, 0, 64, &fn->preboot) != 0)
        BAD("label com.funk.preboot: '%s' is not a number 0..64", t);
    if (fn->preboot && (fn->mode != GW_MODE_PER_REQUEST || fn->console || fn->exec_path ||
                        fn->stdio || fn->linux_fn))
        fn->preboot = 0;
    if (fn->scale_min > fn->scale_max)
        BAD("com.openfaas.scale.min is above com.openfaas.scale.max");
    fn->mem_bytes = fn->stdio || fn->linux_fn ? 64u << 20 : 8u << 20; /* a libc wants a heap */
    json_t *mem = json_object_get(json_object_get(spec, "limits"), "memory");
    const char *memstr = oci_mem; /* limits.memory wins over the image's annotation */
    if (mem && !json_is_null(mem))
        memstr = json_is_string(mem) ? json_string_value(mem) : "";
    if (memstr) {
        uint64_t b = gw_parse_mem(memstr);
        if (b == 0 || b > (4ull << 30))
            BAD("%s must be like \"64M\" (at most 4G)",
                memstr == oci_mem ? "the image's memory annotation" : "limits.memory");
        b = (b + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
        fn->mem_bytes = (size_t)b;
    }
    free(oci_mem);
    oci_mem = NULL;
    /* limits.cpu (Kubernetes quantity: "500m" millicores or "0.5"/"2" cores): the CPU
     * bandwidth of each guest process's cgroup (process backend) */
    fn->cpu_millicores = 0;
    json_t *cpu = json_object_get(json_object_get(spec, "limits"), "cpu");
    if (cpu && !json_is_null(cpu)) {
        const char *cs = json_is_string(cpu) ? json_string_value(cpu) : "";
        char *end;
        errno = 0;
        double v = strtod(cs, &end);
        if (*end == 'm' && end[1] == '\0')
            v /= 1000;
        else if (*end)
            v = -1;
        if (errno || cs[0] < '0' || cs[0] > '9' || !(v >= 0.001) || v > 4096)
            BAD("limits.cpu '%s' is not a CPU quantity like \"500m\" or \"1\"", cs);
        fn->cpu_millicores = (uint32_t)(v * 1000 + 0.5);
    }
    /* env */
    json_t *ev = json_object_get(spec, "envVars");
    fn->env = calloc(json_object_size(ev) + 1, sizeof *fn->env);
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(ev, key, val)
    {
        if (!*key || strchr(key, '='))
            BAD("envVars: '%s' is not a variable name", key);
        size_t l = strlen(key) + json_string_length(val) + 2;
        fn->env[k] = malloc(l);
        if (fn->env[k])
            snprintf(fn->env[k++], l, "%s=%s", key, json_string_value(val));
    }
    /* secrets must exist, as in OpenFaaS providers */
    json_t *sec = json_object_get(spec, "secrets");
    if (sec && !json_is_null(sec) && !json_is_array(sec))
        BAD("'secrets' must be an array of names");
    fn->secrets = calloc(json_array_size(sec) + 1, sizeof *fn->secrets);
    size_t si;
    json_array_foreach(sec, si, val)
    {
        if (!json_is_string(val) || !gw_valid_name(json_string_value(val)))
            BAD("'secrets' must be an array of names");
        char *v = gw_secret_get(json_string_value(val), fn->ns);
        if (!v)
            BAD("secret '%s' does not exist in namespace %s", json_string_value(val), fn->ns);
        free(v);
        fn->secrets[si] = strdup(json_string_value(val));
    }
    if (fn->mode == GW_MODE_SNAPSHOT) {
        /* boot it now: a guest that cannot be snapshot is refused at deploy, with the reason */
        char serr[400];
        if (gw_fn_snapshot(fn, serr, sizeof serr) != 0)
            BAD("snapshot mode: %s", serr);
    }
    return fn;
bad:
    free(oci_mem);
    fn_free(fn);
    return NULL;
}

/* Inserts or replaces (update) fn in the registry; takes the caller's reference. */
static void install(struct gw_function *fn)
{
    struct gw_function *old = NULL;
    pthread_mutex_lock(&reg_mu);
    ssize_t i = find_locked(fn->name, fn->ns);
    if (i >= 0) {
        old = fns[i];
        fns[i] = fn;
    } else {
        if (nfns == capfns) {
            capfns = capfns ? capfns * 2 : 16;
            fns = realloc(fns, capfns * sizeof *fns);
        }
        fns[nfns++] = fn;
    }
    pthread_mutex_unlock(&reg_mu);
    if (old) {
        pthread_mutex_lock(&old->mu);
        old->deleted = 1;
        uint64_t inv = old->invocations;
        pthread_mutex_unlock(&old->mu);
        fn->invocations = inv;
        gw_fn_stop_instances(old, 0);
        gw_fn_put(old);
    }
    gw_fn_ensure_instances(fn);
}

int gw_fn_deploy(json_t *spec, int update, char *err, size_t errlen)
{
    struct gw_function *fn = fn_build(spec, 0, err, errlen);
    if (!fn)
        return -EINVAL;
    struct gw_function *old = gw_fn_get(fn->name, fn->ns);
    if (update && !old) {
        snprintf(err, errlen, "function %s not found in namespace %s", fn->name, fn->ns);
        fn_free(fn);
        return -ENOENT;
    }
    if (old) {
        snprintf(fn->created_at, sizeof fn->created_at, "%s", old->created_at);
        fn->replicas = old->replicas;
        gw_fn_put(old);
    } else {
        gw_rfc3339(gw_wall(), fn->created_at);
        fn->replicas = 0;
    }
    char *s = json_dumps(fn->spec, JSON_COMPACT);
    int rc = s ? gw_store_fn_put(fn->name, fn->ns, s, fn->created_at) : -ENOMEM;
    free(s);
    if (rc != 0) {
        snprintf(err, errlen, "cannot store the function: %s", strerror(-rc));
        fn_free(fn);
        return -EIO;
    }
    install(fn);
    gw_info("%s %s (%s, %s, %s, %zu MiB)", update ? "updated" : "deployed", fn->key,
            fn->mode == GW_MODE_WARM       ? "warm"
            : fn->mode == GW_MODE_SNAPSHOT ? "snapshot"
                                           : "per-request",
            fn->console ? "console" : "fn",
            fn->isolation == FUNK_ISOLATION_PROCESS ? "process" : "kvm", fn->mem_bytes >> 20);
    return 0;
}

int gw_fn_delete(const char *name, const char *ns)
{
    pthread_mutex_lock(&reg_mu);
    ssize_t i = find_locked(name, ns);
    struct gw_function *fn = NULL;
    if (i >= 0) {
        fn = fns[i];
        fns[i] = fns[--nfns];
    }
    pthread_mutex_unlock(&reg_mu);
    if (!fn)
        return -ENOENT;
    gw_store_fn_del(name, ns);
    pthread_mutex_lock(&fn->mu);
    fn->deleted = 1;
    pthread_mutex_unlock(&fn->mu);
    gw_fn_stop_instances(fn, 0);
    gw_fn_put(fn);
    gw_info("deleted %s.%s", name, ns);
    return 0;
}

int gw_fn_scale(const char *name, const char *ns, int replicas)
{
    struct gw_function *fn = gw_fn_get(name, ns);
    if (!fn)
        return -ENOENT;
    if (fn->mode != GW_MODE_WARM) {
        /* every call boots (or restores) a guest of its own: there are no replicas to change,
         * and answering as if it had worked would mislead faas-cli and autoscalers */
        gw_fn_put(fn);
        return -EOPNOTSUPP;
    }
    if (replicas > fn->scale_max)
        replicas = fn->scale_max;
    gw_store_fn_scale(name, ns, replicas);
    pthread_mutex_lock(&fn->mu);
    fn->replicas = replicas;
    pthread_mutex_unlock(&fn->mu);
    if (fn->mode == GW_MODE_WARM) {
        gw_fn_stop_instances(fn, replicas > fn->scale_min ? replicas : fn->scale_min);
        gw_fn_ensure_instances(fn);
    }
    gw_fn_put(fn);
    return 0;
}

json_t *gw_fn_status(struct gw_function *fn)
{
    json_t *s = json_object();
    json_t *sp = fn->spec;
    json_object_set_new(s, "name", json_string(fn->name));
    json_object_set(s, "image", json_object_get(sp, "image"));
    json_object_set_new(s, "namespace", json_string(fn->ns));
    const char *copy[] = {"envProcess", "envVars",  "constraints",
                          "secrets",    "labels",   "annotations",
                          "limits",     "requests", "readOnlyRootFilesystem"};
    for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) {
        json_t *v = json_object_get(sp, copy[i]);
        if (v && !json_is_null(v))
            json_object_set(s, copy[i], v);
    }
    pthread_mutex_lock(&fn->mu);
    uint64_t inv = fn->invocations;
    int ninst = fn->ninst, nstart = fn->nstarting;
    pthread_mutex_unlock(&fn->mu);
    int replicas, avail;
    if (fn->mode == GW_MODE_WARM) {
        replicas = ninst;
        avail = ninst - nstart;
    } else {
        /* every call boots its own VM: always ready */
        replicas = avail = 1;
    }
    json_object_set_new(s, "invocationCount", json_integer((json_int_t)inv));
    json_object_set_new(s, "replicas", json_integer(replicas));
    json_object_set_new(s, "availableReplicas", json_integer(avail));
    json_object_set_new(s, "createdAt", json_string(fn->created_at));
    json_object_set_new(s, "usage",
                        json_pack("{s:f,s:I}", "cpu", 0.0, "totalMemoryBytes",
                                  (json_int_t)fn->mem_bytes * (replicas ? replicas : 0)));
    /* funk's own fields (ignored by OpenFaaS clients) */
    json_object_set_new(s, "mode",
                        json_string(fn->mode == GW_MODE_WARM       ? "warm"
                                    : fn->mode == GW_MODE_SNAPSHOT ? "snapshot"
                                                                   : "per-request"));
    json_object_set_new(s, "invocation",
                        json_string(fn->exec_path ? "exec"
                                    : fn->console ? "console"
                                    : fn->stdio   ? "stdio"
                                    : fn->linux_fn ? "fn-linux"
                                                  : "fn"));
    json_object_set_new(s, "isolation",
                        json_string(fn->exec_path                             ? "none"
                                    : fn->isolation == FUNK_ISOLATION_PROCESS ? "process"
                                                                              : "kvm"));
    json_object_set_new(s, "memoryBytes", json_integer((json_int_t)fn->mem_bytes));
    if (fn->cpu_millicores)
        json_object_set_new(s, "cpuMillicores", json_integer(fn->cpu_millicores));
    if (fn->image_digest[0])
        json_object_set_new(s, "imageDigest", json_string(fn->image_digest));
    json_object_set_new(s, "preboot", json_integer(fn->no_preboot ? 0 : fn->preboot));
    /* guests of this function alive now (booting, idle or serving) */
    json_object_set_new(s, "instances", json_integer(ninst));
    json_object_set_new(s, "timeoutSeconds", json_real(fn->timeout));
    return s;
}

json_t *gw_fn_list(const char *ns)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&reg_mu);
    size_t n = nfns;
    struct gw_function **copy = malloc((n + 1) * sizeof *copy);
    size_t k = 0;
    for (size_t i = 0; copy && i < n; i++)
        if (!ns || strcmp(fns[i]->ns, ns) == 0) {
            fns[i]->refs++;
            copy[k++] = fns[i];
        }
    pthread_mutex_unlock(&reg_mu);
    for (size_t i = 0; i < k; i++) {
        json_array_append_new(arr, gw_fn_status(copy[i]));
        gw_fn_put(copy[i]);
    }
    free(copy);
    return arr;
}

void gw_fn_namespaces(json_t *arr)
{
    json_array_append_new(arr, json_string(GW_DEFAULT_NS));
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < nfns; i++) {
        int seen = 0;
        size_t j;
        json_t *v;
        json_array_foreach(arr, j, v) seen |= strcmp(json_string_value(v), fns[i]->ns) == 0;
        if (!seen)
            json_array_append_new(arr, json_string(fns[i]->ns));
    }
    pthread_mutex_unlock(&reg_mu);
}

void gw_instances_count(int *idle, int *busy)
{
    *idle = *busy = 0;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < nfns; i++) {
        int a, b;
        gw_fn_instances(fns[i], &a, &b);
        *idle += a;
        *busy += b;
    }
    pthread_mutex_unlock(&reg_mu);
}

static void load_one(const char *spec, const char *created, int replicas, void *opaque)
{
    int *n = opaque;
    json_error_t je;
    json_t *j = json_loads(spec, 0, &je);
    char err[512];
    struct gw_function *fn = j ? fn_build(j, 1, err, sizeof err) : NULL;
    if (!fn) {
        gw_err("stored function cannot be restored: %s", j ? err : je.text);
        json_decref(j);
        return;
    }
    json_decref(j);
    snprintf(fn->created_at, sizeof fn->created_at, "%s", created);
    fn->replicas = replicas;
    install(fn);
    (*n)++;
}

int gw_fn_load_all(void)
{
    int n = 0;
    int rc = gw_store_fn_each(load_one, &n);
    return rc < 0 ? rc : n;
}
