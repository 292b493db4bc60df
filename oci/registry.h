/* SPDX-License-Identifier: Apache-2.0 */
/* OCI distribution client: image references, push of an OCI layout/oci-archive, verified pull. */
#ifndef FUNK_OCI_REGISTRY_H
#define FUNK_OCI_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FUNK_DIGEST_LEN 71 /* "sha256:" + 64 hex */

/* A parsed reference, host[:port]/path[:tag][@digest], as docker and podman read them: the
 * first component is a registry when it holds a '.' or a ':' or is "localhost"; otherwise the
 * registry is docker.io (and a one-component path gets "library/"). No tag and no digest means
 * tag "latest". */
struct funk_ref {
    char host[256];  /* as written: "localhost:5000", "registry.example.com", "docker.io" */
    char repo[256];  /* "team/echo" */
    char tag[129];   /* "" when only a digest was given */
    char digest[72]; /* "" or "sha256:<64 lowercase hex>" */
};

/* 0, or -EINVAL for anything that is not a reference (hostile input: bounded, no allocation). */
int funk_ref_parse(const char *s, struct funk_ref *r);
/* 1 when s names a registry explicitly (a domain-like first component, "localhost", or an
 * @digest): what funkd pulls, as opposed to a local path or installed unikernel name. */
int funk_ref_is_remote(const char *s);
/* "host/repo:tag@digest" (tag and digest as present) into out; truncated to cap. */
void funk_ref_format(const struct funk_ref *r, char *out, size_t cap);
/* 1 for "sha256:" followed by 64 lowercase hex digits. */
int funk_digest_valid(const char *d);
/* 1 for a loopback registry host ("localhost", 127.0.0.0/8, ::1, with or without a port). */
int funk_host_is_loopback(const char *host);

struct funk_reg_opts {
    int tls_verify;           /* 0: https without certificate checks, then plain http */
    const char *insecure;     /* comma-separated hosts treated as tls_verify=0 */
    const char *auth_file;    /* auths JSON ({"auths":{"host":{"auth":"base64(u:p)"}}}) */
    uint64_t max_manifest;    /* bytes of one manifest or index */
    uint64_t max_blob;        /* bytes of one config or layer blob */
    uint64_t max_total;       /* bytes of all blobs of one image */
    unsigned max_layers;      /* layers of one manifest */
    long timeout_s;           /* limit of one whole push or pull, all requests together */
    const char *user, *pass;  /* explicit credentials (win over auth_file) */
    unsigned long *blob_gets; /* when set: counts blob GETs (tests, benchmarks) */
};
/* Defaults: tls_verify 1, manifest 4 MiB, blob 256 MiB, total 512 MiB, 16 layers, 120 s. */
void funk_reg_opts_default(struct funk_reg_opts *o);

/* Pushes the image of an OCI layout directory or oci-archive file (the first manifest of its
 * index.json) to ref: blobs the registry lacks are uploaded, then the manifest is put under the
 * ref's tag (or its digest). digest gets the manifest's digest. 0 or negative errno with err. */
int funk_reg_push(const char *src, const struct funk_ref *ref, const struct funk_reg_opts *o,
                  char digest[72], char *err, size_t errlen);

/* Pulls ref for linux/amd64 into an OCI layout. With cache_root, the layout is
 * cache_root/sha256/<hex of the digest ref resolves to>, reused without fetching a blob when
 * present (a digest reference then needs no request at all); otherwise it is written to dir.
 * Every manifest and blob is checked against its digest and size and the caps of o; a mismatch
 * is refused (-EBADMSG). digest gets what ref resolved to; out_dir (PATH_MAX) the layout. */
int funk_reg_pull(const struct funk_ref *ref, const struct funk_reg_opts *o, const char *dir,
                  const char *cache_root, char digest[72], char *out_dir, char *err, size_t errlen);

/* Checks an oci-archive held in memory (every blob of its first manifest against its digest,
 * the caps of o) and stores it as the layout cache_root/sha256/<manifest hex>. */
int funk_reg_import_archive(const void *tar, size_t len, const struct funk_reg_opts *o,
                            const char *cache_root, char digest[72], char *err, size_t errlen);

/* A regular file in a ustar archive (path-safe names: no "..", leading "/" and "./" ignored):
 * points *out into t. 0, -ENOENT, or -EINVAL for a malformed archive. */
int funk_tar_find(const char *t, size_t len, const char *want, const char **out, size_t *outlen);

/* Stores user:pass for host in the auths file (created 0600, its directory 0700). */
int funk_reg_login(const char *auth_file, const char *host, const char *user, const char *pass,
                   char *err, size_t errlen);
/* $XDG_CONFIG_HOME/funk/auth.json, else ~/.config/funk/auth.json, into out. */
int funk_reg_auth_file_default(char *out, size_t cap);

/* `funk image push|pull` and `funk registry-login`: process exit statuses (0, 1, 64 usage error). */
int funk_image_push_main(int argc, char **argv);
int funk_image_pull_main(int argc, char **argv);
int funk_registry_login_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
