/* SPDX-License-Identifier: Apache-2.0 */
/* OCI distribution client (push, verified pull, auth) and image references, over libcurl. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"
#include "sha256.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MAX_INDEX_ENTRIES 64
#define MAX_AUTH_FILE (1u << 20)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Formats a path; a result that does not fit is -ENAMETOOLONG (callers then fail to open it). */
static int pfmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pfmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ---- references ------------------------------------------------------------------------- */

static int lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+ joined by '.', '_', '__' or '-'+ (the distribution grammar's path component). */
static int valid_component(const char *s, size_t n)
{
    if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n;) {
        if (lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !lower_alnum(s[j]))
            j++;
        size_t run = j - i;
        int ok = (run == 1 && (s[i] == '.' || s[i] == '_')) ||
                 (run == 2 && s[i] == '_' && s[i + 1] == '_') || strspn(s + i, "-") >= run;
        if (!ok)
            return 0;
        i = j;
    }
    return 1;
}

static int valid_host(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    size_t hn = n;
    const char *port = NULL;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return 0;
        for (const char *p = s + 1; p < close; p++)
            if (!strchr("0123456789abcdefABCDEF:.", *p))
                return 0;
        if (close - s < 3)
            return 0;
        hn = (size_t)(close - s) + 1;
        if (hn < n) {
            if (s[hn] != ':')
                return 0;
            port = s + hn + 1;
        }
    } else {
        const char *c = memchr(s, ':', n);
        if (c) {
            hn = (size_t)(c - s);
            port = c + 1;
        }
        if (hn == 0)
            return 0;
        for (size_t i = 0; i < hn; i++) {
            char ch = s[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
                return 0;
        }
        if (s[0] == '-' || s[0] == '.' || s[hn - 1] == '-' || s[hn - 1] == '.')
            return 0;
    }
    if (port) {
        size_t pl = (size_t)(s + n - port);
        if (pl == 0 || pl > 5 || strspn(port, "0123456789") < pl)
            return 0;
        unsigned long v = strtoul(port, NULL, 10);
        if (v == 0 || v > 65535)
            return 0;
    }
    return 1;
}

static int valid_tag(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int w =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!w && (i == 0 || (c != '.' && c != '-')))
            return 0;
    }
    return 1;
}

int funk_digest_valid(const char *d)
{
    return d && strncmp(d, "sha256:", 7) == 0 && strlen(d) == FUNK_DIGEST_LEN &&
           strspn(d + 7, "0123456789abcdef") == 64;
}

/* A first component names a registry when it looks like a domain or is localhost. */
static int domain_like(const char *s, size_t n)
{
    return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && memcmp(s, "localhost", 9) == 0);
}

int funk_ref_parse(const char *s, struct funk_ref *r)
{
    memset(r, 0, sizeof *r);
    if (!s)
        return -EINVAL;
    size_t len = strnlen(s, 1024);
    if (len == 0 || len >= 600)
        return -EINVAL;
    char buf[600];
    memcpy(buf, s, len + 1);
    char *at = strchr(buf, '@');
    if (at) {
        if (!funk_digest_valid(at + 1))
            return -EINVAL;
        memcpy(r->digest, at + 1, FUNK_DIGEST_LEN + 1);
        *at = '\0';
    }
    char *name = buf, *slash = strchr(buf, '/');
    if (slash && domain_like(buf, (size_t)(slash - buf))) {
        if (!valid_host(buf, (size_t)(slash - buf)))
            return -EINVAL;
        memcpy(r->host, buf, (size_t)(slash - buf));
        name = slash + 1;
    } else {
        strcpy(r->host, "docker.io");
    }
    char *colon = strrchr(name, ':');
    if (colon) {
        if (strchr(colon, '/') || !valid_tag(colon + 1))
            return -EINVAL;
        memcpy(r->tag, colon + 1, strlen(colon + 1) + 1);
        *colon = '\0';
    }
    size_t nl = strlen(name);
    if (nl == 0 || nl > 200)
        return -EINVAL;
    for (const char *p = name;;) {
        const char *e = strchr(p, '/');
        size_t cl = e ? (size_t)(e - p) : strlen(p);
        if (!valid_component(p, cl))
            return -EINVAL;
        if (!e)
            break;
        p = e + 1;
    }
    if (strcmp(r->host, "docker.io") == 0 && !strchr(name, '/'))
        snprintf(r->repo, sizeof r->repo, "library/%s", name);
    else
        memcpy(r->repo, name, nl + 1);
    if (!r->tag[0] && !r->digest[0])
        strcpy(r->tag, "latest");
    return 0;
}

int funk_ref_is_remote(const char *s)
{
    struct funk_ref r;
    if (!s || funk_ref_parse(s, &r) != 0)
        return 0;
    if (strchr(s, '@'))
        return 1;
    const char *slash = strchr(s, '/');
    return slash && domain_like(s, (size_t)(slash - s));
}

void funk_ref_format(const struct funk_ref *r, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%s%s%s%s", r->host, r->repo, r->tag[0] ? ":" : "", r->tag,
             r->digest[0] ? "@" : "", r->digest);
}

int funk_host_is_loopback(const char *host)
{
    char h[256];
    snprintf(h, sizeof h, "%s", host);
    if (h[0] == '[') {
        char *c = strchr(h, ']');
        if (c)
            *c = '\0';
        return strcmp(h + 1, "::1") == 0;
    }
    char *c = strchr(h, ':');
    if (c)
        *c = '\0';
    if (strcmp(h, "localhost") == 0)
        return 1;
    unsigned a, b, d, e;
    char tail;
    return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &d, &e, &tail) == 4 && a == 127 && b < 256 &&
           d < 256 && e < 256;
}

void funk_reg_opts_default(struct funk_reg_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tls_verify = 1;
    o->max_manifest = 4u << 20;
    o->max_blob = 256u << 20;
    o->max_total = 512u << 20;
    o->max_layers = 16;
    o->timeout_s = 120;
}

/* ---- files ------------------------------------------------------------------------------- */

static void hex_digest(const uint8_t h[32], char out[72])
{
    static const char hx[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = hx[h[i] >> 4];
        out[8 + 2 * i] = hx[h[i] & 15];
    }
    out[71] = '\0';
}

