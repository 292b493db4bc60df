/* SPDX-License-Identifier: Apache-2.0 */
/* funkd: reads a unikernel out of a local OCI image layout (index.json -> manifest -> config ->
 * uncompressed tar layers), checking every blob's sha256 digest. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "gw.h"
#include "registry.h"
#include "sha256.h"

#define BLOB_MAX (512u << 20)
#define LAYER_MAX (256u << 20) /* a gzip layer inflates to at most this (the ELF cap) */

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

/* Inflates a gzip layer (what docker and podman push) into a buffer of at most cap bytes: a
 * layer that inflates past it is refused (-EFBIG), a truncated or corrupt stream -EINVAL. */
static int gunzip(const char *in, size_t n, char **out, size_t *outlen, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (n > UINT32_MAX || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return -EINVAL;
    size_t bcap = n < (cap / 4) ? (n * 4 > (1u << 20) ? n * 4 : (1u << 20)) : cap;
    if (bcap > cap)
        bcap = cap;
    char *b = malloc(bcap);
    size_t len = 0;
    int rc = b ? 1 : -ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    while (rc == 1) {
        if (len == bcap) {
            if (bcap >= cap) {
                rc = -EFBIG;
                break;
            }
            size_t nc = bcap * 2 < cap ? bcap * 2 : cap;
            char *nb = realloc(b, nc);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            b = nb;
            bcap = nc;
        }
        size_t room = bcap - len;
        z.next_out = (Bytef *)(b + len);
        z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        uInt before = z.avail_out;
        int zr = inflate(&z, Z_NO_FLUSH);
        len += before - z.avail_out;
        if (zr == Z_STREAM_END)
            rc = 0;
        else if ((zr != Z_OK && zr != Z_BUF_ERROR) || (zr == Z_BUF_ERROR && z.avail_out != 0))
            rc = -EINVAL; /* corrupt, or the input ended before the stream did */
    }
    inflateEnd(&z);
    if (rc != 0) {
        free(b);
        return rc;
    }
    *out = b;
    *outlen = len;
    return 0;
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
    /* urunc images name their monitor: funkd runs hvt ones (Solo5 hvt ABI) only; a kernel for
     * qemu or firecracker is not something to load here (nor to run as a Linux program) */
    const char *hv = ann(manifest, config, "com.urunc.unikernel.hypervisor");
    if (hv && strcmp(hv, "hvt") != 0) {
        snprintf(err, errlen,
                 "the image is a urunc unikernel for hypervisor '%.40s': funkd runs hvt images "
                 "only (run this one with urunc)",
                 hv);
        rc = -ENOTSUP;
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
        int gz = mt && strstr(mt, "gzip") != NULL;
        if (mt && !gz && strstr(mt, "+")) {
            snprintf(err, errlen, "compressed layers (%s) are not supported (tar or tar+gzip)", mt);
            rc = -ENOTSUP;
            goto out;
        }
        char *t;
        size_t tl;
        if (blob(dir, json_string_value(json_object_get(l, "digest")), &t, &tl, err, errlen) != 0) {
            rc = -EIO;
            goto out;
        }
        if (gz) {
            char *u;
            size_t ul;
            int zr = gunzip(t, tl, &u, &ul, LAYER_MAX);
            free(t);
            if (zr) {
                snprintf(err, errlen, "a gzip layer %s",
                         zr == -EFBIG ? "inflates past 256 MiB" : "is corrupt or truncated");
                rc = zr == -ENOMEM ? -ENOMEM : -EINVAL;
                goto out;
            }
            t = u;
            tl = ul;
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

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

void gw_image_cache_clean(void)
{
    char root[PATH_MAX];
    cache_root(root, sizeof root);
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "tmp-", 4) != 0)
            continue;
        char p[PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", root, e->d_name);
        if (nftw(p, rm_entry, 8, FTW_DEPTH | FTW_PHYS) == 0)
            n++;
    }
    closedir(d);
    if (n)
        gw_info("image cache: removed %d unfinished pull(s) from %s", n, root);
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
