/* SPDX-License-Identifier: Apache-2.0 */
/* funk CLI: reads YAML (libyaml) into a tree with line:column marks, and checks a faas-cli stack
 * file against its schema: unknown keys and wrong types are errors that name FILE:LINE:COL. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <yaml.h>

#include "cli.h"

#define YAML_MAX_BYTES (4u << 20) /* a stack file is small; a hostile one is refused early */
#define YAML_MAX_NODES 100000
#define YAML_MAX_DEPTH 64

struct ynode {
    int kind; /* YAML_SCALAR_NODE, YAML_MAPPING_NODE, YAML_SEQUENCE_NODE */
    size_t line, col, end_line;
    char *str; /* scalar text */
    size_t len;
    int plain; /* plain (unquoted) scalar: may be null or a boolean */
    int flow;  /* a mapping or sequence in flow style ({...} or [...]) */
    size_t n;  /* children: a mapping holds key, value, key, value ... */
    struct ynode **kids;
};

void cli_ynode_free(struct ynode *y)
{
    if (!y)
        return;
    for (size_t i = 0; i < y->n; i++)
        cli_ynode_free(y->kids[i]);
    free(y->kids);
    free(y->str);
    free(y);
}

struct yload {
    yaml_parser_t p;
    const char *path;
    char *err;
    size_t errlen;
    size_t nodes;
    int subst; /* ${VAR} substitution in scalars (stack files, as faas-cli) */
};

/* ${NAME}, ${NAME:-default} (unset or empty) and ${NAME-default} (unset) from the environment,
 * as faas-cli substitutes in stack files; anything else is kept as written. NULL: no memory. */
static char *envsubst(const char *s, size_t len, size_t *outlen)
{
    size_t cap = len + 1, n = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && i < len;) {
        const char *add = s + i;
        size_t addlen = 1, skip = 1;
        const char *close = i + 1 < len && s[i] == '$' && s[i + 1] == '{'
                                ? memchr(s + i + 2, '}', len - i - 2)
                                : NULL;
        if (close) {
            const char *name = s + i + 2;
            size_t nl = 0;
            while (name + nl < close && (name[nl] == '_' || (name[nl] >= 'A' && name[nl] <= 'Z') ||
                                         (name[nl] >= 'a' && name[nl] <= 'z') ||
                                         (nl && name[nl] >= '0' && name[nl] <= '9')))
                nl++;
            const char *rest = name + nl;
            int colon = rest < close && *rest == ':';
            int has_def = rest + colon < close && rest[colon] == '-';
            if (nl && nl < 256 && (rest == close || has_def)) {
                char var[256];
                memcpy(var, name, nl);
                var[nl] = '\0';
                const char *v = getenv(var);
                if (has_def && (!v || (colon && !*v))) {
                    add = rest + colon + 1;
                    addlen = (size_t)(close - add);
                } else {
                    add = v ? v : "";
                    addlen = strlen(add);
                }
                skip = (size_t)(close - (s + i)) + 1;
            }
        }
        if (n + addlen + 1 > cap) {
            cap = (n + addlen + 1) * 2;
            char *no = realloc(out, cap);
            if (!no) {
                free(out);
                return NULL;
            }
            out = no;
        }
        memcpy(out + n, add, addlen);
        n += addlen;
        i += skip;
    }
    if (out)
        out[n] = '\0';
    *outlen = n;
    return out;
}

static int ysyntax(struct yload *L)
{
    snprintf(L->err, L->errlen, "%s:%zu:%zu: %s", L->path, L->p.problem_mark.line + 1,
             L->p.problem_mark.column + 1, L->p.problem ? L->p.problem : "YAML syntax error");
    return -EINVAL;
}

