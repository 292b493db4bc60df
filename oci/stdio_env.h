/* SPDX-License-Identifier: Apache-2.0 */
/* The request as OpenFaaS's classic watchdog hands it to a stdio function: Http_* variables. */
#ifndef FUNK_OCI_STDIO_ENV_H
#define FUNK_OCI_STDIO_ENV_H

#include <stddef.h>

/*
 * Shared by funkd's stdio functions (gateway/invoke.c) and funk-watchdog (also inside
 * funk-runtime for stdio images), so that a function sees the same environment wherever it runs.
 *
 * stdio_env_header: "Http_<Name>=<value>" for one request header, the name in Go's canonical
 * form with '-' turned into '_' (Content-Type -> Http_Content_Type). malloc'd, NULL when out of
 * memory. The lengths are the caller's (nothing needs to be NUL-terminated).
 *
 * stdio_env_request: writes up to STDIO_ENV_REQUEST_MAX entries at env[0..] (malloc'd strings;
 * the caller leaves the room): Http_Method, Http_ContentLength and Http_Content_Length (the
 * body's length), Http_Path ("/" when none) and Http_Query when not empty. Returns how many.
 */
#define STDIO_ENV_REQUEST_MAX 5
char *stdio_env_header(const char *name, size_t name_len, const char *value, size_t value_len);
size_t stdio_env_request(char **env, const char *method, const char *path, const char *query,
                         size_t body_len);

#endif
