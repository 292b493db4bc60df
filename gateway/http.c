/* SPDX-License-Identifier: Apache-2.0 */
/* funkd HTTP API (libmicrohttpd): routing, basic auth, the OpenFaaS endpoints, invocations. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "gw.h"
#include "ui.h"

/* libmicrohttpd's memory per connection: request line, headers and I/O buffers (larger heads
 * are refused); bodies are ours, at most --max-body. */
#define GW_HTTP_HEAD_MAX (32 * 1024)

/* GatewayInfo.arch: the machine funkd runs on */
#if defined(__x86_64__)
#define GW_ARCH "x86_64"
#elif defined(__aarch64__)
#define GW_ARCH "arm64"
#else
#define GW_ARCH "unknown"
#endif

/* One request. Its body is read only once the head has been routed, authorized and (for
 * invocations) its function found: see on_head. */
struct conn {
    char *uri; /* raw request target, query included */
    char *body;
    size_t len, cap;
    size_t limit;           /* Content-Length, or --max-body for a chunked body */
    size_t dropped;         /* body bytes past a limit, read and thrown away */
    struct gw_function *fn; /* invocations: found from the head, reference held */
    int started;
    int too_big; /* over --max-body: 413 */
    int busy;    /* over --max-body-total: 503 */
};

/* Capacity of all request-body buffers together, bytes (atomic): at most --max-body-total. */
static size_t bodies_bytes;

/* Makes room for need bytes (plus a NUL) in x->body: 0, -EBUSY over --max-body-total, -ENOMEM. */
static int body_reserve(struct conn *x, size_t need)
{
    if (need + 1 <= x->cap)
        return 0;
    size_t nc = x->cap ? x->cap : 4096;
    while (nc < need + 1)
        nc *= 2;
    if (nc > x->limit + 1)
        nc = x->limit + 1; /* need <= limit <= max_body */
    size_t grow = nc - x->cap;
    if (__atomic_add_fetch(&bodies_bytes, grow, __ATOMIC_RELAXED) > gw_cfg.max_body_total) {
        __atomic_sub_fetch(&bodies_bytes, grow, __ATOMIC_RELAXED);
        return -EBUSY;
    }
    char *nb = realloc(x->body, nc);
    if (!nb) {
        __atomic_sub_fetch(&bodies_bytes, grow, __ATOMIC_RELAXED);
        return -ENOMEM;
    }
    x->body = nb;
    x->cap = nc;
    return 0;
}

static void body_free(struct conn *x)
{
    __atomic_sub_fetch(&bodies_bytes, x->cap, __ATOMIC_RELAXED);
    free(x->body);
    x->body = NULL;
    x->len = x->cap = 0;
}

/* ---- small helpers ------------------------------------------------------------------------ */

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *ctype,
                                const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    char buf[1200];
    snprintf(buf, sizeof buf, "%s\n", text);
    return send_buf(c, status, "text/plain; charset=utf-8", buf, strlen(buf));
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return send_text(c, 500, "out of memory");
    enum MHD_Result r = send_buf(c, status, "application/json", s, strlen(s));
    free(s);
    return r;
}

static const char *qarg(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

static const char *header(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, k);
}

static const char *ns_or_default(const char *ns)
{
    return ns && *ns ? ns : GW_DEFAULT_NS;
}

/* Parses the request body as a JSON object; NULL and a 400 answer otherwise. */
static json_t *body_json(struct MHD_Connection *c, struct conn *x, enum MHD_Result *ret)
{
    json_error_t e;
    json_t *j = x->len ? json_loadb(x->body, x->len, 0, &e) : NULL;
    if (!j || !json_is_object(j)) {
        char msg[300];
        if (!x->len)
            snprintf(msg, sizeof msg, "a JSON body is required");
        else if (!j)
            snprintf(msg, sizeof msg, "malformed JSON: %s (line %d, column %d)", e.text, e.line,
                     e.column);
        else
            snprintf(msg, sizeof msg, "the JSON body must be an object");
        json_decref(j);
        *ret = send_text(c, 400, msg);
        return NULL;
    }
    return j;
}

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* Decodes base64 (padding optional); returns length or -1. out needs strlen(in) bytes. */
static long b64dec(const char *in, unsigned char *out)
{
    long n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        int v = b64val((unsigned char)*in);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    while (*in == '=')
        in++;
    return *in ? -1 : n;
}

static int ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static int authorized(struct MHD_Connection *c)
{
    const char *h = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return 0;
    h += 6;
    while (*h == ' ')
        h++;
    size_t l = strlen(h);
    if (l > 4096)
        return 0;
    unsigned char *dec = malloc(l + 1);
    long n = dec ? b64dec(h, dec) : -1;
    int ok = 0;
    if (n >= 0) {
        dec[n] = '\0';
        char *colon = strchr((char *)dec, ':');
        if (colon && memchr(dec, '\0', (size_t)n) == NULL) {
            *colon = '\0';
            ok = ct_equal((char *)dec, gw_cfg.auth_user) & ct_equal(colon + 1, gw_cfg.auth_pass);
        }
    }
    free(dec);
    return ok;
}

