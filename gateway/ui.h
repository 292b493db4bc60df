/* SPDX-License-Identifier: Apache-2.0 */
/* funkd's web UI: static files embedded at build time (gateway/ui/), served under /ui/. */
#ifndef FUNK_GW_UI_H
#define FUNK_GW_UI_H

#include <stddef.h>

#include <microhttpd.h>

struct gw_ui_file {
    const char *name;  /* base name, as in /ui/NAME */
    const char *ctype; /* Content-Type */
    const char *etag;  /* quoted, from the content's SHA-256 */
    const unsigned char *data;
    size_t len;
};
/* The generated table (ui_files.c), ended by an entry with a NULL name. */
extern const struct gw_ui_file gw_ui_files[];

/* Whether url (decoded path, no query) is the UI's: "/", "/ui" or under "/ui/". */
int gw_ui_match(const char *url);
/* Answers a UI request (the caller has checked auth): GET/HEAD of an embedded file, 304 when
 * If-None-Match names its ETag, redirects from "/" and "/ui" to "/ui/", 404 for any other name
 * and for any percent-encoding in raw (the request target as sent: the decoded url would hide
 * an encoded NUL or slash), 405 for other methods. Every answer carries the security headers. */
enum MHD_Result gw_ui_serve(struct MHD_Connection *c, const char *url, const char *raw,
                            const char *method);

#endif
