/* SPDX-License-Identifier: Apache-2.0 */
/* OCI image builder: puts a unikernel ELF in a one-layer OCI image (layout dir or oci-archive). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "registry.h"
#include "sha256.h"
#include "usage.h"

#define MAX_ELF (256u << 20)

struct blob {
    char *data;
    size_t len;
    char digest[7 + 64 + 1]; /* "sha256:" + hex */
};

/* An in-memory byte buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_put(struct buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return -ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return 0;
}

static void blob_set(struct blob *bl, char *data, size_t len)
{
    uint8_t h[32];
    static const char hex[] = "0123456789abcdef";
    bl->data = data;
    bl->len = len;
    accel_sha256_digest(data, len, h);
    memcpy(bl->digest, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        bl->digest[7 + 2 * i] = hex[h[i] >> 4];
        bl->digest[8 + 2 * i] = hex[h[i] & 15];
    }
    bl->digest[71] = '\0';
}

/* ---- ustar writer ------------------------------------------------------------------------- */

static void octal(char *dst, size_t width, uint64_t v)
{
    /* width-1 digits, NUL-terminated, zero-padded */
    dst[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        dst[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

/* Adds one entry; type '0' file, '5' directory. Timestamps are 0 so builds are reproducible. */
static int tar_add(struct buf *t, const char *name, char type, unsigned mode, const void *data,
                   size_t len)
{
    char h[512];
    size_t nl = strlen(name);
    if (nl > 99)
        return -ENAMETOOLONG;
    memset(h, 0, sizeof h);
    memcpy(h, name, nl);
    octal(h + 100, 8, mode);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, type == '0' ? len : 0);
    octal(h + 136, 12, 0);
    h[156] = type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += (unsigned char)h[i];
    octal(h + 148, 7, sum);
    h[155] = ' ';
    if (buf_put(t, h, sizeof h))
        return -ENOMEM;
    if (type == '0' && len) {
        static const char zero[512];
        if (buf_put(t, data, len) || buf_put(t, zero, (512 - len % 512) % 512))
            return -ENOMEM;
    }
    return 0;
}

static int tar_end(struct buf *t)
{
    static const char zero[1024];
    return buf_put(t, zero, sizeof zero);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_ELF) {
        int e = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
        close(fd);
        return e;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    while (b && n < (size_t)st.st_size) {
        ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!b || n != (size_t)st.st_size) {
        free(b);
        return b ? -EIO : -ENOMEM;
    }
    *out = b;
    *len = n;
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? -errno : -EIO;
            close(fd);
            return e;
        }
        p += w;
        len -= (size_t)w;
    }
    return close(fd) == 0 ? 0 : -errno;
}

static char *dumps(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

/* Image names: lowercase [a-z0-9._/-] with an optional :tag ([A-Za-z0-9_.-]); ":latest" added. */
static char *normalize_name(const char *n)
{
    const char *colon = strrchr(n, ':'), *slash = strrchr(n, '/');
    if (colon && slash && colon < slash)
        colon = NULL;
    size_t base = colon ? (size_t)(colon - n) : strlen(n);
    if (base == 0 || base > 200)
        return NULL;
    for (size_t i = 0; i < base; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '/'))
            return NULL;
    }
    if (colon) {
        if (!colon[1] || strlen(colon + 1) > 128)
            return NULL;
        for (const char *p = colon + 1; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
                return NULL;
        return strdup(n);
    }
    char *r;
    return asprintf(&r, "%s:latest", n) < 0 ? NULL : r;
}

/* "funk image" when run as `funk image`, else "funk-image" (set by funk_image_main). */
const char *funk_image_prog = "funk-image";

static int usage(void)
{
    printf(
        "usage: %s build ELF -t NAME[:TAG] [--cmdline ARGS] [--memory SIZE] [--mode console|fn]\n"
        "                        [--net DEVICE] [--isolation kvm|process|auto]\n"
        "                        [-o DIR] [--archive FILE]\n"
        "  writes an OCI image (layout directory with -o, oci-archive tarball with --archive)\n"
        "  holding the unikernel as /NAME.elf plus /funk.json, annotated org.funk.unikernel.*;\n"
        "  load it with `podman load -i FILE` or `ctr images import FILE`.\n"
        "       %s push [--tls-verify[=true|false]] [--authfile FILE] [-u USER -p PASS] SRC REF\n"
        "         (SRC: layout dir or oci-archive; prints the digest)\n"
        "       %s pull [--tls-verify[=true|false]] [--authfile FILE] [-u USER -p PASS] REF DIR\n"
        "         (writes a verified OCI layout; prints the digest)\n"
        "       %s -h|--help | --version\n"
        "  COMMAND --help: that command's usage. Options take their value as --OPTION VALUE or\n"
        "  --OPTION=VALUE.\n"
        "Exit status: 0 ok, 1 the operation failed, 64 usage error.\n",
        funk_image_prog, funk_image_prog, funk_image_prog, funk_image_prog);
    return 0;
}