static enum MHD_Result send_unauthorized(struct MHD_Connection *c)
{
    static const char body[] = "invalid credentials\n";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"Restricted\"");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, 401, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- /system/functions, /system/function/NAME, scale ------------------------------------ */

static enum MHD_Result h_functions(struct MHD_Connection *c, const char *method, struct conn *x)
{
    enum MHD_Result ret = MHD_NO;
    if (strcmp(method, "GET") == 0)
        return send_json(c, 200, gw_fn_list(ns_or_default(qarg(c, "namespace"))));
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        json_t *j = body_json(c, x, &ret);
        if (!j)
            return ret;
        const char *qns = qarg(c, "namespace");
        if (qns && *qns && !json_object_get(j, "namespace"))
            json_object_set_new(j, "namespace", json_string(qns));
        char err[600];
        int rc = gw_fn_deploy(j, method[1] == 'U', err, sizeof err);
        json_decref(j);
        if (rc == -ENOENT)
            return send_text(c, 404, err);
        if (rc != 0)
            return send_text(c, rc == -EINVAL ? 400 : 500, err);
        return send_buf(c, 202, NULL, "", 0);
    }
    if (strcmp(method, "DELETE") == 0) {
        json_t *j = body_json(c, x, &ret);
        if (!j)
            return ret;
        const char *name = json_string_value(json_object_get(j, "functionName"));
        const char *ns = json_string_value(json_object_get(j, "namespace"));
        if (!ns || !*ns)
            ns = qarg(c, "namespace");
        char nm[GW_NAME_MAX], nsb[GW_NAME_MAX];
        snprintf(nm, sizeof nm, "%s", name ? name : "");
        snprintf(nsb, sizeof nsb, "%s", ns_or_default(ns));
        json_decref(j);
        if (!gw_valid_name(nm))
            return send_text(c, 400, "'functionName' is required");
        if (gw_fn_delete(nm, nsb) != 0) {
            char msg[400];
            snprintf(msg, sizeof msg, "function %s not found in namespace %s", nm, nsb);
            return send_text(c, 404, msg);
        }
        return send_buf(c, 202, NULL, "", 0);
    }
    return send_text(c, 405, "method not allowed");
}

/* POST /system/images: an oci-archive (funk image build --archive) as the body, checked and
 * stored in the image cache; deploy it with "image": "sha256:<digest>". */
static enum MHD_Result h_images(struct MHD_Connection *c, const char *method, struct conn *x)
{
    if (strcmp(method, "POST") != 0)
        return send_text(c, 405, "method not allowed");
    char digest[72], err[600];
    int rc = gw_image_import(x->body ? x->body : "", x->len, digest, err, sizeof err);
    if (rc != 0)
        return send_text(c,
                         rc == -EBADMSG || rc == -EINVAL || rc == -ENOENT || rc == -EFBIG ||
                                 rc == -ENOTSUP
                             ? 400
                             : 500,
                         err);
    return send_json(c, 200, json_pack("{s:s, s:s}", "digest", digest, "image", digest));
}

static enum MHD_Result h_function(struct MHD_Connection *c, const char *method, const char *name)
{
    if (strcmp(method, "GET") != 0)
        return send_text(c, 405, "method not allowed");
    const char *ns = ns_or_default(qarg(c, "namespace"));
    struct gw_function *fn = gw_valid_name(name) ? gw_fn_get(name, ns) : NULL;
    if (!fn) {
        char msg[400];
        snprintf(msg, sizeof msg, "function %s not found in namespace %s", name, ns);
        return send_text(c, 404, msg);
    }
    json_t *s = gw_fn_status(fn);
    gw_fn_put(fn);
    return send_json(c, 200, s);
}

static enum MHD_Result h_scale(struct MHD_Connection *c, const char *method, const char *name,
                               struct conn *x)
{
    enum MHD_Result ret = MHD_NO;
    if (strcmp(method, "POST") != 0)
        return send_text(c, 405, "method not allowed");
    json_t *j = body_json(c, x, &ret);
    if (!j)
        return ret;
    json_t *rep = json_object_get(j, "replicas");
    const char *ns = json_string_value(json_object_get(j, "namespace"));
    if (!ns || !*ns)
        ns = qarg(c, "namespace");
    char nsb[GW_NAME_MAX];
    snprintf(nsb, sizeof nsb, "%s", ns_or_default(ns));
    if (!json_is_integer(rep) || json_integer_value(rep) < 0 || json_integer_value(rep) > 1000) {
        json_decref(j);
        return send_text(c, 400, "'replicas' must be an integer between 0 and 1000");
    }
    int r = (int)json_integer_value(rep);
    json_decref(j);
    int rc = gw_valid_name(name) ? gw_fn_scale(name, nsb, r) : -ENOENT;
    if (rc == -EOPNOTSUPP) {
        char msg[600];
        snprintf(msg, sizeof msg,
                 "function %s in namespace %s cannot be scaled: it runs each call in a guest of "
                 "its own (per-request or snapshot mode), so it has no replicas; deploy it with "
                 "the label com.funk.mode=warm to have instances that scale",
                 name, nsb);
        return send_text(c, 409, msg);
    }
    if (rc != 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "function %s not found in namespace %s", name, nsb);
        return send_text(c, 404, msg);
    }
    return send_buf(c, 202, NULL, "", 0);
}

