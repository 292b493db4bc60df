/* SPDX-License-Identifier: Apache-2.0 */
/* URL resources where the layer has no network (libvaccel-linux in a unikernel): refused. */
#include <string.h>

#include "internal.h"

/* A unikernel's layer reaches only its own bundle and the host's accelerator agent: an http(s)
 * resource is VACCEL_ENOTSUP with the reason logged, never a silent "file not found". */
int vaccel_url_is_http(const char *path)
{
    return path && (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0);
}

int vaccel_url_fetch(const char *url, void **data, size_t *len)
{
    (void)url;
    *data = NULL;
    *len = 0;
    vaccel_error("URL resources are not available inside a unikernel (no network): %s", url);
    return VACCEL_ENOTSUP;
}