/* Builds the node that starts with event *ev (already parsed) and what belongs to it. */
static struct ynode *ybuild(struct yload *L, yaml_event_t *ev, int depth)
{
    if (depth > YAML_MAX_DEPTH || ++L->nodes > YAML_MAX_NODES) {
        snprintf(L->err, L->errlen, "%s:%zu: nesting too deep or too many nodes", L->path,
                 ev->start_mark.line + 1);
        return NULL;
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        snprintf(L->err, L->errlen, "%s:%zu:%zu: YAML aliases are not supported", L->path,
                 ev->start_mark.line + 1, ev->start_mark.column + 1);
        return NULL;
    }
    int kind = ev->type == YAML_SCALAR_EVENT           ? YAML_SCALAR_NODE
               : ev->type == YAML_MAPPING_START_EVENT  ? YAML_MAPPING_NODE
               : ev->type == YAML_SEQUENCE_START_EVENT ? YAML_SEQUENCE_NODE
                                                       : 0;
    if (!kind) {
        snprintf(L->err, L->errlen, "%s:%zu: unexpected YAML event", L->path,
                 ev->start_mark.line + 1);
        return NULL;
    }
    struct ynode *y = calloc(1, sizeof *y);
    if (!y)
        goto oom;
    y->kind = kind;
    y->line = ev->start_mark.line + 1;
    y->col = ev->start_mark.column + 1;
    if (kind == YAML_SCALAR_NODE) {
        y->len = ev->data.scalar.length;
        y->str = malloc(y->len + 1);
        if (!y->str)
            goto oom;
        memcpy(y->str, ev->data.scalar.value, y->len);
        y->str[y->len] = '\0';
        y->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (L->subst && memmem(y->str, y->len, "${", 2)) {
            size_t nlen;
            char *sub = envsubst(y->str, y->len, &nlen);
            if (!sub)
                goto oom;
            free(y->str);
            y->str = sub;
            y->len = nlen;
        }
        y->end_line = ev->end_mark.line + 1;
        return y;
    }
    y->flow = kind == YAML_MAPPING_NODE ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                                        : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
    size_t cap = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&L->p, &e)) {
            ysyntax(L);
            cli_ynode_free(y);
            return NULL;
        }
        if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            y->end_line = e.end_mark.line + 1;
            yaml_event_delete(&e);
            break;
        }
        int is_key = kind == YAML_MAPPING_NODE && y->n % 2 == 0;
        if (is_key && e.type != YAML_SCALAR_EVENT) {
            snprintf(L->err, L->errlen, "%s:%zu:%zu: mapping keys must be plain scalars", L->path,
                     e.start_mark.line + 1, e.start_mark.column + 1);
            yaml_event_delete(&e);
            cli_ynode_free(y);
            return NULL;
        }
        struct ynode *k = ybuild(L, &e, depth + 1);
        yaml_event_delete(&e);
        if (!k) {
            cli_ynode_free(y);
            return NULL;
        }
        if (is_key) {
            for (size_t i = 0; i < y->n; i += 2) {
                if (strcmp(y->kids[i]->str, k->str) == 0) {
                    snprintf(L->err, L->errlen,
                             "%s:%zu:%zu: duplicate key '%s' (first at line %zu)", L->path, k->line,
                             k->col, k->str, y->kids[i]->line);
                    cli_ynode_free(k);
                    cli_ynode_free(y);
                    return NULL;
                }
            }
        }
        if (y->n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct ynode **nk = realloc(y->kids, nc * sizeof *nk);
            if (!nk) {
                cli_ynode_free(k);
                goto oom;
            }
            y->kids = nk;
            cap = nc;
        }
        y->kids[y->n++] = k;
    }
    return y;
oom:
    snprintf(L->err, L->errlen, "%s: out of memory", L->path);
    cli_ynode_free(y);
    return NULL;
}

static struct ynode *yload(const char *path, int subst, char *err, size_t errlen);

struct ynode *cli_ynode_load(const char *path, char *err, size_t errlen)
{
    return yload(path, 0, err, errlen);
}

static struct ynode *yload(const char *path, int subst, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (f != stdin && (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
                       (unsigned long long)st.st_size > YAML_MAX_BYTES)) {
        snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path, YAML_MAX_BYTES);
        fclose(f);
        return NULL;
    }
    struct yload L = {.path = path, .err = err, .errlen = errlen, .subst = subst};
    yaml_parser_initialize(&L.p);
    yaml_parser_set_input_file(&L.p, f);
    struct ynode *root = NULL;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&L.p, &e)) {
            ysyntax(&L);
            break;
        }
        int t = e.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
            root = ybuild(&L, &e, 0);
            yaml_event_delete(&e);
            break;
        }
        yaml_event_delete(&e);
        if (t == YAML_STREAM_END_EVENT) {
            snprintf(err, errlen, "%s: empty document", path);
            break;
        }
    }
    yaml_parser_delete(&L.p);
    if (f != stdin)
        fclose(f);
    return root;
}

/* Plain YAML null: empty, ~, null (the YAML 1.2 core schema). */
static int ynull(const struct ynode *y)
{
    return !y || (y->kind == YAML_SCALAR_NODE && y->plain &&
                  (y->len == 0 || strcmp(y->str, "~") == 0 || strcmp(y->str, "null") == 0 ||
                   strcmp(y->str, "Null") == 0 || strcmp(y->str, "NULL") == 0));
}

