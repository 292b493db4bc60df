/* SPDX-License-Identifier: Apache-2.0 */
/* funk CLI: reads a stack.yml (libyaml) into JSON: mappings, sequences and scalars as strings. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "cli.h"

/* Converts the node at *ev (already parsed) and what follows into JSON. */
static json_t *node(yaml_parser_t *p, yaml_event_t *ev, char *err, size_t errlen, int depth)
{
    if (depth > 64) {
        snprintf(err, errlen, "nesting too deep");
        return NULL;
    }
    if (ev->type == YAML_SCALAR_EVENT)
        return json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
    if (ev->type == YAML_ALIAS_EVENT) {
        snprintf(err, errlen, "line %zu: YAML aliases are not supported", ev->start_mark.line + 1);
        return NULL;
    }
    int map = ev->type == YAML_MAPPING_START_EVENT;
    if (!map && ev->type != YAML_SEQUENCE_START_EVENT) {
        snprintf(err, errlen, "line %zu: unexpected YAML event", ev->start_mark.line + 1);
        return NULL;
    }
    json_t *out = map ? json_object() : json_array();
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e)) {
            snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1,
                     p->problem ? p->problem : "YAML syntax error");
            json_decref(out);
            return NULL;
        }
        if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            return out;
        }
        if (map) {
            if (e.type != YAML_SCALAR_EVENT) {
                snprintf(err, errlen, "line %zu: mapping keys must be plain scalars",
                         e.start_mark.line + 1);
                yaml_event_delete(&e);
                json_decref(out);
                return NULL;
            }
            char key[512];
            snprintf(key, sizeof key, "%.*s", (int)e.data.scalar.length,
                     (const char *)e.data.scalar.value);
            yaml_event_delete(&e);
            yaml_event_t v;
            if (!yaml_parser_parse(p, &v)) {
                snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1,
                         p->problem ? p->problem : "YAML syntax error");
                json_decref(out);
                return NULL;
            }
            json_t *val = node(p, &v, err, errlen, depth + 1);
            yaml_event_delete(&v);
            if (!val) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, key, val);
        } else {
            json_t *val = node(p, &e, err, errlen, depth + 1);
            yaml_event_delete(&e);
            if (!val) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, val);
        }
    }
}

json_t *cli_yaml_load(const char *path, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    json_t *root = NULL;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            snprintf(err, errlen, "%s line %zu: %s", path, p.problem_mark.line + 1,
                     p.problem ? p.problem : "YAML syntax error");
            break;
        }
        int t = e.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_SCALAR_EVENT) {
            char inner[400] = "";
            root = node(&p, &e, inner, sizeof inner, 0);
            if (!root)
                snprintf(err, errlen, "%s: %s", path, inner);
            yaml_event_delete(&e);
            break;
        }
        yaml_event_delete(&e);
        if (t == YAML_STREAM_END_EVENT) {
            snprintf(err, errlen, "%s: empty document", path);
            break;
        }
    }
    yaml_parser_delete(&p);
    if (f != stdin)
        fclose(f);
    return root;
}
