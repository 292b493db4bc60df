/* SPDX-License-Identifier: Apache-2.0 */
/* Linux personality: a read-only bundle directory, copied at load into the guest's sealed image. */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux.h"

/*
 * The guest process never opens a host path: the library user (before any sandbox) walks the
 * bundle directory and copies its regular files and directories into a blob that travels with
 * the ELF in the launcher's sealed memfd; the personality serves open/read/stat/getdents from
 * that blob. Symbolic links, devices, sockets and fifos are left out (never followed: every
 * component is opened with O_NOFOLLOW relative to its parent), so nothing outside the directory
 * can be reached even by a link planted in it. Caps: LX_BUNDLE_MAX_ENTRIES entries, names of at
 * most 255 bytes, depth 32, LX_BUNDLE_MAX_BYTES of file data.
 */

struct builder {
    struct lx_bentry *e;
    uint32_t n;
    char *names;
    size_t names_len, names_cap;
    uint8_t *data;
    size_t data_len, data_cap;
};

static int grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int add(struct builder *b, uint32_t parent, const char *name, int is_dir, uint32_t *idx)
{
    size_t nl = strlen(name);
    if (b->n >= LX_BUNDLE_MAX_ENTRIES)
        return -E2BIG;
    if (nl > 255)
        return -ENAMETOOLONG;
    if (grow((void **)&b->names, &b->names_cap, b->names_len + nl + 1))
        return -ENOMEM;
    struct lx_bentry *e = &b->e[b->n];
    memset(e, 0, sizeof *e);
    e->parent = parent;
    e->name_off = (uint32_t)b->names_len;
    e->name_len = (uint32_t)nl;
    e->is_dir = (uint32_t)is_dir;
    memcpy(b->names + b->names_len, name, nl + 1);
    b->names_len += nl + 1;
    *idx = b->n++;
    return 0;
}

static int read_file(struct builder *b, int dfd, const char *name, struct lx_bentry *e)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL : 0;
    if (rc == 0 && (uint64_t)st.st_size > LX_BUNDLE_MAX_BYTES - b->data_len)
        rc = -EFBIG;
    if (rc == 0)
        rc = grow((void **)&b->data, &b->data_cap, b->data_len + (size_t)st.st_size + 1);
    size_t got = 0;
    while (rc == 0 && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b->data + b->data_len + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* shrank meanwhile: keep what was there */
        got += (size_t)r;
    }
    close(fd);
    if (rc == 0) {
        e->data_off = b->data_len;
        e->size = got;
        b->data_len += got;
    }
    return rc;
}

static int walk(struct builder *b, int dfd, uint32_t dir, int depth)
{
    if (depth > 32)
        return -ELOOP;
    int fd2 = dup(dfd);
    DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
    if (!d) {
        if (fd2 >= 0)
            close(fd2);
        return -errno;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        uint32_t idx;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                continue;
            rc = add(b, dir, de->d_name, 1, &idx);
            if (rc == 0)
                rc = walk(b, sub, idx, depth + 1);
            close(sub);
        } else if (S_ISREG(st.st_mode)) {
            rc = add(b, dir, de->d_name, 0, &idx);
            if (rc == 0)
                rc = read_file(b, dfd, de->d_name, &b->e[idx]);
        } /* links, devices, sockets, fifos: not part of a bundle */
    }
    closedir(d);
    return rc;
}

/* The child of dir named name[0..len), or -1. */
static int64_t child(const struct builder *b, uint32_t dir, const char *name, size_t len)
{
    for (uint32_t i = 1; i < b->n; i++)
        if (b->e[i].parent == dir && b->e[i].name_len == len &&
            memcmp(b->names + b->e[i].name_off, name, len) == 0)
            return i;
    return -1;
}

/* A file given by the library user (funk_vm_file) at an absolute path; missing directories on
 * the way are made. A path must be absolute, without "." or ".." components, and name no
 * existing entry. */
static int add_given(struct builder *b, const struct funk_vm_file *f)
{
    const char *p = f->path;
    if (!p || p[0] != '/' || (!f->data && f->len))
        return -EINVAL;
    uint32_t dir = 0;
    for (;;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char name[256];
        if (l == 0 || l > 255 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
            return -EINVAL;
        memcpy(name, p, l);
        name[l] = '\0';
        int64_t c = child(b, dir, name, l);
        bool last = !e || !e[strspn(e, "/")];
        if (last) {
            if (c >= 0)
                return -EEXIST;
            if (f->len > LX_BUNDLE_MAX_BYTES - b->data_len)
                return -EFBIG;
            uint32_t idx;
            int rc = add(b, dir, name, 0, &idx);
            if (rc == 0)
                rc = grow((void **)&b->data, &b->data_cap, b->data_len + f->len + 1);
            if (rc)
                return rc;
            if (f->len)
                memcpy(b->data + b->data_len, f->data, f->len);
            b->e[idx].data_off = b->data_len;
            b->e[idx].size = f->len;
            b->data_len += f->len;
            return 0;
        }
        if (c >= 0 && !b->e[c].is_dir)
            return -ENOTDIR;
        if (c < 0) {
            uint32_t idx;
            int rc = add(b, dir, name, 1, &idx);
            if (rc)
                return rc;
            c = idx;
        }
        dir = (uint32_t)c;
        p += l;
    }
}

int linux_bundle_build(const char *dir, const struct funk_vm_file *files, size_t nfiles,
                       uint8_t **out, size_t *out_len)
{
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dir && dfd < 0)
        return -errno;
    struct builder b = {0};
    b.e = calloc(LX_BUNDLE_MAX_ENTRIES, sizeof *b.e);
    uint32_t root;
    int rc = b.e ? add(&b, 0, "", 1, &root) : -ENOMEM;
    if (rc == 0 && dfd >= 0)
        rc = walk(&b, dfd, root, 0);
    if (dfd >= 0)
        close(dfd);
    for (size_t i = 0; rc == 0 && i < nfiles; i++)
        rc = add_given(&b, &files[i]);
    size_t head = sizeof(struct lx_bundle) + (size_t)b.n * sizeof(struct lx_bentry);
    size_t total = head + b.names_len + b.data_len;
    uint8_t *blob = rc == 0 ? malloc(total) : NULL;
    if (rc == 0 && !blob)
        rc = -ENOMEM;
    if (rc == 0) {
        struct lx_bundle h = {.magic = LX_BUNDLE_MAGIC,
                              .n = b.n,
                              .names_off = head,
                              .data_off = head + b.names_len,
                              .len = total};
        memcpy(blob, &h, sizeof h);
        memcpy(blob + sizeof h, b.e, (size_t)b.n * sizeof *b.e);
        if (b.names_len)
            memcpy(blob + head, b.names, b.names_len);
        if (b.data_len)
            memcpy(blob + head + b.names_len, b.data, b.data_len);
        *out = blob;
        *out_len = total;
    }
    free(b.e);
    free(b.names);
    free(b.data);
    return rc;
}
