/* SPDX-License-Identifier: Apache-2.0 */
/* Function I/O: receive a request, send its response. One API for unikernel and native builds. */
#ifndef FUNK_FN_H
#define FUNK_FN_H

/*
 * A function's main loop:
 *   struct funk_fn_req req;
 *   while (funk_fn_recv(&req) == 0)
 *       funk_fn_send(200, "Content-Type: text/plain\n", "hi\n", 3);
 *   return 0;
 * In a unikernel (libfunk-guest.a) these are the FN_RECV/FN_SEND hypercalls and a warm instance
 * serves many requests in turn. In a native build (libfunk-fn-native.a) one request comes from
 * the CGI-style environment (REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE, HTTP_*) and
 * stdin; the response body goes to stdout (preceded by "Status:" and header lines, CGI style,
 * when FUNK_FN_CGI=1 is set).
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One request; every pointer stays valid until the next funk_fn_recv(). All strings are
 * NUL-terminated, and so is the body (body_len excludes that NUL). */
struct funk_fn_req {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* "/" or "/sub/path" */
    const char *query;   /* without '?', "" when none */
    const char *headers; /* "Name: value\n" lines */
    size_t headers_len;
    const void *body;
    size_t body_len;
    uint64_t id; /* host-chosen request id (0 natively) */
};

/* Returns 0 with *req filled, 1 when no further request will come (the function should return
 * from main with 0), or a negative errno. */
int funk_fn_recv(struct funk_fn_req *req);

/* Sends the response to the current request: an HTTP status (100..599), optional "Name: value\n"
 * header lines (NULL for none) and a body. Returns 0 or a negative errno (-EINVAL: bad status or
 * no current request, -EIO: the host could not deliver it). */
int funk_fn_send(unsigned status, const char *headers, const void *body, size_t body_len);

/* Finds header `name` (case-insensitive) in req->headers; returns its value (not
 * NUL-terminated, surrounding blanks trimmed) and stores its length, or NULL. */
const char *funk_fn_header(const struct funk_fn_req *req, const char *name, size_t *len);

/*
 * Printing floating-point values portably: guests are built without SSE/x87 (-mgeneral-regs-only),
 * so a float or double cannot be passed to a variadic function there. The guest printf's
 * %f/%e/%g take the IEEE-754 binary64 bits as a uint64_t instead; wrap the argument (an lvalue of
 * type float or double) in FUNK_FARG() and the same source prints correctly in both builds:
 *   printf("%s %.3f\n", label, FUNK_FARG(score));
 */
uint64_t funk_f32_to_f64_bits(const void *f32);
uint64_t funk_f64_bits(const void *f64);
#if defined(FUNK_GUEST)
/* clang-format off */
#define FUNK_FARG(x)                                                                               \
    _Generic(&(x), float *: funk_f32_to_f64_bits, const float *: funk_f32_to_f64_bits,             \
             double *: funk_f64_bits, const double *: funk_f64_bits)(&(x))
/* clang-format on */
#else
#define FUNK_FARG(x) ((double)(x))
#endif

#ifdef __cplusplus
}
#endif

#endif /* FUNK_FN_H */
