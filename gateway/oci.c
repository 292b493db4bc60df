/* SPDX-License-Identifier: Apache-2.0 */
/* funkd: reads a unikernel out of a local OCI image layout (index.json -> manifest -> config ->
 * uncompressed tar layers), checking every blob's sha256 digest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw.h"
#include "sha256.h"

#define BLOB_MAX (512u << 20)

static int slurp(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > BLOB_MAX) {
        fclose(f);
        return -EFBIG;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t n = b ? fread(b, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!b || n != (size_t)st.st_size) {
        free(b);
        return -EIO;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

/* Reads blobs/sha256/HEX of dir and checks it against digest "sha256:HEX". */
static int blob(const char *dir, const char *digest, char **out, size_t *len, char *err,
                size_t errlen)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71 ||
        strspn(digest + 7, "0123456789abcdef") != 64) {
        snprintf(err, errlen, "unsupported or malformed digest '%s'", digest ? digest : "(none)");
        return -EINVAL;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, digest + 7);
    int rc = slurp(path, out, len);
    if (rc) {
        snprintf(err, errlen, "blob %s: %s", digest, strerror(-rc));
        return rc;
    }
    uint8_t h[32];
    char hex[65];
    accel_sha256_digest(*out, *len, h);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    if (strcmp(hex, digest + 7) != 0) {
        snprintf(err, errlen, "blob %s does not match its digest", digest);
        free(*out);
        return -EBADMSG;
    }
    return 0;
}

static json_t *blob_json(const char *dir, const char *digest, char *err, size_t errlen)
{
    char *b;
    size_t n;
    if (blob(dir, digest, &b, &n, err, errlen))
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(b, n, 0, &je);
    free(b);
    if (!json_is_object(j)) {
        snprintf(err, errlen, "blob %s is not a JSON object", digest);
        json_decref(j);
        return NULL;
    }
    return j;
}

static uint64_t octal(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(s[i] - '0');
    return v;
}

/* Finds a regular file in a ustar archive; copies it out. 0, -ENOENT or -EINVAL. */
static int tar_find(const char *t, size_t len, const char *want, void **out, size_t *outlen)
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
        uint64_t size = octal(h + 124, 12);
        if (size > len - off - 512)
            return -EINVAL;
        const char *n = name;
        while (*n == '/' || (n[0] == '.' && n[1] == '/'))
            n += *n == '/' ? 1 : 2;
        if ((h[156] == '0' || h[156] == '\0') && strcmp(n, want) == 0) {
            *out = malloc(size ? size : 1);
            if (!*out)
                return -ENOMEM;
            memcpy(*out, h + 512, size);
            *outlen = size;
            return 0;
        }
        off += 512 + ((size + 511) & ~(uint64_t)511);
    }
    return -ENOENT;
}

static const char *ann(json_t *manifest, json_t *config, const char *key)
{
    json_t *v = json_object_get(json_object_get(manifest, "annotations"), key);
    if (!json_is_string(v))
        v = json_object_get(json_object_get(json_object_get(config, "config"), "Labels"), key);
    if (!json_is_string(v)) {
        /* urunc's names for hvt images */
        char alt[128];
        if (strncmp(key, "org.funk.unikernel.", 19) == 0) {
            snprintf(alt, sizeof alt, "com.urunc.unikernel.%s", key + 19);
            v = json_object_get(json_object_get(manifest, "annotations"), alt);
            if (!json_is_string(v))
                v = json_object_get(json_object_get(json_object_get(config, "config"), "Labels"),
                                    alt);
        }
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int gw_oci_load(const char *dir, void **elf, size_t *elf_len, char **memory, char *err,
                size_t errlen)
{
    char path[4200];
    json_t *index = NULL, *manifest = NULL, *config = NULL;
    int rc = -EINVAL;
    *memory = NULL;
    snprintf(path, sizeof path, "%s/index.json", dir);
    char *b;
    size_t n;
    if (slurp(path, &b, &n) != 0) {
        snprintf(err, errlen, "no index.json: not an OCI image layout");
        return -ENOENT;
    }
    index = json_loadb(b, n, 0, NULL);
    free(b);
    json_t *m0 = json_array_get(json_object_get(index, "manifests"), 0);
    if (!m0) {
        snprintf(err, errlen, "index.json lists no manifest");
        goto out;
    }
    if (!(manifest = blob_json(dir, json_string_value(json_object_get(m0, "digest")), err, errlen)))
        goto out;
    if (!(config = blob_json(
              dir,
              json_string_value(json_object_get(json_object_get(manifest, "config"), "digest")),
              err, errlen)))
        goto out;
    const char *bin = ann(manifest, config, "org.funk.unikernel.binary");
    if (!bin) {
        snprintf(err, errlen,
                 "the image has no org.funk.unikernel.binary annotation: not a unikernel image");
        goto out;
    }
    const char *mem = ann(manifest, config, "org.funk.unikernel.memory");
    if (mem)
        *memory = strdup(mem);
    /* the last layer holding the file wins, as in an unpacked rootfs */
    json_t *layers = json_object_get(manifest, "layers");
    rc = -ENOENT;
    for (size_t i = json_array_size(layers); i-- > 0 && rc == -ENOENT;) {
        json_t *l = json_array_get(layers, i);
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        if (mt && !strstr(mt, "tar")) {
            continue;
        }
        if (mt && (strstr(mt, "gzip") || strstr(mt, "zstd"))) {
            snprintf(err, errlen, "compressed layers (%s) are not supported", mt);
            rc = -ENOTSUP;
            goto out;
        }
        char *t;
        size_t tl;
        if (blob(dir, json_string_value(json_object_get(l, "digest")), &t, &tl, err, errlen) != 0) {
            rc = -EIO;
            goto out;
        }
        rc = tar_find(t, tl, bin, elf, elf_len);
        free(t);
        if (rc == -EINVAL)
            snprintf(err, errlen, "a layer is not a valid tar archive");
    }
    if (rc == -ENOENT)
        snprintf(err, errlen, "the image's layers hold no %s", bin);
out:
    if (rc != 0) {
        free(*memory);
        *memory = NULL;
    }
    json_decref(index);
    json_decref(manifest);
    json_decref(config);
    return rc;
}
