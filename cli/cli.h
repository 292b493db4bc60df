/* SPDX-License-Identifier: Apache-2.0 */
/* funk CLI internals shared between its files. */
#ifndef FUNK_CLI_H
#define FUNK_CLI_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

/* funk_usage_error ("funk CMD: what is wrong" + hint, exit 64) and funk_getopt_error: every
 * command's usage errors, in the style of docs/cli.md. Commands parse with getopt_long after
 * optind = 0 (main parses its own options with "+", which glibc keeps unless reinitialised). */
#include "../oci/usage.h"
#define CLI_EXIT_USAGE FUNK_EXIT_USAGE

/* ---- stack.c: YAML and the stack file ---- */

/* A YAML node with its 1-based line and column (a mapping's kids: key, value, key, value ...). */
struct ynode;
struct ynode *cli_ynode_load(const char *path, char *err, size_t errlen);
void cli_ynode_free(struct ynode *y);

/* Parses a YAML file ("-": stdin) into JSON (scalars become strings); NULL with err. */
json_t *cli_yaml_load(const char *path, char *err, size_t errlen);

/* Reads a faas-cli stack file strictly: unknown keys, wrong types, duplicate keys and names
 * that are not DNS-1123 labels are errors ("FILE:LINE:COL: ...", one per line in err). The
 * result has strings, string lists, string maps and booleans (skip_build). */
json_t *cli_stack_load(const char *path, char *err, size_t errlen);
/* A template's template.yml (language, welcome_message, image_mode, labels), strictly. */
json_t *cli_template_load(const char *path, char *err, size_t errlen);
/* Where `funk new` adds a function to an existing stack file: the 0-based line to insert
 * before, the indentation of the function names, and whether a functions mapping exists. */
int cli_stack_append_point(const char *path, size_t *line, int *indent, int *has_functions,
                           char *err, size_t errlen);
/* ./stack.yml, else ./stack.yaml, else NULL (as faas-cli). */
const char *cli_stack_default(void);
/* True when s is a DNS-1123 label (OpenFaaS function names). */
int cli_dns_label(const char *s);

/* ---- funk.c: the gateway connection (shared with the workflow commands) ---- */
const char *cli_gateway_get(void);
void cli_gateway_set(const char *url);
/* PUT, then POST when new, /system/functions with spec; 0 or 1 after printing why. */
int cli_deploy_one(json_t *spec);
/* A deploy spec's image: a relative path (it has a /) made absolute against base_dir. */
json_t *cli_image_value(const char *img, const char *base_dir);

/* ---- login.c: gateway credentials ---- */
/* Sets basic auth on h: user/pass when both given, else the stored `funk login` for gateway. */
void cli_auth_apply(CURL *h, const char *gateway, const char *user, const char *pass);
/* GET url, body discarded: the HTTP status in *code (0 when none), curl's result returned.
 * auth_key (a gateway URL) non-NULL: credentials as cli_auth_apply gives them. */
CURLcode cli_http_status(const char *url, const char *auth_key, const char *user,
                         const char *pass, long timeout_ms, long *code);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);

/* ---- workflow.c: faas-cli style commands over a stack file ---- */
/* The gateway of a command: --gateway or FUNK_GATEWAY, else OPENFAAS_URL, else stack_gw (a
 * stack file's provider.gateway; may be NULL), else the default; it becomes the gateway. */
const char *cli_gateway_resolve(const char *stack_gw);
int cli_deploy_stack(const char *file, const char *filter, const char *regex);
int cmd_new(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_up(int argc, char **argv);

/* ---- daemon.c: start funkd (what `funk up` did before it became build+push+deploy) ---- */
int cmd_daemon(int argc, char **argv);

#endif /* FUNK_CLI_H */