/* ---- /system/secrets ---------------------------------------------------------------------- */

static enum MHD_Result h_secrets(struct MHD_Connection *c, const char *method, struct conn *x)
{
    enum MHD_Result ret = MHD_NO;
    if (strcmp(method, "GET") == 0)
        return send_json(c, 200, gw_secret_list(ns_or_default(qarg(c, "namespace"))));
    int create = strcmp(method, "POST") == 0, update = strcmp(method, "PUT") == 0;
    int del = strcmp(method, "DELETE") == 0;
    if (!create && !update && !del)
        return send_text(c, 405, "method not allowed");
    json_t *j = body_json(c, x, &ret);
    if (!j)
        return ret;
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *ns = json_string_value(json_object_get(j, "namespace"));
    if (!ns || !*ns)
        ns = qarg(c, "namespace");
    ns = ns_or_default(ns);
    /* created secrets follow OpenFaaS's (Kubernetes') rule for Secret names; update and
     * delete look up what exists, which an older funkd may have created under its looser one */
    int ok = create ? name && gw_valid_dns_subdomain(name) && gw_valid_dns_label(ns)
                    : name && gw_valid_name(name) && gw_valid_name(ns);
    if (!ok || strlen(name) != json_string_length(json_object_get(j, "name"))) {
        json_decref(j);
        return send_text(c, 400,
                         create ? "'name' must be a valid secret name: a DNS-1123 subdomain (lower "
                                  "case a-z, 0-9, '-' and '.', each dot-separated part starting "
                                  "and ending with a letter or digit), in a namespace that is a "
                                  "DNS-1123 label"
                                : "'name' must be a valid secret name");
    }
    int rc;
    if (del) {
        rc = gw_secret_del(name, ns);
    } else {
        json_t *v = json_object_get(j, "value"), *raw = json_object_get(j, "rawValue");
        unsigned char *val = NULL;
        long len = -1;
        if (json_is_string(v)) {
            len = (long)json_string_length(v);
            val = malloc((size_t)len + 1);
            if (val)
                memcpy(val, json_string_value(v), (size_t)len);
        } else if (json_is_string(raw)) {
            val = malloc(json_string_length(raw) + 1);
            if (val)
                len = b64dec(json_string_value(raw), val);
        }
        if (!val || len < 0) {
            free(val);
            json_decref(j);
            return send_text(c, 400, "a secret needs 'value' (string) or 'rawValue' (base64)");
        }
        rc = gw_secret_set(name, ns, val, (size_t)len, create);
        free(val);
    }
    char msg[400];
    if (rc == -EEXIST) {
        snprintf(msg, sizeof msg, "secret %s already exists in namespace %s", name, ns);
        ret = send_text(c, 409, msg);
    } else if (rc == -ENOENT) {
        snprintf(msg, sizeof msg, "secret %s not found in namespace %s", name, ns);
        ret = send_text(c, 404, msg);
    } else if (rc != 0) {
        ret = send_text(c, 500, "cannot store the secret");
    } else {
        /* what faas-cli accepts: 200 or 202 on update and delete (faas-netes answers 202,
         * faasd 200), 200, 201 or 202 on create */
        ret = send_buf(c, create ? 201 : del ? 202 : 200, NULL, "", 0);
    }
    json_decref(j);
    return ret;
}

/* ---- /system/logs, /system/info ------------------------------------------------------------ */

static double parse_rfc3339(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    double frac = 0;
    if (*end == '.') {
        char *e2;
        frac = strtod(end, &e2);
        end = e2;
    }
    /* UTC ("Z"), or a numeric offset: faas-cli sends its local time (Go's RFC3339 layout) */
    long off = 0;
    if ((*end == '+' || *end == '-') && end[1] >= '0' && end[1] <= '9' && end[2] >= '0' &&
        end[2] <= '9' && end[3] == ':' && end[4] >= '0' && end[4] <= '9' && end[5] >= '0' &&
        end[5] <= '9' && end[6] == '\0') {
        long hh = (end[1] - '0') * 10 + (end[2] - '0'), mm = (end[4] - '0') * 10 + (end[5] - '0');
        if (hh > 23 || mm > 59)
            return -1;
        off = (hh * 3600 + mm * 60) * (*end == '-' ? -1 : 1);
    } else if (!((*end == 'Z' || *end == 'z') && end[1] == '\0') && *end != '\0') {
        return -1;
    }
    return (double)timegm(&tm) - (double)off + frac;
}