static void digest_of(const void *d, size_t n, char out[72])
{
    uint8_t h[32];
    accel_sha256_digest(d, n, h);
    hex_digest(h, out);
}

static int write_all(int fd, const void *d, size_t n)
{
    const char *p = d;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_file(const char *path, const void *d, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, d, n);
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* Reads a regular file of at most cap bytes (NUL-terminated copy). */
static int read_file(const char *path, uint64_t cap, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if ((uint64_t)st.st_size > cap) {
        close(fd);
        return -EFBIG;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    while (b && n < (size_t)st.st_size) {
        ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!b || n != (size_t)st.st_size) {
        free(b);
        return b ? -EIO : -ENOMEM;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int layout_dirs(const char *dir)
{
    char p[PATH_MAX];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -errno;
    pfmt(p, sizeof p, "%s/blobs", dir);
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return -errno;
    pfmt(p, sizeof p, "%s/blobs/sha256", dir);
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int blob_path(char *out, size_t cap, const char *dir, const char *digest)
{
    int n = snprintf(out, cap, "%s/blobs/sha256/%s", dir, digest + 7);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* index.json naming one image manifest, and oci-layout. */
static int write_index(const char *dir, const char *mt, const char *digest, size_t size,
                       const char *refname)
{
    json_t *m =
        json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size", (json_int_t)size);
    if (m && refname && *refname)
        json_object_set_new(m, "annotations",
                            json_pack("{s:s}", "org.opencontainers.image.ref.name", refname));
    json_t *idx = m ? json_pack("{s:i, s:[o]}", "schemaVersion", 2, "manifests", m) : NULL;
    char *s = idx ? json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(idx);
    if (!s)
        return -ENOMEM;
    char p[PATH_MAX];
    pfmt(p, sizeof p, "%s/index.json", dir);
    int rc = write_file(p, s, strlen(s), 0644);
    free(s);
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    pfmt(p, sizeof p, "%s/oci-layout", dir);
    return rc ? rc : write_file(p, layout, sizeof layout - 1, 0644);
}

/* ---- tar --------------------------------------------------------------------------------- */

static uint64_t tar_octal(const char *s, size_t n, int *bad)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '7'; i++) {
        if (v >> 60)
            *bad = 1;
        v = v * 8 + (uint64_t)(s[i] - '0');
    }
    if (i < n && s[i] != '\0' && s[i] != ' ')
        *bad = 1;
    return v;
}

int funk_tar_find(const char *t, size_t len, const char *want, const char **out, size_t *outlen)
{
    while (*want == '/')
        want++;
    size_t off = 0;
    while (off + 512 <= len) {
        const char *h = t + off;
        if (h[0] == '\0')
            return -ENOENT; /* end-of-archive block */
        char name[256 + 101];
        size_t pl = strnlen(h + 345, 155), nl = strnlen(h, 100);
        if (pl)
            snprintf(name, sizeof name, "%.*s/%.*s", (int)pl, h + 345, (int)nl, h);
        else
            snprintf(name, sizeof name, "%.*s", (int)nl, h);
        int bad = 0;
        uint64_t size = tar_octal(h + 124, 12, &bad);
        if (bad || size > len - off - 512)
            return -EINVAL;
        const char *n = name;
        while (*n == '/' || (n[0] == '.' && n[1] == '/'))
            n += *n == '/' ? 1 : 2;
        /* a name with a ".." component never matches: nothing outside the root is read */
        int dotdot = strcmp(n, "..") == 0 || strncmp(n, "../", 3) == 0 || strstr(n, "/../") ||
                     (strlen(n) >= 3 && strcmp(n + strlen(n) - 3, "/..") == 0);
        if ((h[156] == '0' || h[156] == '\0') && !dotdot && strcmp(n, want) == 0) {
            *out = h + 512;
            *outlen = (size_t)size;
            return 0;
        }
        uint64_t step = (size + 511) & ~(uint64_t)511;
        if (step > len - off - 512)
            break;
        off += 512 + (size_t)step;
    }
    return -ENOENT;
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

struct xfer {
    long status; /* of the last response head seen */
    char location[2048];
    char ctype[256];
    char dcd[80]; /* Docker-Content-Digest */
    char www[1024];
    /* body sink: memory (buf) or a file (fd >= 0); bodies of non-2xx answers are dropped */
    char *buf;
    size_t len, cap;
    int fd;
    uint64_t limit, total;
    int over, io_err;
    accel_sha256 hash;
};

static size_t on_header(char *p, size_t sz, size_t n, void *u)
{
    struct xfer *x = u;
    size_t len = sz * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        x->location[0] = x->ctype[0] = x->dcd[0] = x->www[0] = '\0';
        const char *sp = memchr(p, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len;
    size_t kl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - kl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    struct {
        const char *k;
        char *dst;
        size_t cap;
    } keys[] = {{"location", x->location, sizeof x->location},
                {"content-type", x->ctype, sizeof x->ctype},
                {"docker-content-digest", x->dcd, sizeof x->dcd},
                {"www-authenticate", x->www, sizeof x->www}};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strlen(keys[i].k) == kl && strncasecmp(p, keys[i].k, kl) == 0) {
            size_t c = vl < keys[i].cap - 1 ? vl : keys[i].cap - 1;
            memcpy(keys[i].dst, v, c);
            keys[i].dst[c] = '\0';
        }
    return len;
}

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
    struct xfer *x = u;
    size_t len = sz * n;
    if (x->status < 200 || x->status > 299) {
        /* an error answer's text: kept short for the message, never written to the sink */
        return len;
    }
    if (x->total + len > x->limit) {
        x->over = 1;
        return 0;
    }
    x->total += len;
    accel_sha256_update(&x->hash, p, len);
    if (x->fd >= 0) {
        if (write_all(x->fd, p, len) != 0) {
            x->io_err = 1;
            return 0;
        }
        return len;
    }
    if (x->len + len + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + len + 1)
            cap *= 2;
        char *nb = realloc(x->buf, cap);
        if (!nb) {
            x->io_err = 1;
            return 0;
        }
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, p, len);
    x->len += len;
    x->buf[x->len] = '\0';
    return len;
}

struct sess {
    CURL *h;
    const struct funk_reg_opts *o;
    char host[256];
    char base[300];
    int insecure, scheme_known;
    char basic[1024]; /* base64(user:pass) or "" */
    char authz[8192]; /* "Authorization: ..." or "" */
    char repo[256];
    int push;
    double deadline; /* CLOCK_MONOTONIC seconds: the whole push or pull ends by then */
    char *err;
    size_t errlen;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_encode(const char *in, size_t n, char *out, size_t cap)
{
    size_t need = (n + 2) / 3 * 4 + 1;
    if (need > cap)
        return -ENAMETOOLONG;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(uint8_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint8_t)in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return 0;
}

int funk_reg_auth_file_default(char *out, size_t cap)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (x && *x)
        n = snprintf(out, cap, "%s/funk/auth.json", x);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.config/funk/auth.json", home);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* base64 credentials of host from the auths file (absent file or entry: ""). */
static void auth_lookup(const char *file, const char *host, char *out, size_t cap)
{
    out[0] = '\0';
    char def[PATH_MAX];
    if (!file) {
        if (funk_reg_auth_file_default(def, sizeof def) != 0)
            return;
        file = def;
    }
    char *b;
    size_t n;
    if (read_file(file, MAX_AUTH_FILE, &b, &n) != 0)
        return;
    json_t *j = json_loadb(b, n, 0, NULL);
    free(b);
    json_t *a = json_object_get(json_object_get(json_object_get(j, "auths"), host), "auth");
    if (json_is_string(a) && json_string_length(a) < cap &&
        strspn(json_string_value(a), b64) +
                strspn(json_string_value(a) + strspn(json_string_value(a), b64), "=") ==
            json_string_length(a))
        snprintf(out, cap, "%s", json_string_value(a));
    json_decref(j);
}

static int host_listed(const char *list, const char *host)
{
    if (!list)
        return 0;
    size_t hl = strlen(host);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ", ");
        if (l == hl && strncmp(p, host, l) == 0)
            return 1;
        p += l;
        p += strspn(p, ", ");
    }
    return 0;
}

static int sess_init(struct sess *s, const struct funk_ref *r, const struct funk_reg_opts *o,
                     int push, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->o = o;
    s->err = err;
    s->errlen = errlen;
    s->push = push;
    s->deadline = mono_now() + (o->timeout_s > 0 ? (double)o->timeout_s : 120.0);
    snprintf(s->host, sizeof s->host, "%s", r->host);
    snprintf(s->repo, sizeof s->repo, "%s", r->repo);
    const char *api = strcmp(r->host, "docker.io") == 0 ? "registry-1.docker.io" : r->host;
    int loop = funk_host_is_loopback(r->host);
    s->insecure = !o->tls_verify || host_listed(o->insecure, r->host);
    snprintf(s->base, sizeof s->base, "%s://%s", loop ? "http" : "https", api);
    s->scheme_known = loop || !s->insecure;
    if (o->user && o->pass) {
        char up[600];
        int n = snprintf(up, sizeof up, "%s:%s", o->user, o->pass);
        if (n < 0 || (size_t)n >= sizeof up ||
            b64_encode(up, (size_t)n, s->basic, sizeof s->basic) != 0) {
            seterr(err, errlen, "credentials too long");
            return -EINVAL;
        }
    } else {
        auth_lookup(o->auth_file, r->host, s->basic, sizeof s->basic);
    }
    s->h = curl_easy_init();
    if (!s->h) {
        seterr(err, errlen, "cannot start an HTTP client");
        return -ENOMEM;
    }
    return 0;
}

static void sess_end(struct sess *s)
{
    if (s->h)
        curl_easy_cleanup(s->h);
    s->h = NULL;
}

struct rq {
    const char *method; /* GET, HEAD, POST, PUT */
    const char *url;    /* absolute, or a path under the registry's base */
    const char *accept, *ctype;
    const void *body;
    size_t blen;
    int follow; /* follow redirects (blob and manifest GETs) */
};

static CURLcode perform(struct sess *s, const struct rq *q, struct xfer *x, const char *authz)
{
    CURL *h = s->h;
    curl_easy_reset(h);
    char url[4096];
    if (strncmp(q->url, "http://", 7) == 0 || strncmp(q->url, "https://", 8) == 0)
        snprintf(url, sizeof url, "%s", q->url);
    else
        snprintf(url, sizeof url, "%s%s", s->base, q->url);
    struct curl_slist *hl = NULL;
    char line[8300];
    if (q->accept) {
        snprintf(line, sizeof line, "Accept: %s", q->accept);
        hl = curl_slist_append(hl, line);
    }
    if (q->ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", q->ctype);
        hl = curl_slist_append(hl, line);
    }
    /* the registry's credentials go to the registry only, not to a host its Location names */
    size_t bl = strlen(s->base);
    int same = strncmp(url, s->base, bl) == 0 && (url[bl] == '/' || url[bl] == '?' || !url[bl]);
    if (authz && *authz && (same || authz != s->authz))
        hl = curl_slist_append(hl, authz);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, q->follow ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    double left = s->deadline - mono_now();
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left > 0.001 ? (long)(left * 1e3) : 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "funk/registry");
    if (s->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(q->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(q->method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->blen);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    return rc;
}

/* Value of a WWW-Authenticate parameter (quoted or not). */
static int challenge_param(const char *www, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = www; (p = strcasestr(p, key)) != NULL; p += kl) {
        if (p != www && p[-1] != ' ' && p[-1] != ',')
            continue;
        if (p[kl] != '=')
            continue;
        const char *v = p + kl + 1;
        size_t n;
        if (*v == '"') {
            v++;
            const char *e = strchr(v, '"');
            if (!e)
                return -EINVAL;
            n = (size_t)(e - v);
        } else {
            n = strcspn(v, ", ");
        }
        if (n >= cap)
            return -ENAMETOOLONG;
        memcpy(out, v, n);
        out[n] = '\0';
        return 0;
    }
    return -ENOENT;
}

/* Answers a 401: Basic with the stored credentials, or a Bearer token from the realm. */
static int authenticate(struct sess *s, const char *www)
{
    if (strncasecmp(www, "Basic", 5) == 0) {
        if (!s->basic[0]) {
            seterr(s->err, s->errlen, "%s asks for credentials: run `funk registry-login`",
                   s->host);
            return -EACCES;
        }
        snprintf(s->authz, sizeof s->authz, "Authorization: Basic %s", s->basic);
        return 0;
    }
    if (strncasecmp(www, "Bearer", 6) != 0) {
        seterr(s->err, s->errlen, "%s: unsupported authentication challenge", s->host);
        return -EACCES;
    }
    char realm[1024], service[256] = "", scope[512];
    if (challenge_param(www, "realm", realm, sizeof realm) != 0 ||
        (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)) {
        seterr(s->err, s->errlen, "%s: bad token realm in its challenge", s->host);
        return -EACCES;
    }
    challenge_param(www, "service", service, sizeof service);
    if (challenge_param(www, "scope", scope, sizeof scope) != 0)
        snprintf(scope, sizeof scope, "repository:%s:%s", s->repo, s->push ? "pull,push" : "pull");
    char *es = curl_easy_escape(s->h, service, 0), *ec = curl_easy_escape(s->h, scope, 0);
    char url[2200];
    snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
             es ? es : "", ec ? ec : "");
    curl_free(es);
    curl_free(ec);
    struct xfer x = {.fd = -1, .limit = 64u << 10};
    accel_sha256_init(&x.hash);
    char basic[1100] = "";
    if (s->basic[0])
        snprintf(basic, sizeof basic, "Authorization: Basic %s", s->basic);
    struct rq q = {.method = "GET", .url = url};
    CURLcode cc = perform(s, &q, &x, basic);
    int rc = -EACCES;
    if (cc != CURLE_OK || x.status != 200) {
        if (cc != CURLE_OK)
            seterr(s->err, s->errlen, "%s: token request failed (%s)", s->host,
                   curl_easy_strerror(cc));
        else
            seterr(s->err, s->errlen, "%s: the token service answered HTTP %ld%s", s->host,
                   x.status,
                   x.status == 401 || x.status == 403
                       ? (s->basic[0] ? " (credentials refused: `funk registry-login` again)"
                                      : " (credentials needed: `funk registry-login`)")
                       : "");
        goto out;
    }
    json_t *j = json_loadb(x.buf ? x.buf : "", x.len, 0, NULL);
    json_t *t = json_object_get(j, "token");
    if (!json_is_string(t))
        t = json_object_get(j, "access_token");
    if (json_is_string(t) && json_string_length(t) < sizeof s->authz - 40 &&
        !strpbrk(json_string_value(t), "\r\n")) {
        snprintf(s->authz, sizeof s->authz, "Authorization: Bearer %s", json_string_value(t));
        rc = 0;
    } else {
        seterr(s->err, s->errlen, "%s: the token answer holds no usable token", s->host);
    }
    json_decref(j);
out:
    free(x.buf);
    return rc;
}

/* One request with the session's auth (answering one 401) and scheme fallback for insecure
 * registries. x must be set up by the caller (sink); returns 0 once an HTTP answer came. */
static int sess_req(struct sess *s, const struct rq *q, struct xfer *x)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        off_t start = x->fd >= 0 ? lseek(x->fd, 0, SEEK_CUR) : 0;
        x->status = 0;
        CURLcode cc = perform(s, q, x, s->authz);
        if (cc != CURLE_OK && !x->over && !x->io_err && !s->scheme_known &&
            strncmp(s->base, "https://", 8) == 0) {
            /* podman's --tls-verify=false: a registry without TLS is reached over http */
            char nb[300];
            snprintf(nb, sizeof nb, "http://%s", s->base + 8);
            memcpy(s->base, nb, sizeof nb);
            s->scheme_known = 1;
            continue;
        }
        if (cc != CURLE_OK) {
            if (x->over)
                seterr(s->err, s->errlen, "%s: answer larger than its limit (%llu bytes)", q->url,
                       (unsigned long long)x->limit);
            else
                seterr(s->err, s->errlen, "%s %s%s: %s", q->method, s->base, q->url,
                       curl_easy_strerror(cc));
            return x->over ? -EFBIG : -EIO;
        }
        s->scheme_known = 1;
        if (x->status == 401 && attempt == 0 && x->www[0]) {
            char www[sizeof x->www];
            memcpy(www, x->www, sizeof www);
            int rc = authenticate(s, www);
            if (rc)
                return rc;
            if (x->fd >= 0 && (ftruncate(x->fd, start) != 0 || lseek(x->fd, start, SEEK_SET) < 0))
                return -errno;
            continue;
        }
        return 0;
    }
    seterr(s->err, s->errlen, "%s: no answer", s->host);
    return -EIO;
}

