/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime: urunc's unikernel description (spec annotations or the rootfs's urunc.json). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

#define URUNC_JSON_MAX (64u << 10)

/* The keys urunc defines; funk reads these and ignores any other com.urunc.* key. */
static const char *const urunc_keys[] = {
    RT_URUNC_PREFIX "unikernelType", RT_URUNC_PREFIX "unikernelVersion",
    RT_URUNC_PREFIX "binary",        RT_URUNC_PREFIX "cmdline",
    RT_URUNC_PREFIX "hypervisor",    RT_URUNC_PREFIX "initrd",
    RT_URUNC_PREFIX "block",         RT_URUNC_PREFIX "blkMntPoint",
    RT_URUNC_PREFIX "mountRootfs",   RT_URUNC_PREFIX "useDMBlock",
};

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int rt_b64_decode(const char *in, char **out)
{
    size_t n = strlen(in);
    *out = NULL;
    if (n % 4)
        return -EINVAL;
    char *r = malloc(n / 4 * 3 + 1);
    if (!r)
        return -ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            /* '=' only as the last one or two characters of the whole input */
            if (c == '=' && i + 4 == n && (k == 3 || (k == 2 && in[i + 3] == '='))) {
                v[k] = -2;
                continue;
            }
            v[k] = b64_value(c);
            if (v[k] < 0) {
                free(r);
                return -EINVAL;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 | (uint32_t)(v[3] < 0 ? 0 : v[3]);
        r[o++] = (char)(w >> 16);
        if (v[2] >= 0)
            r[o++] = (char)(w >> 8);
        if (v[3] >= 0)
            r[o++] = (char)w;
    }
    r[o] = '\0';
    if (memchr(r, '\0', o)) { /* a NUL inside would silently cut the value */
        free(r);
        return -EINVAL;
    }
    *out = r;
    return 0;
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80             ? 0
                : (*p & 0xe0) == 0xc0 ? 1
                : (*p & 0xf0) == 0xe0 ? 2
                : (*p & 0xf8) == 0xf0 ? 3
                                      : -1;
        if (n < 0 || (n == 1 && *p < 0xc2))
            return 0;
        p++;
        for (int k = 0; k < n; k++, p++)
            if ((*p & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

int rt_urunc_decode_value(const char *v, char **out)
{
    *out = NULL;
    if (strncmp(v, "b64:", 4) == 0)
        return rt_b64_decode(v + 4, out);
    /* bunny before the "b64:" prefix wrote raw base64; urunc still reads it, so do we: a value
     * that decodes to UTF-8 is taken decoded, anything else as written. */
    char *d;
    if (*v && rt_b64_decode(v, &d) == 0) {
        if (valid_utf8(d)) {
            *out = d;
            return 0;
        }
        free(d);
    }
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
}

/* ROOTFS/urunc.json, resolved inside the rootfs, capped; NULL when there is none. */
static json_t *load_urunc_json(const char *rootfs, char *err, size_t errlen, int *rc)
{
    *rc = 0;
    int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return NULL;
    int fd = rt_open_in_root(rootfd, "/urunc.json", O_RDONLY);
    close(rootfd);
    if (fd < 0)
        return NULL;
    struct stat st;
    json_error_t jerr;
    json_t *j = NULL;
    if (fstat(fd, &st) < 0 || st.st_size > URUNC_JSON_MAX) {
        snprintf(err, errlen, "rootfs /urunc.json: larger than %u bytes", URUNC_JSON_MAX);
        *rc = -EINVAL;
    } else if (!(j = json_loadfd(fd, 0, &jerr)) || !json_is_object(j)) {
        snprintf(err, errlen, "rootfs /urunc.json: not a JSON object%s%s", j ? "" : ": ",
                 j ? "" : jerr.text);
        *rc = -EINVAL;
        json_decref(j);
        j = NULL;
    }
    close(fd);
    return j;
}

int rt_urunc_load(json_t *ann, const char *rootfs, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *src = NULL;
    int decode = 0, rc;
    const char *where = "annotation";
    /* urunc takes the spec's annotations when they name the binary and the hypervisor (its
     * shim has decoded them), else the rootfs's urunc.json, whose values are base64. */
    if (json_is_string(json_object_get(ann, RT_URUNC_PREFIX "binary")) &&
        json_is_string(json_object_get(ann, RT_URUNC_PREFIX "hypervisor"))) {
        src = json_incref(ann);
    } else {
        src = load_urunc_json(rootfs, err, errlen, &rc);
        if (!src)
            return rc;
        decode = 1;
        where = "rootfs /urunc.json";
    }
    json_t *r = json_object();
    if (!r) {
        json_decref(src);
        return -ENOMEM;
    }
    rc = 1;
    for (size_t i = 0; i < sizeof urunc_keys / sizeof urunc_keys[0] && rc == 1; i++) {
        json_t *v = json_object_get(src, urunc_keys[i]);
        if (!v)
            continue;
        char *s = NULL;
        if (!json_is_string(v))
            rc = -EINVAL;
        else if (decode)
            rc = rt_urunc_decode_value(json_string_value(v), &s) < 0 ? -EINVAL : 1;
        else
            rc = (s = strdup(json_string_value(v))) ? 1 : -ENOMEM;
        if (rc == -EINVAL)
            snprintf(err, errlen, "%s %s: not a string%s", where, urunc_keys[i],
                     decode ? " (or bad base64 after b64:)" : "");
        if (s && json_object_set_new(r, urunc_keys[i], json_string(s)) < 0)
            rc = -ENOMEM;
        free(s);
    }
    json_decref(src);
    if (rc == 1 && !json_object_get(r, RT_URUNC_PREFIX "binary")) {
        snprintf(err, errlen, "%s: %sbinary is missing", where, RT_URUNC_PREFIX);
        rc = -EINVAL;
    }
    if (rc != 1) {
        json_decref(r);
        return rc;
    }
    json_object_set_new(r, "source", json_string(where));
    *out = r;
    return 1;
}

int rt_urunc_check(json_t *u, char *err, size_t errlen)
{
    const char *hv = json_string_value(json_object_get(u, RT_URUNC_PREFIX "hypervisor"));
    const char *type = json_string_value(json_object_get(u, RT_URUNC_PREFIX "unikernelType"));
    const char *initrd = json_string_value(json_object_get(u, RT_URUNC_PREFIX "initrd"));
    const char *where = json_string_value(json_object_get(u, "source"));
    if (!hv || strcmp(hv, "hvt") != 0) {
        snprintf(err, errlen,
                 "%s: urunc image for hypervisor '%s': funk-runtime runs Solo5 hvt guests only; "
                 "run this image with urunc (its own RuntimeClass), not with funk",
                 where, hv ? hv : "(none)");
        return -ENOTSUP;
    }
    /* Solo5 hvt guests funk boots as they are: MirageOS (urunc's "mirage") and plain Solo5 or
     * funk ones. rumprun on hvt takes a JSON configuration urunc writes for it; refused. */
    if (type && *type && strcmp(type, "mirage") != 0 && strcmp(type, "solo5") != 0 &&
        strcmp(type, "funk") != 0) {
        snprintf(err, errlen,
                 "%s: unikernelType '%s' on hvt is not one funk-runtime boots (mirage, solo5, "
                 "funk); run this image with urunc",
                 where, type);
        return -ENOTSUP;
    }
    if (initrd && *initrd) {
        snprintf(err, errlen, "%s: initrd '%s': Solo5 hvt guests take no initrd", where, initrd);
        return -ENOTSUP;
    }
    return 0;
}