static enum MHD_Result h_logs(struct MHD_Connection *c, const char *method)
{
    if (strcmp(method, "GET") != 0)
        return send_text(c, 405, "method not allowed");
    const char *name = qarg(c, "name"), *ns = ns_or_default(qarg(c, "namespace"));
    if (!name || !*name)
        return send_text(c, 400, "the 'name' query parameter is required");
    struct gw_function *fn = gw_valid_name(name) ? gw_fn_get(name, ns) : NULL;
    if (!fn) {
        char msg[400];
        snprintf(msg, sizeof msg, "function %s not found in namespace %s", name, ns);
        return send_text(c, 404, msg);
    }
    char key[sizeof fn->key];
    snprintf(key, sizeof key, "%s", fn->key);
    gw_fn_put(fn);
    const char *t = qarg(c, "tail"), *f = qarg(c, "follow"), *s = qarg(c, "since");
    long tail = -1;
    double since = 0;
    if (t && *t) {
        char *e;
        tail = strtol(t, &e, 10);
        if (*e || tail < -1)
            return send_text(c, 400, "'tail' must be a number");
    }
    if (s && *s && (since = parse_rfc3339(s)) < 0)
        return send_text(
            c, 400, "'since' must be an RFC 3339 time (e.g. 2026-01-02T15:04:05Z or ...+01:00)");
    int follow = f && (strcmp(f, "true") == 0 || strcmp(f, "1") == 0);
    struct MHD_Response *r = gw_logs_response(key, qarg(c, "instance"), tail, follow, since);
    if (!r)
        return send_text(c, 500, "out of memory");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* As the front (--role gateway) funkd answers the gateway's GatewayInfo, which faas-cli reads:
 * {"provider": ProviderInfo, "version": VersionInfo, "arch": ...}. Behind the OpenFaaS gateway
 * (--role provider) the gateway asks its provider for faas-provider's ProviderInfo,
 * {"provider": "NAME", "orchestration": ..., "version": VersionInfo}, and wraps that in its own
 * GatewayInfo; the two cannot share one shape ("provider" is an object in one, a string in the
 * other). */
static enum MHD_Result h_info(struct MHD_Connection *c)
{
    json_t *pi = json_pack("{s:s,s:s,s:{s:s,s:s}}", "provider", "funkd", "orchestration", "funk",
                           "version", "sha", FUNK_GIT_SHA, "release", FUNK_VERSION);
    if (gw_cfg.provider)
        return send_json(c, 200, pi);
    json_t *j = json_pack("{s:o,s:{s:s,s:s},s:s}", "provider", pi, "version", "sha", FUNK_GIT_SHA,
                          "release", FUNK_VERSION, "arch", GW_ARCH);
    return send_json(c, 200, j);
}

/* ---- invocation --------------------------------------------------------------------------- */

struct hdr_block {
    char *p;
    size_t len, cap;
};

static int hop_by_hop(const char *k)
{
    static const char *const skip[] = {"Connection",
                                       "Keep-Alive",
                                       "Proxy-Authenticate",
                                       "Proxy-Authorization",
                                       "TE",
                                       "Trailer",
                                       "Transfer-Encoding",
                                       "Upgrade",
                                       "Content-Length",
                                       "Expect"};
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (strcasecmp(k, skip[i]) == 0)
            return 1;
    return 0;
}

static void hb_add(struct hdr_block *b, const char *k, const char *v)
{
    size_t need = strlen(k) + strlen(v) + 3;
    if (b->len + need + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->len + need + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return;
        b->p = np;
        b->cap = nc;
    }
    b->len += (size_t)snprintf(b->p + b->len, b->cap - b->len, "%s: %s\n", k, v);
}

static enum MHD_Result hb_iter(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    if (!hop_by_hop(k) && strcasecmp(k, "X-Call-Id") != 0 && strcasecmp(k, "X-Start-Time") != 0 &&
        v && !strpbrk(k, "\r\n") && !strpbrk(v, "\r\n"))
        hb_add(cls, k, v);
    return MHD_YES;
}

/* Copies the guest's header lines into the response; skips framing headers MHD owns. */
static void add_guest_headers(struct MHD_Response *r, const char *h, size_t len)
{
    const char *p = h, *end = h + len;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        const char *colon = memchr(p, ':', n);
        if (colon && colon > p && n < 8192) {
            char line[8192];
            memcpy(line, p, n);
            line[n] = '\0';
            if (n && line[n - 1] == '\r')
                line[n - 1] = '\0';
            line[colon - p] = '\0';
            const char *v = line + (colon - p) + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (!hop_by_hop(line) && !strchr(v, '\r') && strcasecmp(line, "X-Call-Id") != 0 &&
                strcasecmp(line, "X-Duration-Seconds") != 0 &&
                strcasecmp(line, "X-Start-Time") != 0)
                MHD_add_response_header(r, line, v);
        }
        p += n + 1;
    }
}