static void xfer_init(struct xfer *x, int fd, uint64_t limit)
{
    memset(x, 0, sizeof *x);
    x->fd = fd;
    x->limit = limit;
    accel_sha256_init(&x->hash);
}

static void status_err(struct sess *s, const char *what, long status)
{
    seterr(s->err, s->errlen, "%s: the registry %s answered HTTP %ld%s", what, s->host, status,
           status == 401 || status == 403 ? " (credentials: `funk registry-login`)"
           : status == 404                ? " (not found)"
                                          : "");
}

/* ---- push -------------------------------------------------------------------------------- */

struct src {
    const char *dir; /* layout directory, or */
    char *ar;        /* an oci-archive in memory */
    size_t arlen;
    uint64_t max_blob;
};

/* A blob of the source, checked against its digest; *owned says whether to free *d. */
static int src_blob(struct src *sr, const char *digest, const char **d, size_t *n, char **owned,
                    char *err, size_t errlen)
{
    *owned = NULL;
    if (!funk_digest_valid(digest)) {
        seterr(err, errlen, "malformed digest '%s'", digest ? digest : "(none)");
        return -EINVAL;
    }
    int rc;
    if (sr->dir) {
        char p[PATH_MAX];
        if ((rc = blob_path(p, sizeof p, sr->dir, digest)) != 0 ||
            (rc = read_file(p, sr->max_blob, owned, n)) != 0) {
            seterr(err, errlen, "blob %s: %s", digest, strerror(-rc));
            return rc;
        }
        *d = *owned;
    } else {
        char name[100];
        snprintf(name, sizeof name, "blobs/sha256/%s", digest + 7);
        if ((rc = funk_tar_find(sr->ar, sr->arlen, name, d, n)) != 0) {
            seterr(err, errlen, "blob %s: %s", digest,
                   rc == -ENOENT ? "not in the archive" : "malformed archive");
            return rc;
        }
    }
    char got[72];
    digest_of(*d, *n, got);
    if (strcmp(got, digest) != 0) {
        seterr(err, errlen, "blob %s does not match its digest", digest);
        free(*owned);
        *owned = NULL;
        return -EBADMSG;
    }
    return 0;
}

