/* SPDX-License-Identifier: Apache-2.0 */
/* funkd web UI: serves the embedded static files under /ui/ with strict names and headers. */
#include <string.h>

#include "gw.h"
#include "ui.h"

/* The page loads only its own files and talks only to this funkd; no inline script or style
 * attribute markup, no framing, no forms posted elsewhere. */
#define UI_CSP                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

int gw_ui_match(const char *url)
{
    return strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0 || strncmp(url, "/ui/", 4) == 0;
}

static void secure(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", UI_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text,
                              const char *hname, const char *hval)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (hname)
        MHD_add_response_header(r, hname, hval);
    secure(r);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The embedded file named exactly name (no path of any kind), or NULL. */
static const struct gw_ui_file *find(const char *name)
{
    if (!*name)
        name = "index.html";
    for (const struct gw_ui_file *f = gw_ui_files; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

enum MHD_Result gw_ui_serve(struct MHD_Connection *c, const char *url, const char *raw,
                            const char *method)
{
    int head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0)
        return answer(c, 405, "method not allowed\n", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0)
        return answer(c, 302, "see /ui/\n", MHD_HTTP_HEADER_LOCATION, "/ui/");
    /* the names need no encoding: the path as sent must be the decoded one, byte for byte */
    size_t rl = raw ? strcspn(raw, "?#") : 0;
    const struct gw_ui_file *f = NULL;
    if (raw && rl == strlen(url) && strncmp(raw, url, rl) == 0)
        f = find(url + 4); /* after "/ui/" */
    if (!f)
        return answer(c, 404, "not found\n", NULL, NULL);
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int fresh = inm && (strstr(inm, f->etag) || strcmp(inm, "*") == 0);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        fresh ? 0 : f->len, fresh ? (void *)"" : (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (!fresh)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f->ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, f->etag);
    /* the files change with the funkd binary: always revalidate, a 304 costs nothing */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    secure(r);
    enum MHD_Result ret = MHD_queue_response(c, fresh ? 304 : 200, r);
    MHD_destroy_response(r);
    gw_dbg("ui: %s %s %s", method, url, fresh ? "304" : "200");
    return ret;
}
