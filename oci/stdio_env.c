/* SPDX-License-Identifier: Apache-2.0 */
/* Http_* variables of a stdio function's request (classic watchdog), for funkd and the watchdog. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stdio_env.h"

char *stdio_env_header(const char *name, size_t name_len, const char *value, size_t value_len)
{
    if (name_len > ((size_t)-1 - 8) / 2 || value_len > (size_t)-1 - 8 - name_len)
        return NULL;
    char *e = malloc(5 + name_len + 1 + value_len + 1);
    if (!e)
        return NULL;
    memcpy(e, "Http_", 5);
    int up = 1; /* Go's canonical header form: content-type -> Content_Type */
    for (size_t i = 0; i < name_len; i++) {
        char ch = name[i];
        if (ch == '-') {
            e[5 + i] = '_';
            up = 1;
            continue;
        }
        e[5 + i] = up ? (char)toupper((unsigned char)ch) : (char)tolower((unsigned char)ch);
        up = 0;
    }
    e[5 + name_len] = '=';
    memcpy(e + 6 + name_len, value, value_len);
    e[6 + name_len + value_len] = '\0';
    return e;
}

/* asprintf leaves *out undefined on failure: keep the caller's NULL terminator intact */
static size_t put(char **out, int n)
{
    if (n < 0) {
        *out = NULL;
        return 0;
    }
    return 1;
}

size_t stdio_env_request(char **env, const char *method, const char *path, const char *query,
                         size_t body_len)
{
    size_t k = 0;
    k += put(&env[k], asprintf(&env[k], "Http_Method=%s", method ? method : "POST"));
    k += put(&env[k], asprintf(&env[k], "Http_ContentLength=%zu", body_len));
    k += put(&env[k], asprintf(&env[k], "Http_Content_Length=%zu", body_len));
    k += put(&env[k], asprintf(&env[k], "Http_Path=%s", path && *path ? path : "/"));
    if (query && *query)
        k += put(&env[k], asprintf(&env[k], "Http_Query=%s", query));
    return k;
}