static int push_blob(struct sess *s, const char *digest, const void *d, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "/v2/%s/blobs/%s", s->repo, digest);
    struct xfer x;
    xfer_init(&x, -1, 64u << 10);
    struct rq q = {.method = "HEAD", .url = path};
    int rc = sess_req(s, &q, &x);
    if (rc)
        goto out;
    if (x.status == 200)
        goto out; /* the registry has it */
    snprintf(path, sizeof path, "/v2/%s/blobs/uploads/", s->repo);
    xfer_init(&x, -1, 64u << 10);
    struct rq post = {.method = "POST", .url = path};
    if ((rc = sess_req(s, &post, &x)) != 0)
        goto out;
    if (x.status != 202 || !x.location[0]) {
        status_err(s, "starting an upload", x.status);
        rc = -EIO;
        goto out;
    }
    char url[2400];
    const char *loc = x.location;
    if (loc[0] == '/')
        snprintf(url, sizeof url, "%s%s", s->base, loc);
    else if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
        snprintf(url, sizeof url, "%s", loc);
    else {
        seterr(s->err, s->errlen, "the registry's upload location '%.200s' is not a URL", loc);
        rc = -EIO;
        goto out;
    }
    size_t ul = strlen(url);
    snprintf(url + ul, sizeof url - ul, "%sdigest=sha256%%3A%s", strchr(url, '?') ? "&" : "?",
             digest + 7);
    free(x.buf);
    xfer_init(&x, -1, 64u << 10);
    struct rq put = {
        .method = "PUT", .url = url, .ctype = "application/octet-stream", .body = d, .blen = n};
    if ((rc = sess_req(s, &put, &x)) != 0)
        goto out;
    if (x.status != 201) {
        status_err(s, "uploading a blob", x.status);
        rc = -EIO;
    }