static json_t *yjson(const struct ynode *y)
{
    if (y->kind == YAML_SCALAR_NODE)
        return json_stringn(y->str, y->len);
    json_t *out = y->kind == YAML_MAPPING_NODE ? json_object() : json_array();
    for (size_t i = 0; out && i < y->n; i++) {
        if (y->kind == YAML_MAPPING_NODE) {
            json_object_set_new(out, y->kids[i]->str, yjson(y->kids[i + 1]));
            i++;
        } else {
            json_array_append_new(out, yjson(y->kids[i]));
        }
    }
    return out;
}

json_t *cli_yaml_load(const char *path, char *err, size_t errlen)
{
    struct ynode *y = cli_ynode_load(path, err, errlen);
    if (!y)
        return NULL;
    json_t *j = yjson(y);
    cli_ynode_free(y);
    return j;
}

/* ---- the stack file schema (faas-cli's stack/schema.go, all versions' keys) ----------------- */

enum ytype {
    T_STR,
    T_BOOL,
    T_STRMAP,
    T_STRLIST,
    T_RES,
    T_PROVIDER,
    T_FUNCS,
    T_CONFIG,
    T_TEMPLATES
};

struct yfield {
    const char *key;
    enum ytype type;
};

static const struct yfield top_fields[] = {{"version", T_STR},
                                           {"provider", T_PROVIDER},
                                           {"functions", T_FUNCS},
                                           {"configuration", T_CONFIG},
                                           {NULL, 0}};
static const struct yfield provider_fields[] = {
    {"name", T_STR}, {"gateway", T_STR}, {"network", T_STR}, {NULL, 0}};
static const struct yfield function_fields[] = {{"lang", T_STR},
                                                {"handler", T_STR},
                                                {"image", T_STR},
                                                {"fprocess", T_STR},
                                                {"environment", T_STRMAP},
                                                {"environment_file", T_STRLIST},
                                                {"secrets", T_STRLIST},
                                                {"labels", T_STRMAP},
                                                {"annotations", T_STRMAP},
                                                {"limits", T_RES},
                                                {"requests", T_RES},
                                                {"constraints", T_STRLIST},
                                                {"build_args", T_STRMAP},
                                                {"build_options", T_STRLIST},
                                                {"build_secrets", T_STRMAP},
                                                {"skip_build", T_BOOL},
                                                {"readonly_root_filesystem", T_BOOL},
                                                {"namespace", T_STR},
                                                {"platforms", T_STR},
                                                {"registry_auth", T_STR},
                                                {NULL, 0}};
static const struct yfield res_fields[] = {{"memory", T_STR}, {"cpu", T_STR}, {NULL, 0}};
static const struct yfield config_fields[] = {
    {"templates", T_TEMPLATES}, {"copy", T_STRLIST}, {NULL, 0}};
static const struct yfield template_fields[] = {{"name", T_STR}, {"source", T_STR}, {NULL, 0}};

struct ycheck {
    const char *path;
    char *err;
    size_t errlen, used;
    int errors;
};