/* Splits "/function/NAME[.NS][/path]" after its prefix. */
static int split_target(const char *rest, char name[GW_NAME_MAX], char ns[GW_NAME_MAX],
                        const char **sub)
{
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    char full[GW_NAME_MAX];
    if (n == 0 || n >= sizeof full)
        return 0;
    memcpy(full, rest, n);
    full[n] = '\0';
    *sub = slash ? slash : "/";
    return gw_split_name(full, name, ns);
}

/* From the head of an invocation: finds the function and keeps a reference in x->fn (1), or
 * queues the answer in *ret (0: bad name, wrong method, unknown function). */
static int invoke_head(struct MHD_Connection *c, const char *method, const char *rest, int async,
                       struct conn *x, enum MHD_Result *ret)
{
    char name[GW_NAME_MAX], ns[GW_NAME_MAX], msg[400];
    const char *sub;
    if (!split_target(rest, name, ns, &sub)) {
        *ret = send_text(c, 404, "no such function (bad name)");
        return 0;
    }
    if (async && strcmp(method, "POST") != 0) {
        *ret = send_text(c, 405, "async invocations use POST");
        return 0;
    }
    x->fn = gw_fn_get(name, ns);
    if (!x->fn) {
        snprintf(msg, sizeof msg, "function %s not found in namespace %s", name, ns);
        *ret = send_text(c, 404, msg);
        return 0;
    }
    const char *cb = async ? header(c, "X-Callback-Url") : NULL;
    if (cb && *cb &&
        ((strncmp(cb, "http://", 7) != 0 && strncmp(cb, "https://", 8) != 0) || strlen(cb) < 9 ||
         cb[strncmp(cb, "https", 5) == 0 ? 8 : 7] == '/' || strpbrk(cb, " \r\n"))) {
        gw_fn_put(x->fn);
        x->fn = NULL;
        *ret = send_text(c, 400, "X-Callback-Url must be an http:// or https:// URL");
        return 0;
    }
    return 1;
}