out:
    free(x.buf);
    return rc;
}

int funk_reg_push(const char *src, const struct funk_ref *ref, const struct funk_reg_opts *o,
                  char digest[72], char *err, size_t errlen)
{
    struct src sr = {.max_blob = o->max_blob};
    struct stat st;
    json_t *index = NULL, *man = NULL;
    char *ibuf = NULL, *mown = NULL;
    struct sess s = {0};
    int rc;
    if (stat(src, &st) != 0) {
        seterr(err, errlen, "cannot read '%s': %s", src, strerror(errno));
        return -errno;
    }
    if (S_ISDIR(st.st_mode)) {
        sr.dir = src;
        char p[PATH_MAX];
        size_t n;
        pfmt(p, sizeof p, "%s/index.json", src);
        if ((rc = read_file(p, o->max_manifest, &ibuf, &n)) != 0) {
            seterr(err, errlen, "'%s' is not an OCI image layout (index.json: %s)", src,
                   strerror(-rc));
            return rc;
        }
        index = json_loadb(ibuf, n, 0, NULL);
    } else {
        if ((rc = read_file(src, o->max_total + (64u << 20), &sr.ar, &sr.arlen)) != 0) {
            seterr(err, errlen, "cannot read '%s': %s", src, strerror(-rc));
            return rc;
        }
        const char *d;
        size_t n;
        if (funk_tar_find(sr.ar, sr.arlen, "index.json", &d, &n) != 0) {
            seterr(err, errlen, "'%s' is not an oci-archive (no index.json)", src);
            rc = -EINVAL;
            goto out;
        }
        index = json_loadb(d, n, 0, NULL);
    }
    json_t *m0 = json_array_get(json_object_get(index, "manifests"), 0);
    const char *md = json_string_value(json_object_get(m0, "digest"));
    if (!m0 || !md) {
        seterr(err, errlen, "'%s': its index.json lists no manifest", src);
        rc = -EINVAL;
        goto out;
    }
    const char *mbytes;
    size_t mlen;
    if ((rc = src_blob(&sr, md, &mbytes, &mlen, &mown, err, errlen)) != 0)
        goto out;
    man = json_loadb(mbytes, mlen, 0, NULL);
    const char *mt = json_string_value(json_object_get(man, "mediaType"));
    if (!mt)
        mt = json_string_value(json_object_get(m0, "mediaType"));
    if (!mt)
        mt = MT_OCI_MANIFEST;
    if (strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0) {
        seterr(err, errlen, "'%s': only single image manifests can be pushed (found %s)", src, mt);
        rc = -ENOTSUP;
        goto out;
    }
    json_t *layers = json_object_get(man, "layers");
    if (!json_is_object(json_object_get(man, "config")) || !json_is_array(layers) ||
        json_array_size(layers) > o->max_layers) {
        seterr(err, errlen, "'%s': the manifest has no config, or too many layers", src);
        rc = -EINVAL;
        goto out;
    }
    if ((rc = sess_init(&s, ref, o, 1, err, errlen)) != 0)
        goto out;
    for (size_t i = 0; i <= json_array_size(layers); i++) {
        json_t *b = i == 0 ? json_object_get(man, "config") : json_array_get(layers, i - 1);
        const char *bd = json_string_value(json_object_get(b, "digest"));
        const char *d;
        size_t n;
        char *own;
        if ((rc = src_blob(&sr, bd, &d, &n, &own, err, errlen)) != 0)
            goto out;
        rc = push_blob(&s, bd, d, n);
        free(own);
        if (rc)
            goto out;
    }
    char path[600];
    snprintf(path, sizeof path, "/v2/%s/manifests/%s", ref->repo,
             ref->tag[0] ? ref->tag : ref->digest);
    struct xfer x;
    xfer_init(&x, -1, 64u << 10);
    struct rq put = {.method = "PUT", .url = path, .ctype = mt, .body = mbytes, .blen = mlen};
    rc = sess_req(&s, &put, &x);
    free(x.buf);
    if (rc)
        goto out;
    if (x.status != 201) {
        status_err(&s, "putting the manifest", x.status);
        rc = -EIO;
        goto out;
    }
    if (x.dcd[0] && strcmp(x.dcd, md) != 0) {
        seterr(err, errlen, "the registry stored the manifest as %s, not %s", x.dcd, md);
        rc = -EBADMSG;
        goto out;
    }
    memcpy(digest, md, FUNK_DIGEST_LEN + 1);
    rc = 0;
out:
    sess_end(&s);
    json_decref(index);
    json_decref(man);
    free(ibuf);
    free(mown);
    free(sr.ar);
    return rc;
}

