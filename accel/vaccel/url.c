/* SPDX-License-Identifier: Apache-2.0 */
/* URL resources: http(s) bytes fetched with libcurl, bounded in size, time and redirects. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define URL_MAX_BYTES_DEFAULT (256ull << 20)
#define URL_TIMEOUT_MS_DEFAULT 60000L
#define URL_MAX_REDIRS 8L

int vaccel_url_is_http(const char *path)
{
    return strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0;
}

/* A positive decimal from the environment within [1, max], else def (a bad value is logged). */
static unsigned long long env_limit(const char *name, unsigned long long def,
                                    unsigned long long max)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end != '\0' || n == 0 || n > max || v[0] == '-') {
        funk_accel_log(FUNK_LOG_WARN, VACCEL_FUNK_LOG, "%s='%s' ignored (1..%llu)", name, v, max);
        return def;
    }
    return n;
}

struct sink {
    unsigned char *buf;
    size_t len, cap, max;
    int too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
    struct sink *s = userdata;
    size_t add = size * n; /* libcurl bounds a chunk to CURL_MAX_WRITE_SIZE: no overflow */
    if (add > s->max - s->len) {
        s->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (s->len + add > s->cap) {
        size_t cap = s->cap ? s->cap : 64 * 1024;
        while (cap < s->len + add)
            cap = cap > s->max / 2 ? s->max : cap * 2;
        unsigned char *g = realloc(s->buf, cap);
        if (g == NULL)
            return 0;
        s->buf = g;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, add);
    s->len += add;
    return add;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int vaccel_url_fetch(const char *url, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!vaccel_url_is_http(url))
        return VACCEL_ENOTSUP;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return VACCEL_EIO;
    unsigned long long max =
        env_limit("FUNK_VACCEL_URL_MAX_BYTES", URL_MAX_BYTES_DEFAULT, 1ull << 32);
    long timeout_ms =
        (long)env_limit("FUNK_VACCEL_URL_TIMEOUT_MS", URL_TIMEOUT_MS_DEFAULT, 3600000ull);
    struct sink s = {.max = (size_t)max};
    CURL *c = curl_easy_init();
    if (c == NULL)
        return VACCEL_ENOMEM;
    curl_easy_setopt(c, CURLOPT_URL, url);
    /* http(s) only, on the first request and on every redirect */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, URL_MAX_REDIRS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max); /* when a length is sent */
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "funk-vaccel/" VACCEL_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);

    int err = VACCEL_OK;
    if (rc == CURLE_OK && s.len == 0) {
        err = VACCEL_EINVAL; /* an empty resource is of no use, as an empty file */
    } else if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        err = EFBIG;
    } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
        err = VACCEL_ELOOP;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        err = ETIMEDOUT;
    } else if (rc == CURLE_HTTP_RETURNED_ERROR) {
        err = status == 404 || status == 410   ? VACCEL_ENOENT
              : status == 401 || status == 403 ? VACCEL_EACCES
                                               : VACCEL_EREMOTEIO;
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        err = VACCEL_ENOTSUP;
    } else if (rc == CURLE_OUT_OF_MEMORY || (rc == CURLE_WRITE_ERROR && !s.too_big)) {
        err = VACCEL_ENOMEM;
    } else if (rc != CURLE_OK) {
        err = VACCEL_EIO;
    }
    if (err) {
        if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
            funk_accel_log(FUNK_LOG_ERROR, VACCEL_FUNK_LOG,
                           "resource %s: larger than %llu bytes "
                           "(FUNK_VACCEL_URL_MAX_BYTES)",
                           url, max);
        else
            funk_accel_log(FUNK_LOG_ERROR, VACCEL_FUNK_LOG, "resource %s: %s (HTTP %ld)", url,
                           rc == CURLE_OK ? "empty body" : curl_easy_strerror(rc), status);
        free(s.buf);
        return err;
    }
    funk_accel_log(FUNK_LOG_INFO, VACCEL_FUNK_LOG, "resource %s: %zu bytes", url, s.len);
    *data = s.buf;
    *len = s.len;
    return VACCEL_OK;
}