static enum MHD_Result h_invoke(struct MHD_Connection *c, const char *method, const char *rest,
                                struct conn *x, int async)
{
    char name[GW_NAME_MAX], ns[GW_NAME_MAX];
    const char *sub = "/";
    enum MHD_Result ret;
    if (!x->fn && !invoke_head(c, method, rest, async, x, &ret))
        return ret;
    split_target(rest, name, ns, &sub); /* succeeded in invoke_head */
    struct gw_function *fn = x->fn;     /* this call drops the reference */
    x->fn = NULL;
    pthread_mutex_lock(&fn->mu);
    int gone = fn->deleted;
    pthread_mutex_unlock(&fn->mu);
    if (gone) { /* deleted or updated while its body arrived: call what is deployed now */
        gw_fn_put(fn);
        if (!(fn = gw_fn_get(name, ns))) {
            char msg[400];
            snprintf(msg, sizeof msg, "function %s not found in namespace %s", name, ns);
            return send_text(c, 404, msg);
        }
    }
    const char *q = x->uri ? strchr(x->uri, '?') : NULL;
    char call_id[64];
    const char *cid = header(c, "X-Call-Id");
    if (cid && *cid && strlen(cid) < sizeof call_id && !strpbrk(cid, "\r\n"))
        snprintf(call_id, sizeof call_id, "%s", cid);
    else
        gw_uuid(call_id);
    double start = gw_wall();
    char start_s[32];
    snprintf(start_s, sizeof start_s, "%lld", (long long)(start * 1e9));
    struct hdr_block hb = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, hb_iter, &hb);
    hb_add(&hb, "X-Call-Id", call_id);
    hb_add(&hb, "X-Start-Time", start_s);

    if (async) {
        const char *cb = header(c, "X-Callback-Url"); /* checked in invoke_head */
        struct gw_job j = {.method = (char *)method,
                           .path = (char *)sub,
                           .query = (char *)(q ? q + 1 : ""),
                           .headers = hb.p ? hb.p : (char *)"",
                           .callback = (char *)(cb && *cb ? cb : NULL),
                           .body = x->body,
                           .body_len = x->len};
        snprintf(j.call_id, sizeof j.call_id, "%s", call_id);
        snprintf(j.fn, sizeof j.fn, "%s", fn->key);
        gw_fn_put(fn);
        int rc = gw_queue_put(&j);
        free(hb.p);
        if (rc != 0)
            return send_text(c, 500, "cannot queue the request");
        gw_queue_kick();
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "X-Call-Id", call_id);
        MHD_add_response_header(r, "X-Start-Time", start_s);
        ret = MHD_queue_response(c, 202, r);
        MHD_destroy_response(r);
        return ret;
    }

    static uint64_t ids;
    struct gw_call call = {.method = method,
                           .path = sub,
                           .query = q ? q + 1 : "",
                           .headers = hb.p ? hb.p : "",
                           .headers_len = hb.len,
                           .body = x->body ? x->body : "",
                           .body_len = x->len,
                           .id = __atomic_add_fetch(&ids, 1, __ATOMIC_RELAXED)};
    snprintf(call.call_id, sizeof call.call_id, "%s", call_id);
    gw_invoke(fn, &call);
    gw_fn_put(fn);
    free(hb.p);
    struct MHD_Response *r;
    if (call.resp_body || call.resp_headers) {
        r = MHD_create_response_from_buffer(
            call.resp_body_len, call.resp_body ? call.resp_body : (void *)"",
            call.resp_body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        call.resp_body = NULL;
        if (r && call.resp_headers)
            add_guest_headers(r, call.resp_headers, call.resp_headers_len);
    } else {
        /* the reason may quote what a guest or the library said: escaped, one line */
        char b[4 * sizeof call.reason + 2];
        const char *why = call.reason[0] ? call.reason : "no response";
        size_t bl = gw_escape(why, strnlen(why, sizeof call.reason), b, sizeof b - 1);
        b[bl++] = '\n';
        b[bl] = '\0';
        r = MHD_create_response_from_buffer(strlen(b), b, MHD_RESPMEM_MUST_COPY);
        if (r)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    }
    gw_call_free(&call);
    if (!r)
        return MHD_NO;
    char dur[32];
    snprintf(dur, sizeof dur, "%.6f", call.duration);
    MHD_add_response_header(r, "X-Call-Id", call_id);
    MHD_add_response_header(r, "X-Start-Time", start_s);
    MHD_add_response_header(r, "X-Duration-Seconds", dur);
    ret = MHD_queue_response(c, call.status ? call.status : 502, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- routing ------------------------------------------------------------------------------ */

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
                             struct conn *x)
{
    if (strncmp(url, "/function/", 10) == 0)
        return h_invoke(c, method, url + 10, x, 0);
    if (strncmp(url, "/async-function/", 16) == 0)
        return h_invoke(c, method, url + 16, x, 1);
    if (strcmp(url, "/healthz") == 0)
        return send_text(c, 200, "OK");
    if (strcmp(url, "/metrics") == 0) {
        size_t len;
        char *m = gw_metrics_render(&len);
        enum MHD_Result r = send_buf(c, 200, "text/plain; version=0.0.4", m ? m : "", m ? len : 0);
        free(m);
        return r;
    }
    if (gw_ui_match(url)) /* the web UI: behind the same auth as /system */
        return gw_cfg.auth && !authorized(c) ? send_unauthorized(c)
                                             : gw_ui_serve(c, url, x->uri, method);
    if (strncmp(url, "/system/", 8) != 0)
        return send_text(c, 404, "not found");
    if (gw_cfg.auth && !authorized(c))
        return send_unauthorized(c);
    const char *s = url + 8;
    if (strcmp(s, "functions") == 0)
        return h_functions(c, method, x);
    if (strncmp(s, "function/", 9) == 0)
        return h_function(c, method, s + 9);
    if (strncmp(s, "scale-function/", 15) == 0)
        return h_scale(c, method, s + 15, x);
    if (strcmp(s, "secrets") == 0)
        return h_secrets(c, method, x);
    if (strcmp(s, "logs") == 0)
        return h_logs(c, method);
    if (strcmp(s, "info") == 0)
        return strcmp(method, "GET") == 0 ? h_info(c) : send_text(c, 405, "method not allowed");
    if (strcmp(s, "images") == 0)
        return h_images(c, method, x);
    if (strcmp(s, "namespaces") == 0) {
        json_t *a = json_array();
        gw_fn_namespaces(a);
        return send_json(c, 200, a);
    }
    return send_text(c, 404, "not found");
}

/* Whether a /system/ route (after the prefix) reads a request body for this method. */
static int system_takes_body(const char *s, const char *method)
{
    int write =
        strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
    if (strcmp(s, "functions") == 0 || strcmp(s, "secrets") == 0)
        return write;
    if (strcmp(s, "images") == 0)
        return strcmp(method, "POST") == 0;
    return strncmp(s, "scale-function/", 15) == 0 && strcmp(method, "POST") == 0;
}

/* Decides from the request head alone, before a byte of the body is read: unknown routes and
 * functions, missing credentials, bodies over --max-body and every request that takes no body
 * are answered now (libmicrohttpd then closes the connection instead of reading what is left).
 * Only invocations of a function that exists and the /system writes that passed auth go on to
 * read their body: 1. Otherwise 0 with the answer in *ret. */
static int on_head(struct MHD_Connection *c, const char *url, const char *method, struct conn *x,
                   enum MHD_Result *ret)
{
    int body = 0;
    if (strncmp(url, "/function/", 10) == 0 || strncmp(url, "/async-function/", 16) == 0) {
        int async = url[1] == 'a';
        if (!invoke_head(c, method, url + (async ? 16 : 10), async, x, ret))
            return 0;
        body = 1;
    } else if (strncmp(url, "/system/", 8) == 0) {
        if (gw_cfg.auth && !authorized(c)) {
            *ret = send_unauthorized(c);
            return 0;
        }
        body = system_takes_body(url + 8, method);
    }
    if (!body) {
        *ret = route(c, url, method, x);
        return 0;
    }
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long n = cl ? strtoull(cl, NULL, 10) : gw_cfg.max_body;
    if (n > gw_cfg.max_body) {
        char msg[200];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", gw_cfg.max_body);
        *ret = send_text(c, 413, msg);
        return 0;
    }
    x->limit = (size_t)n;
    return 1;
}

/* ---- connection limits and the request-head deadline -------------------------------------- */

/* One open connection (libmicrohttpd's socket context). libmicrohttpd's own timeout restarts
 * on every byte received, so a client sending its head a byte at a time would hold the
 * connection and its thread for ever (slowloris). A head must instead be complete by
 * head_deadline, set when the connection opens and again when a response ends (an idle
 * keep-alive connection waits for its next head); 0 while a request is served. */
struct gw_sock {
    struct gw_sock *prev, *next; /* guarded by socks_mu */
    int fd;                      /* libmicrohttpd's; closed only after NOTIFY_CLOSED unlinks us */
    int cut;                     /* guarded by socks_mu */
    int64_t head_deadline;       /* CLOCK_MONOTONIC ns, atomic; 0: not waiting for a head */
};

static pthread_mutex_t socks_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t socks_cv; /* CLOCK_MONOTONIC; signalled to stop the reaper */
static struct gw_sock *socks;
static pthread_t reaper;
static int reaper_started, reaper_stop;
static uint64_t heads_cut;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sets the connection's deadline: secs from now, or none (0). The reaper closes a connection
 * whose deadline passes: one waiting for a request head (--head-timeout) or still receiving a
 * request body (--body-timeout from the end of the head), never one whose call is running. */
static void conn_deadline(struct MHD_Connection *c, double secs)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct gw_sock *s = i ? i->socket_context : NULL;
    if (s)
        __atomic_store_n(&s->head_deadline, secs > 0 ? mono_ns() + (int64_t)(secs * 1e9) : 0,
                         __ATOMIC_RELAXED);
}