static void yerr(struct ycheck *C, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void yerr(struct ycheck *C, const struct ynode *at, const char *fmt, ...)
{
    C->errors++;
    if (C->errors > 20 || C->used + 1 >= C->errlen)
        return;
    int n = snprintf(C->err + C->used, C->errlen - C->used, "%s%s:%zu:%zu: ", C->used ? "\n" : "",
                     C->path, at->line, at->col);
    if (n > 0 && (size_t)n < C->errlen - C->used)
        C->used += (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(C->err + C->used, C->errlen - C->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        C->used += (size_t)n < C->errlen - C->used ? (size_t)n : C->errlen - C->used - 1;
}

static const char *kindname(const struct ynode *y)
{
    return y->kind == YAML_MAPPING_NODE    ? "a mapping"
           : y->kind == YAML_SEQUENCE_NODE ? "a list"
                                           : "a scalar";
}

/* Levenshtein distance, capped: for "did you mean" hints on misspelt keys. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c)
                c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c)
                c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static json_t *ycheck_map(struct ycheck *C, const struct ynode *y, const struct yfield *fields,
                          const char *where);

static json_t *ycheck_value(struct ycheck *C, const struct ynode *v, enum ytype t,
                            const char *where)
{
    switch (t) {
    case T_STR:
        if (v->kind != YAML_SCALAR_NODE) {
            yerr(C, v, "%s must be a string, not %s", where, kindname(v));
            return NULL;
        }
        return json_stringn(v->str, v->len);
    case T_BOOL:
        if (v->kind == YAML_SCALAR_NODE && v->plain &&
            (!strcmp(v->str, "true") || !strcmp(v->str, "True") || !strcmp(v->str, "TRUE")))
            return json_true();
        if (v->kind == YAML_SCALAR_NODE && v->plain &&
            (!strcmp(v->str, "false") || !strcmp(v->str, "False") || !strcmp(v->str, "FALSE")))
            return json_false();
        yerr(C, v, "%s must be true or false, not %s%s%s", where,
             v->kind == YAML_SCALAR_NODE ? "'" : kindname(v),
             v->kind == YAML_SCALAR_NODE ? v->str : "", v->kind == YAML_SCALAR_NODE ? "'" : "");
        return NULL;
    case T_STRMAP: {
        if (v->kind != YAML_MAPPING_NODE) {
            yerr(C, v, "%s must be a mapping of names to strings, not %s", where, kindname(v));
            return NULL;
        }
        json_t *o = json_object();
        for (size_t i = 0; i < v->n; i += 2) {
            const struct ynode *val = v->kids[i + 1];
            if (ynull(val)) {
                json_object_set_new(o, v->kids[i]->str, json_string(""));
            } else if (val->kind != YAML_SCALAR_NODE) {
                yerr(C, val, "%s.%s must be a string, not %s", where, v->kids[i]->str,
                     kindname(val));
            } else {
                json_object_set_new(o, v->kids[i]->str, json_stringn(val->str, val->len));
            }
        }
        return o;
    }
    case T_STRLIST: {
        if (v->kind != YAML_SEQUENCE_NODE) {
            yerr(C, v, "%s must be a list of strings, not %s", where, kindname(v));
            return NULL;
        }
        json_t *a = json_array();
        for (size_t i = 0; i < v->n; i++) {
            if (v->kids[i]->kind != YAML_SCALAR_NODE)
                yerr(C, v->kids[i], "%s[%zu] must be a string, not %s", where, i,
                     kindname(v->kids[i]));
            else
                json_array_append_new(a, json_stringn(v->kids[i]->str, v->kids[i]->len));
        }
        return a;
    }
    case T_RES:
        return ycheck_map(C, v, res_fields, where);
    case T_PROVIDER:
        return ycheck_map(C, v, provider_fields, where);
    case T_CONFIG:
        return ycheck_map(C, v, config_fields, where);
    case T_TEMPLATES: {
        if (v->kind != YAML_SEQUENCE_NODE) {
            yerr(C, v, "%s must be a list of {name, source}, not %s", where, kindname(v));
            return NULL;
        }
        json_t *a = json_array();
        for (size_t i = 0; i < v->n; i++) {
            char w[300];
            snprintf(w, sizeof w, "%.250s[%zu]", where, i);
            json_t *e = ycheck_map(C, v->kids[i], template_fields, w);
            if (e)
                json_array_append_new(a, e);
        }
        return a;
    }
    case T_FUNCS: {
        if (v->kind != YAML_MAPPING_NODE) {
            yerr(C, v, "%s must be a mapping of function names, not %s", where, kindname(v));
            return NULL;
        }
        json_t *o = json_object();
        for (size_t i = 0; i < v->n; i += 2) {
            const struct ynode *k = v->kids[i];
            if (!cli_dns_label(k->str))
                yerr(C, k,
                     "function name '%s' is not a DNS-1123 label (a-z, 0-9 and '-', at most 63, "
                     "starting and ending with a letter or digit)",
                     k->str);
            char w[300];
            snprintf(w, sizeof w, "functions.%s", k->str);
            if (ynull(v->kids[i + 1])) {
                yerr(C, k, "%s is empty", w);
                continue;
            }
            json_t *f = ycheck_map(C, v->kids[i + 1], function_fields, w);
            if (f)
                json_object_set_new(o, k->str, f);
        }
        return o;
    }
    }
    return NULL;
}

static json_t *ycheck_map(struct ycheck *C, const struct ynode *y, const struct yfield *fields,
                          const char *where)
{
    if (y->kind != YAML_MAPPING_NODE) {
        yerr(C, y, "%s must be a mapping, not %s", where, kindname(y));
        return NULL;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];
        const struct yfield *f = fields;
        while (f->key && strcmp(f->key, k->str) != 0)
            f++;
        char w[300];
        snprintf(w, sizeof w, "%s%s%s", where, *where ? "." : "", k->str);
        if (!f->key) {
            const struct yfield *best = NULL;
            size_t bd = 3;
            for (const struct yfield *g = fields; g->key; g++) {
                size_t d = distance(k->str, g->key);
                if (d < bd) {
                    bd = d;
                    best = g;
                }
            }
            if (best)
                yerr(C, k, "unknown key '%s'%s%s (did you mean '%s'?)", k->str,
                     *where ? " in " : "", where, best->key);
            else
                yerr(C, k, "unknown key '%s'%s%s", k->str, *where ? " in " : "", where);
            continue;
        }
        if (ynull(v))
            continue; /* an empty value is the same as no value, as in faas-cli */
        json_t *j = ycheck_value(C, v, f->type, w);
        if (j)
            json_object_set_new(o, k->str, j);
    }
    return o;
}

int cli_dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

json_t *cli_stack_check(const struct ynode *root, const char *path, char *err, size_t errlen)
{
    struct ycheck C = {.path = path, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    json_t *j = ycheck_map(&C, root, top_fields, "");
    if (j && !C.errors) {
        const char *pn = json_string_value(json_object_get(json_object_get(j, "provider"), "name"));
        if (pn && strcmp(pn, "openfaas") != 0) {
            for (size_t i = 0; i < root->n; i += 2)
                if (strcmp(root->kids[i]->str, "provider") == 0)
                    yerr(&C, root->kids[i + 1],
                         "provider.name must be 'openfaas' (as for faas-cli), not '%s'", pn);
        }
    }
    if (C.errors > 20 && C.used + 40 < C.errlen)
        snprintf(C.err + C.used, C.errlen - C.used, "\n... %d errors in all", C.errors);
    if (C.errors) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *cli_stack_load(const char *path, char *err, size_t errlen)
{
    struct ynode *y = yload(path, 1, err, errlen);
    if (!y)
        return NULL;
    json_t *j = cli_stack_check(y, path, err, errlen);
    cli_ynode_free(y);
    return j;
}

const char *cli_stack_default(void)
{
    struct stat st;
    if (stat("stack.yml", &st) == 0)
        return "stack.yml";
    if (stat("stack.yaml", &st) == 0)
        return "stack.yaml";
    return NULL;
}

/* ---- template.yml and appending to a stack file ------------------------------------------- */

static const struct yfield tmpl_fields[] = {{"language", T_STR},   {"welcome_message", T_STR},
                                            {"image_mode", T_STR}, {"labels", T_STRMAP},
                                            {"fprocess", T_STR},   {NULL, 0}};

json_t *cli_template_load(const char *path, char *err, size_t errlen)
{
    struct ynode *y = cli_ynode_load(path, err, errlen);
    if (!y)
        return NULL;
    struct ycheck C = {.path = path, .err = err, .errlen = errlen};
    json_t *j = ycheck_map(&C, y, tmpl_fields, "");
    const char *m = json_string_value(json_object_get(j, "image_mode"));
    if (j && m && strcmp(m, "fn") != 0 && strcmp(m, "console") != 0)
        yerr(&C, y, "image_mode must be fn or console, not '%s'", m);
    cli_ynode_free(y);
    if (C.errors) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int cli_stack_append_point(const char *path, size_t *line, int *indent, int *has_functions,
                           char *err, size_t errlen)
{
    struct ynode *y = yload(path, 1, err, errlen);
    if (!y)
        return -EINVAL;
    json_t *j = cli_stack_check(y, path, err, errlen);
    int rc = 0;
    *has_functions = 0;
    *indent = 2;
    *line = 0;
    if (!j) {
        rc = -EINVAL;
        goto out;
    }
    json_decref(j);
    for (size_t i = 0; i < y->n; i += 2) {
        if (strcmp(y->kids[i]->str, "functions") != 0)
            continue;
        const struct ynode *f = y->kids[i + 1];
        if (f->kind == YAML_SCALAR_NODE && f->plain && f->len == 0) {
            /* "functions:" and nothing: the entry goes right after that line */
            *has_functions = 1;
            *indent = (int)y->kids[i]->col + 1;
            *line = y->kids[i]->line;
            break;
        }
        if (f->kind != YAML_MAPPING_NODE || f->flow || f->col <= y->kids[i]->col) {
            snprintf(err, errlen,
                     "%s:%zu:%zu: functions is not a block mapping: add the function by hand", path,
                     f->line, f->col);
            rc = -EINVAL;
            goto out;
        }
        *has_functions = 1;
        *indent = (int)f->col - 1;
        /* the mapping ends where the next token starts; funk new inserts before it */
        *line = f->end_line - 1;
    }
out:
    cli_ynode_free(y);
    return rc;
}
