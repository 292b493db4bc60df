/* SPDX-License-Identifier: Apache-2.0 */
/* funk CLI internals shared between its files. */
#ifndef FUNK_CLI_H
#define FUNK_CLI_H

#include <stddef.h>

#include <jansson.h>

/* Parses a YAML file ("-": stdin) into JSON (scalars become strings); NULL with err. */
json_t *cli_yaml_load(const char *path, char *err, size_t errlen);

#endif /* FUNK_CLI_H */