static void head_clock(struct MHD_Connection *c, int start)
{
    conn_deadline(c, start ? gw_cfg.head_timeout : 0);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    struct gw_sock *s = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        s = i ? calloc(1, sizeof *s) : NULL;
        if (!s) { /* untracked it could trickle for ever: refuse it */
            if (i)
                shutdown(i->connect_fd, SHUT_RDWR);
            return;
        }
        s->fd = i->connect_fd;
        s->head_deadline = mono_ns() + (int64_t)(gw_cfg.head_timeout * 1e9);
        pthread_mutex_lock(&socks_mu);
        s->next = socks;
        if (socks)
            socks->prev = s;
        socks = s;
        pthread_mutex_unlock(&socks_mu);
        *socket_context = s;
        return;
    }
    if (!s)
        return;
    pthread_mutex_lock(&socks_mu); /* before libmicrohttpd closes fd: the reaper never sees a
                                      reused fd number */
    if (s->prev)
        s->prev->next = s->next;
    else
        socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&socks_mu);
    free(s);
    *socket_context = NULL;
}

/* Cuts connections whose head or body is overdue: shutdown() wakes the connection's thread with EOF and
 * libmicrohttpd closes it. Sleeps until the earliest deadline (at most 1 s; --head-timeout is
 * at least 1 s, so a deadline set during the sleep is never earlier than the wake-up). */
static void *reaper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&socks_mu);
    while (!reaper_stop) {
        int64_t now = mono_ns(), next = now + 1000000000;
        unsigned cut = 0;
        for (struct gw_sock *s = socks; s; s = s->next) {
            int64_t d = __atomic_load_n(&s->head_deadline, __ATOMIC_RELAXED);
            if (!d || s->cut)
                continue;
            if (d <= now) {
                shutdown(s->fd, SHUT_RDWR);
                s->cut = 1;
                cut++;
            } else if (d < next) {
                next = d;
            }
        }
        heads_cut += cut;
        if (cut)
            gw_dbg("http: closed %u connection(s) without a complete request head (%.1f s) or "
                   "body (%.1f s) in time (%llu so far)",
                   cut, gw_cfg.head_timeout, gw_cfg.body_timeout, (unsigned long long)heads_cut);
        struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        pthread_cond_timedwait(&socks_cv, &socks_mu, &ts);
    }
    pthread_mutex_unlock(&socks_mu);
    return NULL;
}

