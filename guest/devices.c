/* SPDX-License-Identifier: Apache-2.0 */
/* Block and net devices: manifest lookup by name, and their hypercalls. */
#include <errno.h>
#include <string.h>

#include <funk/guest.h>

#include "sdk.h"

/* Finds an attached manifest entry of `type` named `name`; returns its index or -errno. */
static int mft_find(const char *name, uint32_t type, const struct mft_entry **out)
{
    const struct mft *m = sdk_boot->mft;
    if (m == NULL || name == NULL)
        return -ENOENT;
    for (uint32_t i = 0; i < m->entries && i < MFT_MAX_ENTRIES; i++) {
        const struct mft_entry *e = &m->e[i];
        if (e->type != type || strncmp(e->name, name, MFT_NAME_SIZE) != 0)
            continue;
        if (!e->attached)
            return -ENODEV;
        *out = e;
        return (int)i;
    }
    return -ENOENT;
}

static int hvt_errno(int32_t r)
{
    switch (r) {
    case HVT_R_OK:
        return 0;
    case HVT_R_AGAIN:
        return -EAGAIN;
    case HVT_R_EINVAL:
        return -EINVAL;
    default:
        return -EIO;
    }
}

int funk_block_acquire(const char *name, funk_handle_t *handle, struct funk_block_info *info)
{
    const struct mft_entry *e;
    int i = mft_find(name, MFT_DEV_BLOCK_BASIC, &e);
    if (i < 0)
        return i;
    *handle = (funk_handle_t)i;
    if (info != NULL) {
        info->capacity = e->u.block_basic.capacity;
        info->block_size = e->u.block_basic.block_size;
    }
    return 0;
}

int funk_block_write(funk_handle_t handle, uint64_t offset, const void *buf, size_t len)
{
    struct hvt_hc_block_write a = {.handle = handle, .offset = offset, .data = buf, .len = len};
    sdk_hypercall(HVT_HYPERCALL_BLOCK_WRITE, &a);
    return hvt_errno(a.ret);
}

int funk_block_read(funk_handle_t handle, uint64_t offset, void *buf, size_t len)
{
    struct hvt_hc_block_read a = {.handle = handle, .offset = offset, .data = buf, .len = len};
    sdk_hypercall(HVT_HYPERCALL_BLOCK_READ, &a);
    return hvt_errno(a.ret);
}

int funk_net_acquire(const char *name, funk_handle_t *handle, struct funk_net_info *info)
{
    const struct mft_entry *e;
    int i = mft_find(name, MFT_DEV_NET_BASIC, &e);
    if (i < 0)
        return i;
    *handle = (funk_handle_t)i;
    if (info != NULL) {
        memcpy(info->mac, e->u.net_basic.mac, sizeof info->mac);
        info->mtu = e->u.net_basic.mtu;
    }
    return 0;
}

int funk_net_write(funk_handle_t handle, const void *buf, size_t len)
{
    struct hvt_hc_net_write a = {.handle = handle, .data = buf, .len = len};
    sdk_hypercall(HVT_HYPERCALL_NET_WRITE, &a);
    return hvt_errno(a.ret);
}

int funk_net_read(funk_handle_t handle, void *buf, size_t size, size_t *read_size)
{
    struct hvt_hc_net_read a = {.handle = handle, .data = buf, .len = size};
    sdk_hypercall(HVT_HYPERCALL_NET_READ, &a);
    if (read_size != NULL)
        *read_size = a.ret == HVT_R_OK ? a.len : 0;
    return hvt_errno(a.ret);
}
