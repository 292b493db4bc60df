/* SPDX-License-Identifier: Apache-2.0 */
/* funkd HTTP API (libmicrohttpd): routing, basic auth, the OpenFaaS endpoints, invocations. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "gw.h"

struct conn {
    char *uri; /* raw request target, query included */
    char *body;
    size_t len, cap;
    int started;
    int too_big;
};

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
    if (!gw_valid_name(name) || gw_fn_scale(name, nsb, r) != 0) {
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
    if (!name || !gw_valid_name(name) || !gw_valid_name(ns)) {
        json_decref(j);
        return send_text(c, 400, "'name' must be a valid secret name");
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
        ret = send_buf(c, create ? 201 : del ? 204 : 200, NULL, "", 0);
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
    if (*end != 'Z' && *end != '\0')
        return -1; /* only UTC */
    return (double)timegm(&tm) + frac;
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
        return send_text(c, 400, "'since' must be an RFC 3339 UTC time");
    int follow = f && (strcmp(f, "true") == 0 || strcmp(f, "1") == 0);
    struct MHD_Response *r = gw_logs_response(key, qarg(c, "instance"), tail, follow, since);
    if (!r)
        return send_text(c, 500, "out of memory");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result h_info(struct MHD_Connection *c)
{
    json_t *v = json_pack("{s:s,s:s,s:s}", "sha", FUNK_GIT_SHA, "release", FUNK_VERSION,
                          "commit_message", "");
    json_t *j = json_pack("{s:{s:s,s:s,s:O},s:O,s:s}", "provider", "provider", "funkd",
                          "orchestration", "funk", "version", v, "version", v, "arch", "x86_64");
    json_decref(v);
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

static enum MHD_Result h_invoke(struct MHD_Connection *c, const char *method, const char *rest,
                                struct conn *x, int async)
{
    char name[GW_NAME_MAX], ns[GW_NAME_MAX], msg[400];
    const char *sub;
    if (!split_target(rest, name, ns, &sub))
        return send_text(c, 404, "no such function (bad name)");
    if (async && strcmp(method, "POST") != 0)
        return send_text(c, 405, "async invocations use POST");
    struct gw_function *fn = gw_fn_get(name, ns);
    if (!fn) {
        snprintf(msg, sizeof msg, "function %s not found in namespace %s", name, ns);
        return send_text(c, 404, msg);
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
    enum MHD_Result ret;

    if (async) {
        const char *cb = header(c, "X-Callback-Url");
        if (cb && *cb &&
            ((strncmp(cb, "http://", 7) != 0 && strncmp(cb, "https://", 8) != 0) ||
             strlen(cb) < 9 || cb[strncmp(cb, "https", 5) == 0 ? 8 : 7] == '/' ||
             strpbrk(cb, " \r\n"))) {
            gw_fn_put(fn);
            free(hb.p);
            return send_text(c, 400, "X-Callback-Url must be an http:// or https:// URL");
        }
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
        char b[sizeof call.reason + 2];
        snprintf(b, sizeof b, "%s\n", call.reason[0] ? call.reason : "no response");
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
    if (strcmp(s, "namespaces") == 0) {
        json_t *a = json_array();
        gw_fn_namespaces(a);
        return send_json(c, 200, a);
    }
    return send_text(c, 404, "not found");
}

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
    (void)c;
    (void)toe;
    struct conn *x = *con_cls;
    if (x) {
        free(x->uri);
        free(x->body);
        free(x);
    }
    *con_cls = NULL;
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
    if (!x->started) {
        x->started = 1;
        const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > gw_cfg.max_body) {
            char msg[200];
            snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", gw_cfg.max_body);
            return send_text(c, 413, msg);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (x->too_big || x->len + n > gw_cfg.max_body) {
            x->too_big = 1; /* chunked body: read and drop the rest, then answer 413 */
            return MHD_YES;
        }
        if (x->len + n + 1 > x->cap) {
            size_t nc = x->cap ? x->cap : 4096;
            while (nc < x->len + n + 1)
                nc *= 2;
            char *nb = realloc(x->body, nc);
            if (!nb)
                return MHD_NO;
            x->body = nb;
            x->cap = nc;
        }
        memcpy(x->body + x->len, upload, n);
        x->len += n;
        x->body[x->len] = '\0';
        return MHD_YES;
    }
    if (x->too_big) {
        char msg[200];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", gw_cfg.max_body);
        return send_text(c, 413, msg);
    }
    return route(c, url, method, x);
}

static struct MHD_Daemon *daemon_;

int gw_http_start(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)gw_cfg.listen_port);
    if (inet_pton(AF_INET, gw_cfg.listen_host, &sa.sin_addr) != 1) {
        gw_err("--listen: '%s' is not an IPv4 address", gw_cfg.listen_host);
        return -EINVAL;
    }
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)gw_cfg.read_timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)4000, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!daemon_) {
        gw_err("cannot listen on %s:%u (in use?)", gw_cfg.listen_host, gw_cfg.listen_port);
        return -EADDRINUSE;
    }
    return 0;
}

void gw_http_stop(void)
{
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
