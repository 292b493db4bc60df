/* SPDX-License-Identifier: Apache-2.0 */
/* funkd: reads a unikernel out of a local OCI image layout (index.json -> manifest -> config ->
 * uncompressed tar layers), checking every blob's sha256 digest. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw.h"
#include "registry.h"
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

/* Copies a regular file out of a ustar layer (funk_tar_find: bounded, path-safe names). */
static int tar_find(const char *t, size_t len, const char *want, void **out, size_t *outlen)
{
    const char *d;
    size_t n;
    int rc = funk_tar_find(t, len, want, &d, &n);
    if (rc)
        return rc;
    *out = malloc(n ? n : 1);
    if (!*out)
        return -ENOMEM;
    memcpy(*out, d, n);
    *outlen = n;
    return 0;
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

/* ---- images from registries and uploads --------------------------------------------------- */

static void reg_opts(struct funk_reg_opts *o)
{
    funk_reg_opts_default(o);
    o->auth_file = gw_cfg.registry_auth;
    o->insecure = gw_cfg.insecure_registries;
    if (gw_cfg.registry_max_blob) {
        o->max_blob = gw_cfg.registry_max_blob;
        o->max_total = gw_cfg.registry_max_blob * 2;
    }
    if (o->max_blob > BLOB_MAX)
        o->max_blob = BLOB_MAX; /* what gw_oci_load reads */
    if (gw_cfg.registry_timeout > 0)
        o->timeout_s = (long)(gw_cfg.registry_timeout + 0.999);
}

static void cache_root(char *out, size_t cap)
{
    snprintf(out, cap, "%s/images", gw_cfg.state_dir);
}

int gw_image_fetch(const char *image, char *dir, char digest[72], char *err, size_t errlen)
{
    char root[PATH_MAX];
    cache_root(root, sizeof root);
    if (funk_digest_valid(image)) {
        /* an image in the cache by its digest (uploaded, or pulled before) */
        char p[PATH_MAX + 16];
        struct stat st;
        if (snprintf(dir, PATH_MAX, "%.3900s/sha256/%s", root, image + 7) >= PATH_MAX) {
            snprintf(err, errlen, "--state-dir path too long");
            return -ENAMETOOLONG;
        }
        snprintf(p, sizeof p, "%s/index.json", dir);
        if (stat(p, &st) != 0) {
            snprintf(err, errlen,
                     "image %s is not in funkd's image cache (upload it: POST /system/images)",
                     image);
            return -ENOENT;
        }
        memcpy(digest, image, 72);
        return 0;
    }
    struct funk_ref ref;
    if (funk_ref_parse(image, &ref) != 0) {
        snprintf(err, errlen, "'%s' is not an image reference", image);
        return -EINVAL;
    }
    struct funk_reg_opts o;
    reg_opts(&o);
    unsigned long gets = 0;
    o.blob_gets = &gets;
    double t0 = gw_now();
    int rc = funk_reg_pull(&ref, &o, NULL, root, digest, dir, err, errlen);
    if (rc == 0)
        gw_info("image %s: %s (%s, %lu blob(s) fetched, %.0f ms)", image, digest,
                gets ? "pulled" : "cached", gets, (gw_now() - t0) * 1e3);
    else
        gw_warn("image %s: pull failed: %s", image, err);
    return rc;
}

int gw_image_import(const void *tar, size_t len, char digest[72], char *err, size_t errlen)
{
    char root[PATH_MAX];
    cache_root(root, sizeof root);
    struct funk_reg_opts o;
    reg_opts(&o);
    int rc = funk_reg_import_archive(tar, len, &o, root, digest, err, errlen);
    if (rc == 0)
        gw_info("image uploaded: %s (%zu bytes)", digest, len);
    return rc;
}