/* A usage error of `build`: one line naming the problem, the hint, exit 64. */
static char build_prog[64];
#define build_usage_error(...) funk_usage_error(build_prog, __VA_ARGS__)

static int valid_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || v == 0 || *s == '-')
        return 0;
    return *end == '\0' || strcmp(end, "M") == 0 || strcmp(end, "Mi") == 0 ||
           strcmp(end, "MiB") == 0 || strcmp(end, "G") == 0 || strcmp(end, "Gi") == 0 ||
           strcmp(end, "GiB") == 0 || strcmp(end, "K") == 0 || strcmp(end, "Ki") == 0 ||
           strcmp(end, "k") == 0;
}

/* ---- build -------------------------------------------------------------------------------- */

static int build(int argc, char **argv)
{
    const char *elf_path = NULL, *name = NULL, *cmdline = NULL, *memory = NULL, *mode = NULL,
               *outdir = NULL, *archive = NULL, *net = NULL, *iso = NULL;
    enum { O_CMDLINE = 256, O_MODE, O_NET, O_ISO, O_ARCHIVE };
    static const struct option opts[] = {
        {"tag", required_argument, 0, 't'},    {"cmdline", required_argument, 0, O_CMDLINE},
        {"memory", required_argument, 0, 'm'}, {"mode", required_argument, 0, O_MODE},
        {"net", required_argument, 0, O_NET},  {"isolation", required_argument, 0, O_ISO},
        {"output", required_argument, 0, 'o'}, {"archive", required_argument, 0, O_ARCHIVE},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    snprintf(build_prog, sizeof build_prog, "%s build", funk_image_prog);
    optind = 0; /* glibc: start afresh on this argv */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":t:m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            name = optarg;
            break;
        case O_CMDLINE:
            cmdline = optarg;
            break;
        case 'm':
            memory = optarg;
            break;
        case O_MODE:
            mode = optarg;
            break;
        case O_NET:
            net = optarg;
            break;
        case O_ISO:
            iso = optarg;
            break;
        case 'o':
            outdir = optarg;
            break;
        case O_ARCHIVE:
            archive = optarg;
            break;
        case 'h':
            return usage();
        default:
            return funk_getopt_error(build_prog, c, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (elf_path)
            return build_usage_error("unexpected argument '%s'", argv[i]);
        elf_path = argv[i];
    }
    if (!elf_path || !name)
        return build_usage_error("%s is required", !elf_path ? "an ELF file" : "-t NAME");
    if (!outdir && !archive)
        return build_usage_error("say where to write the image: -o DIR and/or --archive FILE");
    if (memory && !valid_size(memory))
        return build_usage_error("--memory '%s' is not a size (e.g. 16M)", memory);
    if (mode && strcmp(mode, "console") != 0 && strcmp(mode, "fn") != 0)
        return build_usage_error("--mode '%s' is not console or fn", mode);
    if (net && (!*net || strlen(net) > 64 || strpbrk(net, " =,/")))
        return build_usage_error("--net '%s' is not a manifest device name", net);
    if (iso && strcmp(iso, "kvm") != 0 && strcmp(iso, "process") != 0 && strcmp(iso, "auto") != 0)
        return build_usage_error("--isolation '%s' is not kvm, process or auto", iso);
    char *ref = normalize_name(name);
    if (!ref)
        return build_usage_error(
            "'%s' is not an image name (lowercase [a-z0-9._/-], optional :tag)", name);

    int rc = 1;
    char *elf = NULL, *fj = NULL, *cfg = NULL, *man = NULL, *idx = NULL;
    struct buf layer = {0}, ar = {0};
    size_t elf_len = 0;
    int r = read_file(elf_path, &elf, &elf_len);
    if (r) {
        fprintf(stderr, "funk image build: cannot read '%s': %s\n", elf_path,
                r == -EINVAL ? "not a regular file" : strerror(-r));
        goto out;
    }
    if (elf_len < 64 || memcmp(elf, "\177ELF", 4) != 0 || elf[4] != 2 || (uint8_t)elf[18] != 62) {
        fprintf(stderr, "funk image build: '%s' is not an x86_64 ELF64 unikernel\n", elf_path);
        goto out;
    }
    /* The binary's name in the rootfs: the image's base name, e.g. funk-hello -> /funk-hello.elf */
    char binname[128];
    {
        const char *base = strrchr(ref, '/');
        base = base ? base + 1 : ref;
        size_t n = strcspn(base, ":");
        snprintf(binname, sizeof binname, "%.*s.elf", (int)(n > 100 ? 100 : n), base);
    }
    char binpath[130];
    snprintf(binpath, sizeof binpath, "/%s", binname);

    json_t *ann = json_object();
    json_object_set_new(ann, "org.funk.unikernel.binary", json_string(binpath));
    if (cmdline)
        json_object_set_new(ann, "org.funk.unikernel.cmdline", json_string(cmdline));
    if (memory)
        json_object_set_new(ann, "org.funk.unikernel.memory", json_string(memory));
    json_object_set_new(ann, "org.funk.unikernel.mode", json_string(mode ? mode : "console"));
    if (net)
        json_object_set_new(ann, "org.funk.unikernel.net", json_string(net));
    if (iso)
        json_object_set_new(ann, "org.funk.unikernel.isolation", json_string(iso));

    /* /funk.json: the same description for engines that drop image annotations (docker, ctr). */
    json_t *fjo = json_object();
    json_object_set_new(fjo, "binary", json_string(binpath));
    if (cmdline)
        json_object_set_new(fjo, "cmdline", json_string(cmdline));
    if (memory)
        json_object_set_new(fjo, "memory", json_string(memory));
    json_object_set_new(fjo, "mode", json_string(mode ? mode : "console"));
    if (net)
        json_object_set_new(fjo, "net", json_string(net));
    if (iso)
        json_object_set_new(fjo, "isolation", json_string(iso));
    fj = dumps(fjo);
    if (!fj || tar_add(&layer, binname, '0', 0755, elf, elf_len) ||
        tar_add(&layer, "funk.json", '0', 0644, fj, strlen(fj)) || tar_end(&layer)) {
        fprintf(stderr, "funk image build: out of memory\n");
        json_decref(ann);
        goto out;
    }
    struct blob lb, cb, mb;
    blob_set(&lb, layer.p, layer.len);

    json_t *entry = json_pack("[s]", binpath);
    json_t *cmd = json_array();
    if (cmdline) {
        char *copy = strdup(cmdline), *save = NULL;
        for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
            json_array_append_new(cmd, json_string(t));
        free(copy);
    }
    /* The config's date: SOURCE_DATE_EPOCH for reproducible images, else now. File times in the
     * layer are always 0, so the same ELF always gives the same layer digest. */
    char created[32];
    {
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        char *end = NULL;
        long long e = sde && *sde ? strtoll(sde, &end, 10) : -1;
        time_t t = sde && *sde && end && !*end && e >= 0 ? (time_t)e : time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    json_t *config = json_pack(
        "{s:s, s:s, s:s, s:{s:o, s:o, s:O, s:[s]}, s:{s:s, s:[s]}, s:[{s:s, s:s, s:s}]}", "created",
        created, "architecture", "amd64", "os", "linux", "config", "Entrypoint", entry, "Cmd", cmd,
        "Labels", ann, "Env", "PATH=/", "rootfs", "type", "layers", "diff_ids", lb.digest,
        "history", "created", created, "created_by", "funk image build", "comment", "unikernel");
    cfg = config ? dumps(config) : NULL;
    if (!cfg) {
        json_decref(ann);
        goto out;
    }
    blob_set(&cb, cfg, strlen(cfg));
    json_t *manifest = json_pack(
        "{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}], s:O}", "schemaVersion", 2, "mediaType",
        "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
        "application/vnd.oci.image.config.v1+json", "digest", cb.digest, "size", (json_int_t)cb.len,
        "layers", "mediaType", "application/vnd.oci.image.layer.v1.tar", "digest", lb.digest,
        "size", (json_int_t)lb.len, "annotations", ann);
    json_decref(ann);
    man = manifest ? dumps(manifest) : NULL;
    if (!man)
        goto out;
    blob_set(&mb, man, strlen(man));
    json_t *index = json_pack(
        "{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests", "mediaType",
        "application/vnd.oci.image.manifest.v1+json", "digest", mb.digest, "size",
        (json_int_t)mb.len, "annotations", "org.opencontainers.image.ref.name", ref);
    idx = index ? dumps(index) : NULL;
    if (!idx)
        goto out;
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

    if (outdir) {
        char p[PATH_MAX];
        const struct blob *blobs[] = {&lb, &cb, &mb};
        if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
            fprintf(stderr, "funk image build: cannot create '%s': %s\n", outdir, strerror(errno));
            goto out;
        }
        snprintf(p, sizeof p, "%s/blobs", outdir);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/blobs/sha256", outdir);
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            fprintf(stderr, "funk image build: cannot create '%s': %s\n", p, strerror(errno));
            goto out;
        }
        for (size_t i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s/blobs/sha256/%s", outdir, blobs[i]->digest + 7);
            if ((r = write_file(p, blobs[i]->data, blobs[i]->len)) < 0) {
                fprintf(stderr, "funk image build: cannot write '%s': %s\n", p, strerror(-r));
                goto out;
            }
        }
        snprintf(p, sizeof p, "%s/index.json", outdir);
        r = write_file(p, idx, strlen(idx));
        snprintf(p, sizeof p, "%s/oci-layout", outdir);
        if (r == 0)
            r = write_file(p, layout, strlen(layout));
        if (r < 0) {
            fprintf(stderr, "funk image build: cannot write '%s': %s\n", p, strerror(-r));
            goto out;
        }
    }
    if (archive) {
        char p[128];
        int bad = tar_add(&ar, "oci-layout", '0', 0644, layout, strlen(layout)) ||
                  tar_add(&ar, "index.json", '0', 0644, idx, strlen(idx)) ||
                  tar_add(&ar, "blobs/", '5', 0755, NULL, 0) ||
                  tar_add(&ar, "blobs/sha256/", '5', 0755, NULL, 0);
        const struct blob *blobs[] = {&lb, &cb, &mb};
        for (size_t i = 0; i < 3 && !bad; i++) {
            snprintf(p, sizeof p, "blobs/sha256/%s", blobs[i]->digest + 7);
            bad = tar_add(&ar, p, '0', 0644, blobs[i]->data, blobs[i]->len) != 0;
        }
        if (bad || tar_end(&ar)) {
            fprintf(stderr, "funk image build: out of memory\n");
            goto out;
        }
        if ((r = write_file(archive, ar.p, ar.len)) < 0) {
            fprintf(stderr, "funk image build: cannot write '%s': %s\n", archive, strerror(-r));
            unlink(archive);
            goto out;
        }
    }
    printf("%s %s\n", ref, mb.digest);
    rc = 0;
out:
    free(ref);
    free(elf);
    free(fj);
    free(cfg);
    free(man);
    free(idx);
    free(layer.p);
    free(ar.p);
    return rc;
}

int funk_image_main(int argc, char **argv)
{
    const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
    base = base ? base + 1 : argc > 0 ? argv[0] : "funk-image";
    funk_image_prog = strcmp(base, "image") == 0 ? "funk image" : "funk-image";
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    int c;
    /* '+': options end at the command; what follows is the command's own */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (c == 'h')
            return usage();
        if (c == 'V') {
            printf("%s %s\n", strcmp(funk_image_prog, "funk image") == 0 ? "funk" : "funk-image",
                   FUNK_VERSION);
            return 0;
        }
        return funk_getopt_error(funk_image_prog, c, argv);
    }
    if (optind >= argc)
        return funk_usage_error(funk_image_prog, "missing command (build, push or pull)");
    const char *cmd = argv[optind];
    int n = argc - optind;
    char **args = argv + optind;
    if (strcmp(cmd, "build") == 0)
        return build(n, args);
    if (strcmp(cmd, "push") == 0)
        return funk_image_push_main(n, args);
    if (strcmp(cmd, "pull") == 0)
        return funk_image_pull_main(n, args);
    return funk_usage_error(funk_image_prog, "unknown command '%s' (build, push or pull)", cmd);
}