/* ---- pull -------------------------------------------------------------------------------- */

typedef int (*blob_get_fn)(void *ctx, const char *digest, uint64_t size, const char *path,
                           char *err, size_t errlen);

/* Fetches the config and layers of a manifest into dir/blobs, within the caps. */
static int store_blobs(json_t *man, const struct funk_reg_opts *o, blob_get_fn get, void *ctx,
                       const char *dir, char *err, size_t errlen)
{
    json_t *layers = json_object_get(man, "layers");
    if (!json_is_object(json_object_get(man, "config")) || !json_is_array(layers)) {
        seterr(err, errlen, "the manifest has no config or no layers");
        return -EINVAL;
    }
    if (json_array_size(layers) > o->max_layers) {
        seterr(err, errlen, "the manifest has %zu layers (at most %u)", json_array_size(layers),
               o->max_layers);
        return -EFBIG;
    }
    uint64_t total = 0;
    for (size_t i = 0; i <= json_array_size(layers); i++) {
        json_t *b = i == 0 ? json_object_get(man, "config") : json_array_get(layers, i - 1);
        const char *d = json_string_value(json_object_get(b, "digest"));
        json_t *sz = json_object_get(b, "size");
        if (!funk_digest_valid(d) || !json_is_integer(sz) || json_integer_value(sz) < 0) {
            seterr(err, errlen, "a manifest entry has a malformed digest or size");
            return -EINVAL;
        }
        uint64_t size = (uint64_t)json_integer_value(sz);
        if (size > o->max_blob || size > o->max_total - total) {
            seterr(err, errlen,
                   "blob %s is too large (%llu bytes; caps %llu per blob, %llu per "
                   "image)",
                   d, (unsigned long long)size, (unsigned long long)o->max_blob,
                   (unsigned long long)o->max_total);
            return -EFBIG;
        }
        total += size;
        char p[PATH_MAX];
        if (blob_path(p, sizeof p, dir, d) != 0)
            return -ENAMETOOLONG;
        struct stat st;
        if (stat(p, &st) == 0)
            continue; /* the same blob twice in one manifest */
        int rc = get(ctx, d, size, p, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int is_index(const char *mt)
{
    return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

struct net_ctx {
    struct sess *s;
};

static int net_get(void *ctx, const char *digest, uint64_t size, const char *path, char *err,
                   size_t errlen)
{
    struct sess *s = ((struct net_ctx *)ctx)->s;
    char tmp[PATH_MAX + 8];
    pfmt(tmp, sizeof tmp, "%s.part", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -errno;
    }
    char url[600];
    snprintf(url, sizeof url, "/v2/%s/blobs/%s", s->repo, digest);
    struct xfer x;
    xfer_init(&x, fd, size);
    struct rq q = {.method = "GET", .url = url, .follow = 1};
    if (s->o->blob_gets)
        ++*s->o->blob_gets;
    int rc = sess_req(s, &q, &x);
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && x.status != 200) {
        status_err(s, digest, x.status);
        rc = -EIO;
    }
    if (rc == 0) {
        uint8_t h[32];
        char got[72];
        accel_sha256_final(&x.hash, h);
        hex_digest(h, got);
        if (x.total != size || strcmp(got, digest) != 0) {
            seterr(err, errlen,
                   "blob %s from %s does not match its digest or size (%llu of %llu bytes): "
                   "refused (tampered or corrupt)",
                   digest, s->host, (unsigned long long)x.total, (unsigned long long)size);
            rc = -EBADMSG;
        }
    } else if (rc == -EFBIG) {
        seterr(err, errlen, "blob %s from %s is larger than its manifest says: refused", digest,
               s->host);
        rc = -EBADMSG;
    }
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* GET a manifest by tag or digest into *out (verified against want when given). */
static int get_manifest(struct sess *s, const char *what, const char *want, char **out, size_t *len,
                        char digest[72], char *mt, size_t mtcap)
{
    char url[600];
    snprintf(url, sizeof url, "/v2/%s/manifests/%s", s->repo, what);
    struct xfer x;
    xfer_init(&x, -1, s->o->max_manifest);
    struct rq q = {.method = "GET",
                   .url = url,
                   .follow = 1,
                   .accept = MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST
                                             ", " MT_DOCKER_LIST};
    int rc = sess_req(s, &q, &x);
    if (rc) {
        free(x.buf);
        return rc;
    }
    if (x.status != 200) {
        status_err(s, what, x.status);
        free(x.buf);
        return x.status == 404 ? -ENOENT : -EIO;
    }
    if (!x.buf) {
        seterr(s->err, s->errlen, "%s: empty manifest", what);
        return -EINVAL;
    }
    digest_of(x.buf, x.len, digest);
    if ((want && strcmp(digest, want) != 0) || (!want && x.dcd[0] && strcmp(x.dcd, digest) != 0)) {
        seterr(s->err, s->errlen, "manifest %s from %s does not match its digest: refused",
               want ? want : x.dcd, s->host);
        free(x.buf);
        return -EBADMSG;
    }
    json_t *j = json_loadb(x.buf, x.len, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "mediaType"));
    if (!m && x.ctype[0])
        m = x.ctype;
    snprintf(mt, mtcap, "%.*s", (int)strcspn(m ? m : MT_OCI_MANIFEST, ";"),
             m ? m : MT_OCI_MANIFEST);
    int obj = json_is_object(j);
    json_decref(j);
    if (!obj) {
        seterr(s->err, s->errlen, "%s: the manifest is not a JSON object", what);
        free(x.buf);
        return -EINVAL;
    }
    *out = x.buf;
    *len = x.len;
    return 0;
}

static int cache_has(const char *cache_root, const char *digest, char *out_dir)
{
    char p[PATH_MAX];
    int n = snprintf(out_dir, PATH_MAX, "%s/sha256/%s", cache_root, digest + 7);
    if (n < 0 || n >= PATH_MAX)
        return 0;
    pfmt(p, sizeof p, "%s/index.json", out_dir);
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A private working directory inside the cache, renamed into place when complete. */
static int cache_workdir(const char *cache_root, char *work)
{
    char p[PATH_MAX];
    if (mkdir(cache_root, 0700) != 0 && errno != EEXIST)
        return -errno;
    pfmt(p, sizeof p, "%s/sha256", cache_root);
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return -errno;
    pfmt(work, PATH_MAX, "%s/tmp-XXXXXX", cache_root);
    return mkdtemp(work) ? 0 : -errno;
}

static int cache_commit(const char *work, const char *final)
{
    if (rename(work, final) == 0)
        return 0;
    if (errno == EEXIST || errno == ENOTEMPTY) {
        rm_tree(work); /* another deploy stored the same image first */
        return 0;
    }
    return -errno;
}

int funk_reg_pull(const struct funk_ref *ref, const struct funk_reg_opts *o, const char *dir,
                  const char *cache_root, char digest[72], char *out_dir, char *err, size_t errlen)
{
    char final[PATH_MAX], work[PATH_MAX];
    if (cache_root && ref->digest[0] && cache_has(cache_root, ref->digest, final)) {
        memcpy(digest, ref->digest, FUNK_DIGEST_LEN + 1);
        pfmt(out_dir, PATH_MAX, "%s", final);
        return 0;
    }
    struct sess s;
    char *top = NULL, *mb = NULL;
    size_t toplen = 0, mlen = 0;
    json_t *man = NULL, *idx = NULL;
    int made_work = 0;
    char mt[128], mdig[72];
    int rc = sess_init(&s, ref, o, 0, err, errlen);
    if (rc)
        goto out;
    rc = get_manifest(&s, ref->digest[0] ? ref->digest : ref->tag,
                      ref->digest[0] ? ref->digest : NULL, &top, &toplen, digest, mt, sizeof mt);
    if (rc)
        goto out;
    if (cache_root && cache_has(cache_root, digest, final)) {
        pfmt(out_dir, PATH_MAX, "%s", final);
        goto out;
    }
    if (cache_root) {
        if ((rc = cache_workdir(cache_root, work)) != 0) {
            seterr(err, errlen, "cannot create a directory in %s: %s", cache_root, strerror(-rc));
            goto out;
        }
        made_work = 1;
    } else {
        pfmt(work, sizeof work, "%s", dir);
    }
    if ((rc = layout_dirs(work)) != 0) {
        seterr(err, errlen, "cannot create %s: %s", work, strerror(-rc));
        goto out;
    }
    char p[PATH_MAX];
    if (is_index(mt)) {
        /* a multi-platform image: the linux/amd64 manifest */
        if ((rc = blob_path(p, sizeof p, work, digest)) != 0 ||
            (rc = write_file(p, top, toplen, 0644)) != 0)
            goto io;
        idx = json_loadb(top, toplen, 0, NULL);
        json_t *ms = json_object_get(idx, "manifests"), *e, *pick = NULL;
        size_t i;
        if (!json_is_array(ms) || json_array_size(ms) > MAX_INDEX_ENTRIES) {
            seterr(err, errlen, "the image index lists no manifests, or more than %d",
                   MAX_INDEX_ENTRIES);
            rc = -EINVAL;
            goto out;
        }
        json_array_foreach(ms, i, e)
        {
            json_t *pl = json_object_get(e, "platform");
            const char *os = json_string_value(json_object_get(pl, "os"));
            const char *arch = json_string_value(json_object_get(pl, "architecture"));
            if (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, "amd64") == 0) {
                pick = e;
                break;
            }
        }
        if (!pick && json_array_size(ms) == 1 &&
            !json_object_get(json_array_get(ms, 0), "platform"))
            pick = json_array_get(ms, 0);
        const char *pd = json_string_value(json_object_get(pick, "digest"));
        if (!pick || !funk_digest_valid(pd)) {
            seterr(err, errlen, "the image has no linux/amd64 manifest");
            rc = -ENOENT;
            goto out;
        }
        char pmt[128];
        if ((rc = get_manifest(&s, pd, pd, &mb, &mlen, mdig, pmt, sizeof pmt)) != 0)
            goto out;
        if (is_index(pmt)) {
            seterr(err, errlen, "nested image indexes are not supported");
            rc = -ENOTSUP;
            goto out;
        }
        snprintf(mt, sizeof mt, "%s", pmt);
    } else {
        mb = top;
        mlen = toplen;
        top = NULL;
        memcpy(mdig, digest, sizeof mdig);
    }
    man = json_loadb(mb, mlen, 0, NULL);
    struct net_ctx nc = {&s};
    if ((rc = store_blobs(man, o, net_get, &nc, work, err, errlen)) != 0)
        goto out;
    if ((rc = blob_path(p, sizeof p, work, mdig)) != 0 || (rc = write_file(p, mb, mlen, 0644)) != 0)
        goto io;
    char refname[300];
    snprintf(refname, sizeof refname, "%s", ref->tag[0] ? ref->tag : "");
    if ((rc = write_index(work, mt, mdig, mlen, refname)) != 0)
        goto io;
    if (cache_root) {
        if ((rc = cache_commit(work, final)) != 0)
            goto io;
        made_work = 0;
        pfmt(out_dir, PATH_MAX, "%s", final);
    } else {
        pfmt(out_dir, PATH_MAX, "%s", work);
    }
    rc = 0;
    goto out;
io:
    seterr(err, errlen, "cannot write the image: %s", strerror(-rc));
out:
    if (made_work)
        rm_tree(work);
    sess_end(&s);
    json_decref(man);
    json_decref(idx);
    free(top);
    free(mb);
    return rc;
}

/* ---- oci-archive import ------------------------------------------------------------------- */

struct ar_ctx {
    const char *t;
    size_t len;
};

static int ar_get(void *ctx, const char *digest, uint64_t size, const char *path, char *err,
                  size_t errlen)
{
    struct ar_ctx *a = ctx;
    char name[100];
    snprintf(name, sizeof name, "blobs/sha256/%s", digest + 7);
    const char *d;
    size_t n;
    if (funk_tar_find(a->t, a->len, name, &d, &n) != 0) {
        seterr(err, errlen, "blob %s is not in the archive", digest);
        return -ENOENT;
    }
    char got[72];
    digest_of(d, n, got);
    if (n != size || strcmp(got, digest) != 0) {
        seterr(err, errlen, "blob %s does not match its digest or size: refused", digest);
        return -EBADMSG;
    }
    int rc = write_file(path, d, n, 0644);
    if (rc)
        seterr(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return rc;
}

int funk_reg_import_archive(const void *tar, size_t len, const struct funk_reg_opts *o,
                            const char *cache_root, char digest[72], char *err, size_t errlen)
{
    struct ar_ctx a = {tar, len};
    const char *d, *mb;
    size_t n, mlen;
    json_t *idx = NULL, *man = NULL;
    char work[PATH_MAX], final[PATH_MAX], p[PATH_MAX];
    int made = 0, rc;
    if (funk_tar_find(tar, len, "index.json", &d, &n) != 0) {
        seterr(err, errlen, "not an oci-archive (no index.json)");
        return -EINVAL;
    }
    idx = json_loadb(d, n, 0, NULL);
    json_t *m0 = json_array_get(json_object_get(idx, "manifests"), 0);
    const char *md = json_string_value(json_object_get(m0, "digest"));
    if (!funk_digest_valid(md)) {
        seterr(err, errlen, "the archive's index.json lists no manifest");
        rc = -EINVAL;
        goto out;
    }
    char name[100];
    snprintf(name, sizeof name, "blobs/sha256/%s", md + 7);
    if (funk_tar_find(tar, len, name, &mb, &mlen) != 0 || mlen > o->max_manifest) {
        seterr(err, errlen, "the archive lacks its manifest, or it is too large");
        rc = -EINVAL;
        goto out;
    }
    digest_of(mb, mlen, digest);
    if (strcmp(digest, md) != 0) {
        seterr(err, errlen, "the manifest does not match its digest: refused");
        rc = -EBADMSG;
        goto out;
    }
    man = json_loadb(mb, mlen, 0, NULL);
    const char *mt = json_string_value(json_object_get(man, "mediaType"));
    if (!mt)
        mt = MT_OCI_MANIFEST;
    if (strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0) {
        seterr(err, errlen, "only single image manifests are accepted (found %s)", mt);
        rc = -ENOTSUP;
        goto out;
    }
    if (cache_has(cache_root, digest, final)) {
        rc = 0;
        goto out;
    }
    if ((rc = cache_workdir(cache_root, work)) != 0 || (made = 1, rc = layout_dirs(work)) != 0) {
        seterr(err, errlen, "cannot create a directory in %s: %s", cache_root, strerror(-rc));
        goto out;
    }
    if ((rc = store_blobs(man, o, ar_get, &a, work, err, errlen)) != 0)
        goto out;
    if ((rc = blob_path(p, sizeof p, work, digest)) != 0 ||
        (rc = write_file(p, mb, mlen, 0644)) != 0 ||
        (rc = write_index(work, mt, digest, mlen, NULL)) != 0 ||
        (rc = cache_commit(work, final)) != 0) {
        seterr(err, errlen, "cannot store the image: %s", strerror(-rc));
        goto out;
    }
    made = 0;
out:
    if (made)
        rm_tree(work);
    json_decref(idx);
    json_decref(man);
    return rc;
}

/* ---- login ------------------------------------------------------------------------------- */

int funk_reg_login(const char *auth_file, const char *host, const char *user, const char *pass,
                   char *err, size_t errlen)
{
    char def[PATH_MAX], up[600], enc[1024];
    if (!auth_file) {
        if (funk_reg_auth_file_default(def, sizeof def) != 0) {
            seterr(err, errlen, "no $XDG_CONFIG_HOME or $HOME for the credentials file");
            return -ENOENT;
        }
        auth_file = def;
    }
    int n = snprintf(up, sizeof up, "%s:%s", user, pass);
    if (n < 0 || (size_t)n >= sizeof up || b64_encode(up, (size_t)n, enc, sizeof enc) != 0) {
        seterr(err, errlen, "credentials too long");
        return -EINVAL;
    }
    /* the file's directory, private */
    char dir[PATH_MAX];
    pfmt(dir, sizeof dir, "%s", auth_file);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        char *parent = strrchr(dir, '/');
        if (parent && parent != dir) {
            *parent = '\0';
            mkdir(dir, 0700); /* ~/.config */
            *parent = '/';
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            seterr(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            return -errno;
        }
    }
    char *b = NULL;
    size_t bl;
    json_t *j =
        read_file(auth_file, MAX_AUTH_FILE, &b, &bl) == 0 ? json_loadb(b, bl, 0, NULL) : NULL;
    free(b);
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    json_t *auths = json_object_get(j, "auths");
    if (!json_is_object(auths)) {
        auths = json_object();
        json_object_set_new(j, "auths", auths);
    }
    json_object_set_new(auths, host, json_pack("{s:s}", "auth", enc));
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (!s)
        return -ENOMEM;
    char tmp[PATH_MAX + 8];
    pfmt(tmp, sizeof tmp, "%s.tmp", auth_file);
    unlink(tmp);
    int rc = write_file(tmp, s, strlen(s), 0600);
    free(s);
    if (rc == 0 && chmod(tmp, 0600) != 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, auth_file) != 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        seterr(err, errlen, "cannot write %s: %s", auth_file, strerror(-rc));
    }
    return rc;
}