/* libmicrohttpd's messages (e.g. one per connection refused at a limit), at most one a second
 * so that a flood of connections cannot flood the log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static double last = -1e9;
    static unsigned quiet;
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t l = strlen(msg);
    while (l && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
        msg[--l] = '\0';
    double now = gw_now();
    pthread_mutex_lock(&mu);
    unsigned skipped = quiet;
    int show = now - last >= 1.0;
    if (show) {
        last = now;
        quiet = 0;
    } else {
        quiet++;
    }
    pthread_mutex_unlock(&mu);
    if (show && skipped)
        gw_warn("http: %s (%u more message(s) not shown)", msg, skipped);
    else if (show)
        gw_warn("http: %s", msg);
}

/* ---- libmicrohttpd callbacks --------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct conn *x = calloc(1, sizeof *x);
    if (x)
        x->uri = strdup(uri);
    return x;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    struct conn *x = *con_cls;
    if (x) {
        if (x->fn)
            gw_fn_put(x->fn);
        free(x->uri);
        body_free(x);
        free(x);
    }
    *con_cls = NULL;
    head_clock(c, 1); /* the next request's head */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct conn *x = *con_cls;
    if (!x)
        return MHD_NO;
    if (!x->started) { /* the head is complete; nothing of the body has been read */
        x->started = 1;
        enum MHD_Result ret = MHD_NO;
        int more = on_head(c, url, method, x, &ret);
        /* A body to read (routing, auth and lookup passed): it must be complete within
         * --body-timeout, however it trickles; without one the call starts next (no deadline). */
        conn_deadline(c, more ? gw_cfg.body_timeout : 0);
        return more ? MHD_YES : ret;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (!x->too_big && !x->busy && n > x->limit - x->len)
            x->too_big = 1; /* chunked body over --max-body */
        if (!x->too_big && !x->busy) {
            int rc = body_reserve(x, x->len + n);
            if (rc == -ENOMEM)
                return MHD_NO;
            if (rc == -EBUSY) {
                x->busy = 1;
                body_free(x);
            }
        }
        if (x->too_big || x->busy) {
            /* read and drop up to another --max-body, then answer 413 or 503; a client that
             * keeps sending past that is cut off */
            x->dropped += n;
            return x->dropped > gw_cfg.max_body ? MHD_NO : MHD_YES;
        }
        memcpy(x->body + x->len, upload, n);
        x->len += n;
        x->body[x->len] = '\0';
        return MHD_YES;
    }
    conn_deadline(c, 0); /* the body is complete: the call may take as long as it takes */
    if (x->too_big) {
        char msg[200];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", gw_cfg.max_body);
        return send_text(c, 413, msg);
    }
    if (x->busy)
        return send_text(c, 503,
                         "too many request bodies in flight (--max-body-total), try again later");
    return route(c, url, method, x);
}

/* ---- start and stop ------------------------------------------------------------------------- */

static struct MHD_Daemon *daemon_;
static int listen_fd = -1;

int gw_http_bind(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)gw_cfg.listen_port);
    if (inet_pton(AF_INET, gw_cfg.listen_host, &sa.sin_addr) != 1) {
        gw_err("--listen: '%s' is not an IPv4 address", gw_cfg.listen_host);
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        gw_err("cannot listen on %s:%u: socket: %s", gw_cfg.listen_host, gw_cfg.listen_port,
               strerror(e));
        return -e;
    }
    /* SO_REUSEADDR lets a restarted funkd bind while its old connections sit in TIME_WAIT; it
     * does not let two sockets listen on one address. SO_REUSEPORT (libmicrohttpd's
     * LISTENING_ADDRESS_REUSE) would: a second funkd started there would take half the calls. */
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        gw_err("cannot listen on %s:%u: %s%s", gw_cfg.listen_host, gw_cfg.listen_port, strerror(e),
               e == EADDRINUSE ? " (another process listens there)" : "");
        close(fd);
        return -e;
    }
    listen_fd = fd;
    return 0;
}

int gw_http_start(void)
{
    if (listen_fd < 0)
        return -EBADF;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&socks_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&reaper, NULL, reaper_main, NULL) != 0) {
        gw_err("cannot start the HTTP head-deadline thread");
        return -EAGAIN;
    }
    reaper_started = 1;
    /* poll(), not select(): connection fds can be above FD_SETSIZE */
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)gw_cfg.read_timeout,
        MHD_OPTION_CONNECTION_LIMIT, gw_cfg.max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        gw_cfg.max_conns_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GW_HTTP_HEAD_MAX,
        MHD_OPTION_END);
    if (!daemon_) {
        gw_err("cannot start the HTTP server on %s:%u", gw_cfg.listen_host, gw_cfg.listen_port);
        return -EIO;
    }
    listen_fd = -1; /* libmicrohttpd's now */
    return 0;
}

void gw_http_stop(void)
{
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    if (reaper_started) {
        pthread_mutex_lock(&socks_mu);
        reaper_stop = 1;
        pthread_cond_signal(&socks_cv);
        pthread_mutex_unlock(&socks_mu);
        pthread_join(reaper, NULL);
        reaper_started = 0;
    }
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
}
