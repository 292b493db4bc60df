/* SPDX-License-Identifier: Apache-2.0 */
/* funk new/template/build/push/up and deploy -f: the faas-cli workflow over a stack file. A
 * function with lang + handler is built by its template into a unikernel, then into an OCI
 * image layout at build/NAME (funk image build); push hands that to `funk image push`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#ifndef FUNK_TEMPLATE_DIR
#define FUNK_TEMPLATE_DIR "/usr/local/share/funk/templates"
#endif
#ifndef FUNK_PKGCONFIG_DIR
#define FUNK_PKGCONFIG_DIR "/usr/local/lib/pkgconfig"
#endif
#ifndef FUNK_BINDIR
#define FUNK_BINDIR "/usr/local/bin"
#endif

/* snprintf for paths: truncation is checked by the callers that care (and it keeps GCC's
 * format-truncation analysis, which cannot know our paths are short, quiet). */
static int pathf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    return n;
}

const char *cli_gateway_resolve(const char *stack_gw)
{
    const char *g = cli_gateway_get();
    if (!getenv("FUNK_GATEWAY_FORCED")) {
        const char *o = getenv("OPENFAAS_URL");
        if (o && *o)
            g = o;
        else if (stack_gw && *stack_gw)
            g = stack_gw;
    }
    size_t l = strlen(g);
    while (l > 1 && g[l - 1] == '/')
        l--;
    char *c = strndup(g, l);
    if (c)
        cli_gateway_set(c); /* lives until exit, like argv */
    return cli_gateway_get();
}

/* ---- the stack file and the functions selected ---------------------------------------------- */

struct stack {
    const char *path;
    char dir[PATH_MAX];
    json_t *y;
    const char *filter;
    regex_t re;
    int has_re;
};

static void stack_close(struct stack *s)
{
    json_decref(s->y);
    if (s->has_re)
        regfree(&s->re);
}

/* Loads file (NULL: ./stack.yml or ./stack.yaml) and the selection; 0, or CLI_EXIT_USAGE after
 * printing why (a bad stack file is a usage error, as a bad option). */
static int stack_open(struct stack *s, const char *file, const char *filter, const char *regex,
                      const char *cmd)
{
    memset(s, 0, sizeof *s);
    if (filter && regex) {
        fprintf(stderr, "funk %s: give --filter or --regex, not both\n", cmd);
        return CLI_EXIT_USAGE;
    }
    s->path = file ? file : cli_stack_default();
    if (!s->path) {
        fprintf(stderr,
                "funk %s: no stack file: give -f FILE, or run it where stack.yml (or stack.yaml) "
                "is%s\n",
                cmd, strcmp(cmd, "deploy") == 0 ? " (or deploy --name N --image IMG)" : "");
        return CLI_EXIT_USAGE;
    }
    char err[4096];
    s->y = cli_stack_load(s->path, err, sizeof err);
    if (!s->y) {
        fprintf(stderr, "funk %s: %s\n", cmd, err);
        return CLI_EXIT_USAGE;
    }
    pathf(s->dir, sizeof s->dir, "%s", s->path);
    char *slash = strrchr(s->dir, '/');
    if (!slash)
        pathf(s->dir, sizeof s->dir, ".");
    else if (slash == s->dir)
        s->dir[1] = '\0';
    else
        *slash = '\0';
    s->filter = filter;
    if (regex) {
        int r = regcomp(&s->re, regex, REG_EXTENDED | REG_NOSUB);
        if (r) {
            char m[200];
            regerror(r, &s->re, m, sizeof m);
            fprintf(stderr, "funk %s: --regex '%s': %s\n", cmd, regex, m);
            json_decref(s->y);
            return CLI_EXIT_USAGE;
        }
        s->has_re = 1;
    }
    if (!json_object_size(json_object_get(s->y, "functions"))) {
        fprintf(stderr, "funk %s: %s: no functions\n", cmd, s->path);
        stack_close(s);
        return CLI_EXIT_USAGE;
    }
    cli_gateway_resolve(
        json_string_value(json_object_get(json_object_get(s->y, "provider"), "gateway")));
    return 0;
}

static int selected(const struct stack *s, const char *name)
{
    if (s->filter && fnmatch(s->filter, name, 0) != 0)
        return 0;
    if (s->has_re && regexec(&s->re, name, 0, NULL, 0) != 0)
        return 0;
    return 1;
}

static const char *fstr(json_t *f, const char *key)
{
    return json_string_value(json_object_get(f, key));
}

/* path joined to base unless absolute */
static void join(char *out, size_t len, const char *base, const char *path)
{
    if (path[0] == '/')
        pathf(out, len, "%s", path);
    else
        pathf(out, len, "%s/%s", base, path);
}

/* ---- deploy ------------------------------------------------------------------------------- */

/* environment_file: YAML files holding {environment: {K: V}}, later ones winning. */
static int env_files(json_t *env, json_t *files, const char *dir, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        char p[PATH_MAX * 2], err[2048];
        join(p, sizeof p, dir, json_string_value(f));
        json_t *y = cli_yaml_load(p, err, sizeof err);
        json_t *e = json_object_get(y, "environment");
        if (!y || !json_is_object(y) || json_object_size(y) != (e ? 1u : 0u) ||
            (e && !json_is_object(e))) {
            fprintf(stderr, "funk: %s: environment_file %s: %s\n", name, p,
                    y ? "must hold only 'environment:' with a mapping of names to strings" : err);
            json_decref(y);
            return -1;
        }
        const char *k;
        json_t *v;
        json_object_foreach(e, k, v)
        {
            if (!json_is_string(v)) {
                fprintf(stderr, "funk: %s: environment_file %s: %s is not a string\n", name, p, k);
                json_decref(y);
                return -1;
            }
            json_object_set(env, k, v);
        }
        json_decref(y);
    }
    return 0;
}

/* local: deploy what `funk build` wrote to build/NAME (funk up --skip-push) for built functions */
static int deploy_stack(struct stack *s, int local)
{
    int rc = 0, n = 0;
    const char *name;
    json_t *f;
    json_object_foreach(json_object_get(s->y, "functions"), name, f)
    {
        if (!selected(s, name))
            continue;
        n++;
        const char *img = fstr(f, "image");
        char layout[PATH_MAX * 2];
        json_t *image = NULL;
        if (local && fstr(f, "lang") && !json_is_true(json_object_get(f, "skip_build"))) {
            pathf(layout, sizeof layout, "%s/build/%s/index.json", s->dir, name);
            if (access(layout, R_OK) != 0) {
                fprintf(stderr, "funk deploy: %s: no local build at %s (funk build first)\n", name,
                        layout);
                rc = 1;
                continue;
            }
            layout[strlen(layout) - strlen("/index.json")] = '\0';
            char *abs = realpath(layout, NULL);
            image = json_string(abs ? abs : layout);
            free(abs);
        } else if (img) {
            image = cli_image_value(img, s->dir);
        } else {
            fprintf(stderr, "funk deploy: %s: function %s needs an 'image'\n", s->path, name);
            rc = rc ? rc : CLI_EXIT_USAGE;
            continue;
        }
        json_t *spec = json_object(), *env = json_object();
        json_object_set_new(spec, "service", json_string(name));
        json_object_set_new(spec, "image", image);
        json_t *e = json_object_get(f, "environment");
        if (e)
            json_object_update(env, e);
        if (env_files(env, json_object_get(f, "environment_file"), s->dir, name) != 0) {
            json_decref(spec);
            json_decref(env);
            rc = CLI_EXIT_USAGE;
            continue;
        }
        if (json_object_size(env))
            json_object_set(spec, "envVars", env);
        json_decref(env);
        static const char *const maps[][2] = {
            {"labels", "labels"},       {"annotations", "annotations"},
            {"limits", "limits"},       {"requests", "requests"},
            {"secrets", "secrets"},     {"constraints", "constraints"},
            {"namespace", "namespace"}, {"fprocess", "envProcess"}};
        for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) {
            json_t *v = json_object_get(f, maps[i][0]);
            if (v)
                json_object_set(spec, maps[i][1], v);
        }
        if (json_is_true(json_object_get(f, "readonly_root_filesystem")))
            json_object_set_new(spec, "readOnlyRootFilesystem", json_true());
        if (rc != CLI_EXIT_USAGE)
            rc |= cli_deploy_one(spec);
        json_decref(spec);
    }
    if (n == 0) {
        fprintf(stderr, "funk deploy: %s: no function matches\n", s->path);
        return CLI_EXIT_USAGE;
    }
    return rc;
}

int cli_deploy_stack(const char *file, const char *filter, const char *regex)
{
    struct stack s;
    int rc = stack_open(&s, file, filter, regex, "deploy");
    if (rc)
        return rc;
    rc = deploy_stack(&s, 0);
    stack_close(&s);
    return rc;
}

/* ---- templates ---------------------------------------------------------------------------- */

/* The installed templates: next to this binary (PREFIX/bin/../share/funk/templates), else the
 * prefix funk was built for. */
static void installed_dir(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *sl = strrchr(exe, '/');
        if (sl) {
            *sl = '\0';
            pathf(out, len, "%s/../share/funk/templates", exe);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
                return;
        }
    }
    pathf(out, len, "%s", FUNK_TEMPLATE_DIR);
}

static int is_template(const char *dir)
{
    char p[PATH_MAX + 32];
    pathf(p, sizeof p, "%s/template.yml", dir);
    return access(p, R_OK) == 0;
}

/* Finds template lang: STACKDIR/template/LANG (pulled, as faas-cli), a local source in the
 * stack's configuration.templates, $FUNK_TEMPLATES (dirs, ':'-separated), the installed ones. */
static int find_template(const char *lang, const char *stackdir, json_t *stack, char *out,
                         size_t len)
{
    if (!cli_dns_label(lang) && strcmp(lang, "c") != 0) {
        fprintf(stderr, "funk: '%s' is not a template name\n", lang);
        return -1;
    }
    pathf(out, len, "%s/template/%s", stackdir, lang);
    if (is_template(out))
        return 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(stack, "configuration"), "templates"), i, t)
    {
        const char *nm = fstr(t, "name"), *src = fstr(t, "source");
        if (!nm || !src || strcmp(nm, lang) != 0)
            continue;
        if (strstr(src, "://") || strncmp(src, "git@", 4) == 0) {
            fprintf(stderr,
                    "funk: template %s: only local sources (a directory) are supported, "
                    "not %s\n",
                    lang, src);
            return -1;
        }
        join(out, len, stackdir, src);
        if (is_template(out))
            return 0;
        char sub[PATH_MAX * 2];
        pathf(sub, sizeof sub, "%s/%s", out, lang);
        if (is_template(sub)) {
            pathf(out, len, "%s", sub);
            return 0;
        }
    }
    const char *env = getenv("FUNK_TEMPLATES");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d;
             d = strtok_r(NULL, ":", &save)) {
            pathf(out, len, "%s/%s", d, lang);
            if (is_template(out)) {
                free(copy);
                return 0;
            }
        }
        free(copy);
    }
    char inst[PATH_MAX];
    installed_dir(inst, sizeof inst);
    pathf(out, len, "%s/%s", inst, lang);
    if (is_template(out))
        return 0;
    fprintf(stderr,
            "funk: no template '%s' (looked in %s/template, FUNK_TEMPLATES and %s; see funk "
            "template list)\n",
            lang, stackdir, inst);
    return -1;
}

static json_t *template_meta(const char *tdir)
{
    char p[PATH_MAX + 32], err[2048];
    pathf(p, sizeof p, "%s/template.yml", tdir);
    json_t *t = cli_template_load(p, err, sizeof err);
    if (!t)
        fprintf(stderr, "funk: template: %s\n", err);
    return t;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the templates under dir (one per subfolder with a template.yml). */
static int list_dir(const char *dir, const char *where)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        char p[PATH_MAX + 300];
        pathf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && is_template(p))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX + 300];
        pathf(p, sizeof p, "%s/%s", dir, names[i]);
        json_t *t = template_meta(p);
        const char *msg = t ? fstr(t, "language") : NULL;
        printf("%-12s %-40s %s\n", names[i], msg ? msg : "", where);
        json_decref(t);
        free(names[i]);
    }
    return (int)n;
}

static int template_list(void)
{
    char inst[PATH_MAX];
    installed_dir(inst, sizeof inst);
    printf("%-12s %-40s %s\n", "NAME", "LANGUAGE", "FROM");
    int n = list_dir("template", "./template");
    const char *env = getenv("FUNK_TEMPLATES");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
            n += list_dir(d, d);
        free(copy);
    }
    n += list_dir(inst, inst);
    if (!n)
        fprintf(stderr, "funk template list: no templates in ./template or %s\n", inst);
    return n ? 0 : 1;
}

/* Copies the regular files and folders of src into dst (created), no symlinks followed. */
static int copy_tree(const char *src, const char *dst, int depth)
{
    if (depth > 16)
        return -ELOOP;
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        return -errno;
    DIR *d = opendir(src);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char s[PATH_MAX], t[PATH_MAX];
        if (pathf(s, sizeof s, "%s/%s", src, e->d_name) >= (int)sizeof s ||
            pathf(t, sizeof t, "%s/%s", dst, e->d_name) >= (int)sizeof t) {
            rc = -ENAMETOOLONG;
            break;
        }
        struct stat st;
        if (lstat(s, &st) != 0) {
            rc = -errno;
        } else if (S_ISDIR(st.st_mode)) {
            rc = copy_tree(s, t, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            int in = open(s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            int out = in < 0 ? -1
                             : open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                                    st.st_mode & 0755);
            char buf[65536];
            ssize_t r = 0;
            while (out >= 0 && (r = read(in, buf, sizeof buf)) > 0)
                if (write(out, buf, (size_t)r) != r) {
                    r = -1;
                    break;
                }
            if (in < 0 || out < 0 || r < 0)
                rc = errno ? -errno : -EIO;
            if (in >= 0)
                close(in);
            if (out >= 0)
                close(out);
        } /* symlinks and special files are not copied */
    }
    closedir(d);
    return rc;
}

/* funk template pull [DIR]: copies templates (DIR, or DIR/template(s), default the installed
 * ones) into ./template, as faas-cli template pull does from a repository. */
static int template_pull(const char *src_arg, int overwrite)
{
    char src[PATH_MAX];
    if (src_arg) {
        if (strstr(src_arg, "://") || strncmp(src_arg, "git@", 4) == 0) {
            fprintf(stderr, "funk template pull: only local directories, not %s\n", src_arg);
            return CLI_EXIT_USAGE;
        }
        pathf(src, sizeof src, "%s", src_arg);
        char sub[PATH_MAX + 16];
        pathf(sub, sizeof sub, "%s/template", src_arg);
        struct stat st;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            pathf(src, sizeof src, "%s", sub);
        pathf(sub, sizeof sub, "%s/templates", src_arg);
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            pathf(src, sizeof src, "%s", sub);
    } else {
        installed_dir(src, sizeof src);
    }
    DIR *d = opendir(src);
    if (!d) {
        fprintf(stderr, "funk template pull: cannot open %s: %s\n", src, strerror(errno));
        return 1;
    }
    if (mkdir("template", 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "funk template pull: cannot create ./template: %s\n", strerror(errno));
        closedir(d);
        return 1;
    }
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[PATH_MAX + 300], t[PATH_MAX + 300];
        pathf(p, sizeof p, "%s/%s", src, e->d_name);
        if (e->d_name[0] == '.' || !is_template(p))
            continue;
        pathf(t, sizeof t, "template/%s", e->d_name);
        struct stat st;
        if (lstat(t, &st) == 0 && !overwrite) {
            printf("Skipping %s: ./%s exists (--overwrite replaces it)\n", e->d_name, t);
            continue;
        }
        json_t *meta = template_meta(p);
        if (!meta) {
            rc = 1;
            continue;
        }
        json_decref(meta);
        int r = copy_tree(p, t, 0);
        if (r) {
            fprintf(stderr, "funk template pull: %s: %s\n", p, strerror(-r));
            rc = 1;
            continue;
        }
        printf("Fetched template %s from %s\n", e->d_name, src);
        n++;
    }
    closedir(d);
    if (!n && !rc)
        printf("No new templates in %s\n", src);
    return rc;
}

int cmd_template(int argc, char **argv)
{
    static const char prog[] = "funk template";
    static const struct option o[] = {
        {"overwrite", no_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, overwrite = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", o, NULL)) != -1) {
        if (c == 'o') {
            overwrite = 1;
        } else if (c == 'h') {
            printf("usage: funk template list | funk template pull [DIR] [--overwrite]\n"
                   "  list: the installed templates; pull: copy DIR's (default: the installed\n"
                   "  ones) into ./template\n");
            return 0;
        } else {
            return funk_getopt_error(prog, c, argv);
        }
    }
    if (optind == argc)
        return funk_usage_error(prog, "missing command (list or pull)");
    const char *sub = argv[optind];
    int n = argc - optind - 1;
    if (!strcmp(sub, "list") || !strcmp(sub, "ls")) {
        if (overwrite)
            return funk_usage_error(prog, "%s", "--overwrite applies to pull only");
        if (n > 0)
            return funk_usage_error(prog, "unexpected argument '%s'", argv[optind + 1]);
        return template_list();
    }
    if (!strcmp(sub, "pull")) {
        if (n > 1)
            return funk_usage_error(prog, "unexpected argument '%s'", argv[optind + 2]);
        return template_pull(n ? argv[optind + 1] : NULL, overwrite);
    }
    return funk_usage_error(prog, "unknown command '%s' (list or pull)", sub);
}

/* ---- new ---------------------------------------------------------------------------------- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, 4096, f);
        n += r;
        if (r < 4096)
            break;
    }
    fclose(f);
    b[n] = '\0';
    *len = n;
    return b;
}

/* Quotes a YAML scalar when it needs it (labels from templates, prefixes). */
static void yaml_scalar(FILE *f, const char *s)
{
    size_t n = strlen(s);
    if (n &&
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:-") == n &&
        s[0] != '-' && s[0] != ':' && s[n - 1] != ':')
        fputs(s, f);
    else {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"' || *s == '\\')
                fputc('\\', f);
            fputc(*s, f);
        }
        fputc('"', f);
    }
}

/* The stack entry of a new function; from the template: its labels, and its fprocess (the
 * command line of a stdio function) with "{name}" replaced by the function's name. */
static void write_entry(FILE *f, int indent, const char *name, const char *lang, const char *image,
                        json_t *meta)
{
    json_t *labels = json_object_get(meta, "labels");
    const char *fp = fstr(meta, "fprocess");
    fprintf(f, "%*s%s:\n", indent, "", name);
    fprintf(f, "%*slang: ", indent + 2, "");
    yaml_scalar(f, lang);
    fprintf(f, "\n%*shandler: ./%s\n%*simage: ", indent + 2, "", name, indent + 2, "");
    yaml_scalar(f, image);
    fputc('\n', f);
    if (fp && *fp) {
        /* at most a few "{name}" in a short string: build it in a bounded buffer */
        char cmd[1024];
        size_t n = 0;
        for (const char *p = fp; *p && n + 1 < sizeof cmd;) {
            if (strncmp(p, "{name}", 6) == 0) {
                int r = snprintf(cmd + n, sizeof cmd - n, "%s", name);
                if (r < 0)
                    break;
                n += (size_t)r;
                if (n >= sizeof cmd)
                    n = sizeof cmd - 1;
                p += 6;
            } else {
                cmd[n++] = *p++;
            }
        }
        cmd[n] = '\0';
        fprintf(f, "%*sfprocess: ", indent + 2, "");
        yaml_scalar(f, cmd);
        fputc('\n', f);
    }
    if (json_object_size(labels)) {
        fprintf(f, "%*slabels:\n", indent + 2, "");
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v)
        {
            fprintf(f, "%*s", indent + 4, "");
            yaml_scalar(f, k);
            fputs(": ", f);
            yaml_scalar(f, json_string_value(v));
            fputc('\n', f);
        }
    }
}

struct append {
    size_t line;
    int indent, has;
};

/* Checks that path can take function name (valid, no such function, a block mapping). */
static int append_check(const char *path, const char *name, struct append *a)
{
    char err[4096];
    json_t *y = cli_stack_load(path, err, sizeof err);
    if (!y) {
        fprintf(stderr, "funk new: %s\n", err);
        return CLI_EXIT_USAGE;
    }
    int exists = json_object_get(json_object_get(y, "functions"), name) != NULL;
    json_decref(y);
    if (exists) {
        fprintf(stderr, "funk new: %s already has a function %s\n", path, name);
        return CLI_EXIT_USAGE;
    }
    if (cli_stack_append_point(path, &a->line, &a->indent, &a->has, err, sizeof err) != 0) {
        fprintf(stderr, "funk new: %s\n", err);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Adds the entry to an existing stack file, keeping its text (comments too). */
static int append_stack(const char *path, const struct append *a, const char *name,
                        const char *lang, const char *image, json_t *meta)
{
    size_t line = a->line, len;
    int indent = a->indent, has = a->has;
    char *text = read_all(path, &len);
    if (!text) {
        fprintf(stderr, "funk new: cannot read %s\n", path);
        return 1;
    }
    /* byte offsets of the line starts */
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n' && i + 1 < len;
    size_t *start = calloc(nlines + 1, sizeof *start), k = 1;
    if (!start) {
        free(text);
        return 1;
    }
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' && i + 1 < len)
            start[k++] = i + 1;
    start[nlines] = len;
    size_t at = len; /* where the entry goes */
    if (has) {
        if (line > nlines)
            line = nlines;
        /* back over blank and comment lines that precede the next section */
        while (line > 0) {
            const char *l = text + start[line - 1];
            size_t ll = start[line] - start[line - 1];
            size_t sp = 0;
            while (sp < ll && (l[sp] == ' ' || l[sp] == '\t'))
                sp++;
            if (sp < ll && l[sp] != '\n' && l[sp] != '#')
                break;
            line--;
        }
        at = start[line];
    }
    char tmp[PATH_MAX + 32];
    pathf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "wx");
    int rc = 1;
    if (f) {
        fwrite(text, 1, at, f);
        if (at > 0 && text[at - 1] != '\n')
            fputc('\n', f);
        if (!has)
            fputs("functions:\n", f);
        write_entry(f, has ? indent : 2, name, lang, image, meta);
        fwrite(text + at, 1, len - at, f);
        struct stat st;
        if (stat(path, &st) == 0)
            fchmod(fileno(f), st.st_mode & 07777);
        rc = fclose(f) == 0 && rename(tmp, path) == 0 ? 0 : 1;
        if (rc)
            unlink(tmp);
    }
    if (rc)
        fprintf(stderr, "funk new: cannot write %s: %s\n", path, strerror(errno));
    free(start);
    free(text);
    return rc;
}

int cmd_new(int argc, char **argv)
{
    static const struct option o[] = {{"lang", required_argument, 0, 'l'},
                                      {"prefix", required_argument, 0, 'p'},
                                      {"yaml", required_argument, 0, 'f'},
                                      {"append", required_argument, 0, 'a'},
                                      {"list", no_argument, 0, 'L'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *lang = NULL, *prefix = NULL, *file = NULL;
    int c, list = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:a:l:p:h", o, NULL)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: funk new NAME --lang LANG [--prefix REGISTRY/OWNER] [-f|--yaml|--append "
                   "stack.yml]\n"
                   "       funk new --list\n"
                   "  a function folder NAME from template LANG, added to the stack file\n");
            return 0;
        case 'l':
            lang = optarg;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'f':
        case 'a':
            file = optarg;
            break;
        case 'L':
            list = 1;
            break;
        default:
            return funk_getopt_error("funk new", c, argv);
        }
    }
    if (list) {
        if (optind < argc)
            return funk_usage_error("funk new", "--list takes no NAME (got '%s')", argv[optind]);
        return template_list();
    }
    if (optind < argc - 1)
        return funk_usage_error("funk new", "unexpected argument '%s'", argv[optind + 1]);
    if (optind == argc)
        return funk_usage_error("funk new", "needs a function NAME");
    if (!lang)
        return funk_usage_error("funk new", "needs --lang LANG (see funk new --list)");
    const char *name = argv[optind];
    if (!cli_dns_label(name)) {
        fprintf(stderr,
                "funk new: '%s' is not a valid function name (DNS-1123: a-z, 0-9 and '-', at most "
                "63, starting and ending with a letter or digit)\n",
                name);
        return CLI_EXIT_USAGE;
    }
    const char *stack = file ? file : cli_stack_default();
    int exists = stack && access(stack, F_OK) == 0;
    if (!stack)
        stack = "stack.yml";
    char tdir[PATH_MAX * 2];
    json_t *sy = NULL;
    if (exists) {
        char err[4096];
        sy = cli_stack_load(stack, err, sizeof err);
        if (!sy) {
            fprintf(stderr, "funk new: %s\n", err);
            return CLI_EXIT_USAGE;
        }
    }
    int fr = find_template(lang, ".", sy, tdir, sizeof tdir);
    json_decref(sy);
    if (fr)
        return 1;
    struct append ap = {0};
    if (exists && (fr = append_check(stack, name, &ap)))
        return fr;
    json_t *meta = template_meta(tdir);
    if (!meta)
        return 1;
    struct stat st;
    if (lstat(name, &st) == 0) {
        fprintf(stderr, "funk new: ./%s already exists\n", name);
        json_decref(meta);
        return CLI_EXIT_USAGE;
    }
    char fdir[PATH_MAX * 2 + 16];
    pathf(fdir, sizeof fdir, "%s/function", tdir);
    int r = copy_tree(fdir, name, 0);
    if (r) {
        fprintf(stderr, "funk new: cannot copy %s to ./%s: %s\n", fdir, name, strerror(-r));
        json_decref(meta);
        return 1;
    }
    char image[512];
    pathf(image, sizeof image, "%s%s%s:latest", prefix ? prefix : "", prefix && *prefix ? "/" : "",
          name);
    int rc;
    if (exists) {
        rc = append_stack(stack, &ap, name, lang, image, meta);
    } else {
        FILE *f = fopen(stack, "wx");
        if (!f) {
            fprintf(stderr, "funk new: cannot create %s: %s\n", stack, strerror(errno));
            json_decref(meta);
            return 1;
        }
        fprintf(f, "version: 1.0\nprovider:\n  name: openfaas\n  gateway: ");
        yaml_scalar(f, cli_gateway_resolve(NULL));
        fputs("\nfunctions:\n", f);
        write_entry(f, 2, name, lang, image, meta);
        rc = fclose(f) == 0 ? 0 : 1;
    }
    if (rc == 0) {
        printf("Function created in folder: %s\nStack file %s: %s\n", name,
               exists ? "updated" : "written", stack);
        const char *w = fstr(meta, "welcome_message");
        if (w)
            printf("%s\n", w);
    }
    json_decref(meta);
    return rc;
}

/* ---- build, push, up ---------------------------------------------------------------------- */

/* Runs argv (argv[0]: a path), waits; its exit status, or -1. With out: stdout collected. */
static int run(char *const argv[], char *const envp[], const char *cwd, char *out, size_t outlen)
{
    int pfd[2] = {-1, -1};
    if (out && pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (out)
            dup2(pfd[1], 1);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        if (envp)
            execve(argv[0], argv, envp);
        else
            execv(argv[0], argv);
        fprintf(stderr, "funk: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    size_t n = 0;
    if (out) {
        close(pfd[1]);
        ssize_t r;
        char sink[4096];
        while ((r = read(pfd[0], n + 1 < outlen ? out + n : sink,
                         n + 1 < outlen ? outlen - n - 1 : sizeof sink)) > 0)
            if (n + 1 < outlen)
                n += (size_t)r;
        close(pfd[0]);
        out[n] = '\0';
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *self_exe(void)
{
    static char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return "funk";
    exe[n] = '\0';
    return exe;
}

/* The funk-cc of this funk: beside this binary (PREFIX/bin), else the prefix funk was built for. */
static void funk_cc_path(char *out, size_t len)
{
    const char *exe = self_exe();
    const char *sl = strrchr(exe, '/');
    if (sl) {
        pathf(out, len, "%.*s/funk-cc", (int)(sl - exe), exe);
        if (access(out, X_OK) == 0)
            return;
    }
    pathf(out, len, "%s/funk-cc", FUNK_BINDIR);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Removes an old build/NAME, only when it is an image layout we wrote (or empty). */
static int clear_layout(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    char p[PATH_MAX + 32];
    pathf(p, sizeof p, "%s/oci-layout", dir);
    if (!S_ISDIR(st.st_mode) || (access(p, F_OK) != 0 && rmdir(dir) != 0))
        return -EEXIST;
    if (access(dir, F_OK) != 0)
        return 0;
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -errno;
}

extern char **environ;

static int build_one(struct stack *s, const char *name, json_t *f)
{
    const char *lang = fstr(f, "lang"), *handler = fstr(f, "handler"), *image = fstr(f, "image");
    if (!handler || !image) {
        fprintf(stderr, "funk build: %s: function %s has lang but no %s\n", s->path, name,
                !handler ? "handler" : "image");
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(lang, "dockerfile")) {
        fprintf(stderr,
                "funk build: %s: lang dockerfile is not supported (funk builds "
                "unikernels from templates; see funk template list)\n",
                name);
        return CLI_EXIT_USAGE;
    }
    char tdir[PATH_MAX * 2];
    if (find_template(lang, s->dir, s->y, tdir, sizeof tdir))
        return 1;
    json_t *meta = template_meta(tdir);
    if (!meta)
        return 1;
    char hdir[PATH_MAX * 2], bdir[PATH_MAX * 2], layout[PATH_MAX * 3], elf[PATH_MAX * 3],
        script[PATH_MAX * 3];
    join(hdir, sizeof hdir, s->dir, handler);
    struct stat st;
    int rc = 1;
    char *ahandler = NULL, *abuild = NULL;
    if (stat(hdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "funk build: %s: handler %s is not a folder\n", name, hdir);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    pathf(bdir, sizeof bdir, "%s/build", s->dir);
    if (mkdir(bdir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "funk build: cannot create %s: %s\n", bdir, strerror(errno));
        goto out;
    }
    ahandler = realpath(hdir, NULL);
    abuild = realpath(bdir, NULL);
    if (!ahandler || !abuild)
        goto out;
    pathf(layout, sizeof layout, "%s/%s", abuild, name);
    pathf(elf, sizeof elf, "%s/%s.elf", abuild, name);
    pathf(script, sizeof script, "%s/build.sh", tdir);
    int r = clear_layout(layout);
    if (r) {
        fprintf(stderr, "funk build: %s exists and is not an image layout funk wrote: %s\n", layout,
                strerror(-r));
        goto out;
    }
    unlink(elf);
    printf("Building %s (template %s from %s) ...\n", name, lang, tdir);

    /* The template's build.sh: FUNK_HANDLER (source folder), FUNK_OUT (the ELF to write),
     * FUNK_FUNCTION, FUNK_TEMPLATE, build_args as variables, FUNK_CC (this funk's funk-cc, the
     * compiler driver of its guest SDK) and PKG_CONFIG_PATH finding that SDK. */
    char **env = NULL;
    size_t ne = 0, cap = 16;
    for (char **e = environ; *e; e++)
        cap++;
    cap += json_object_size(json_object_get(f, "build_args")) + 8;
    env = calloc(cap, sizeof *env);
    if (!env)
        goto out;
    const char *pcp = getenv("PKG_CONFIG_PATH");
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "PKG_CONFIG_PATH=", 16) && strncmp(*e, "FUNK_HANDLER=", 13) &&
            strncmp(*e, "FUNK_OUT=", 9) && strncmp(*e, "FUNK_FUNCTION=", 14) &&
            strncmp(*e, "FUNK_TEMPLATE=", 14) && strncmp(*e, "FUNK_CC=", 8))
            env[ne++] = *e;
    char *own[8] = {0};
    char fcc[PATH_MAX];
    funk_cc_path(fcc, sizeof fcc);
    int no = 0;
    if (asprintf(&own[no++], "PKG_CONFIG_PATH=%s%s%s", FUNK_PKGCONFIG_DIR, pcp && *pcp ? ":" : "",
                 pcp ? pcp : "") < 0 ||
        asprintf(&own[no++], "FUNK_HANDLER=%s", ahandler) < 0 ||
        asprintf(&own[no++], "FUNK_OUT=%s", elf) < 0 ||
        asprintf(&own[no++], "FUNK_FUNCTION=%s", name) < 0 ||
        asprintf(&own[no++], "FUNK_TEMPLATE=%s", tdir) < 0 ||
        asprintf(&own[no++], "FUNK_CC=%s", fcc) < 0) {
        free(env);
        goto out;
    }
    /* build_args (env names only, and not overriding the FUNK_ ones) come first: ours win */
    const char *k;
    json_t *v;
    char **args_env =
        calloc(json_object_size(json_object_get(f, "build_args")) + 1, sizeof *args_env);
    size_t na = 0;
    json_object_foreach(json_object_get(f, "build_args"), k, v)
    {
        if (!*k ||
            strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
                strlen(k) ||
            (k[0] >= '0' && k[0] <= '9')) {
            fprintf(stderr, "funk build: %s: build_args key '%s' is not a variable name\n", name,
                    k);
            continue;
        }
        if (args_env && asprintf(&args_env[na], "%s=%s", k, json_string_value(v)) >= 0)
            env[ne++] = args_env[na++];
    }
    for (int i = 0; i < no; i++)
        env[ne++] = own[i];
    env[ne] = NULL;
    char *sh[] = {"/bin/sh", script, NULL};
    r = run(sh, env, ahandler, NULL, 0);
    for (int i = 0; i < no; i++)
        free(own[i]);
    for (size_t i = 0; i < na; i++)
        free(args_env[i]);
    free(args_env);
    free(env);
    if (r != 0 || access(elf, R_OK) != 0) {
        fprintf(stderr, "funk build: %s: the %s template's build.sh %s (exit %d)\n", name, lang,
                r == 0 ? "wrote no ELF" : "failed", r);
        goto out;
    }
    /* the unikernel -> an OCI image layout at build/NAME */
    const char *mode = fstr(meta, "image_mode");
    /* "--": the ELF path is never taken as an option */
    char *ib[12];
    int nib = 0;
    ib[nib++] = (char *)self_exe();
    ib[nib++] = "image";
    ib[nib++] = "build";
    ib[nib++] = "-t";
    ib[nib++] = (char *)image;
    ib[nib++] = "-o";
    ib[nib++] = layout;
    if (mode) {
        ib[nib++] = "--mode";
        ib[nib++] = (char *)mode;
    }
    ib[nib++] = "--";
    ib[nib++] = elf;
    ib[nib] = NULL;
    char outbuf[1024];
    r = run(ib, NULL, NULL, outbuf, sizeof outbuf);
    if (r != 0) {
        fprintf(stderr, "funk build: %s: funk image build failed (exit %d)\n", name, r);
        goto out;
    }
    outbuf[strcspn(outbuf, "\n")] = '\0';
    printf("Image: %s built in %s (%s)\n", image, layout, outbuf);
    rc = 0;
out:
    free(ahandler);
    free(abuild);
    json_decref(meta);
    return rc;
}

struct wopts {
    const char *file, *filter, *regex;
    int skip_push, skip_deploy;
};

static int parse_wopts(int argc, char **argv, struct wopts *w, int up, const char *cmd)
{
    static const struct option o[] = {{"yaml", required_argument, 0, 'f'},
                                      {"filter", required_argument, 0, 'F'},
                                      {"regex", required_argument, 0, 'R'},
                                      {"skip-push", no_argument, 0, 'P'},
                                      {"skip-deploy", no_argument, 0, 'D'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    memset(w, 0, sizeof *w);
    char prog[32];
    snprintf(prog, sizeof prog, "funk %s", cmd);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:h", o, NULL)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: funk %s [-f|--yaml stack.yml] [--filter GLOB | --regex RE]%s\n", cmd,
                   up ? " [--skip-push] [--skip-deploy]" : "");
            return -1; /* done: exit 0 */
        case 'f':
            w->file = optarg;
            break;
        case 'F':
            w->filter = optarg;
            break;
        case 'R':
            w->regex = optarg;
            break;
        case 'P':
        case 'D':
            if (!up)
                return funk_usage_error(prog, "%s applies to funk up only", argv[optind - 1]);
            *(c == 'P' ? &w->skip_push : &w->skip_deploy) = 1;
            break;
        default:
            return funk_getopt_error(prog, c, argv);
        }
    }
    if (optind < argc)
        return funk_usage_error(prog, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static int build_all(struct stack *s)
{
    int rc = 0, n = 0;
    const char *name;
    json_t *f;
    json_object_foreach(json_object_get(s->y, "functions"), name, f)
    {
        if (!selected(s, name))
            continue;
        n++;
        if (json_is_true(json_object_get(f, "skip_build"))) {
            printf("Skipping build of: %s (skip_build)\n", name);
            continue;
        }
        if (!fstr(f, "lang")) {
            printf("Skipping build of: %s (no lang: image %s is used as it is)\n", name,
                   fstr(f, "image") ? fstr(f, "image") : "(none)");
            continue;
        }
        int r = build_one(s, name, f);
        if (r)
            rc = rc ? rc : r;
    }
    if (!n) {
        fprintf(stderr, "funk build: %s: no function matches\n", s->path);
        return CLI_EXIT_USAGE;
    }
    return rc;
}

static int push_all(struct stack *s)
{
    int rc = 0;
    const char *name;
    json_t *f;
    json_object_foreach(json_object_get(s->y, "functions"), name, f)
    {
        if (!selected(s, name))
            continue;
        if (!fstr(f, "lang") || json_is_true(json_object_get(f, "skip_build"))) {
            printf("Skipping push of: %s (not built by funk)\n", name);
            continue;
        }
        char layout[PATH_MAX * 2], idx[PATH_MAX * 2 + 16], out[1024];
        pathf(layout, sizeof layout, "%s/build/%s", s->dir, name);
        pathf(idx, sizeof idx, "%s/index.json", layout);
        if (access(idx, R_OK) != 0) {
            fprintf(stderr, "funk push: %s: no image at %s (run funk build first)\n", name, layout);
            rc = 1;
            continue;
        }
        char *a[] = {(char *)self_exe(),       "image", "push", "--", layout,
                     (char *)fstr(f, "image"), NULL};
        int r = run(a, NULL, NULL, out, sizeof out);
        out[strcspn(out, "\n")] = '\0';
        if (r == 0) {
            printf("Pushed %s: %s\n", fstr(f, "image"), out);
        } else if (r == CLI_EXIT_USAGE) {
            fprintf(stderr,
                    "funk push: %s: `funk image push %s %s` refused its arguments (said why "
                    "above; e.g. the stack's image is not a registry reference)\n",
                    name, layout, fstr(f, "image"));
            rc = 1;
        } else {
            fprintf(stderr, "funk push: %s: funk image push failed (exit %d)\n", name, r);
            rc = 1;
        }
    }
    return rc;
}

/* The steps of build, push and up over the functions of a stack file. */
enum { STEP_BUILD = 1, STEP_PUSH = 2, STEP_DEPLOY = 4 };

static int run_steps(int argc, char **argv, const char *cmd, unsigned steps)
{
    struct wopts w;
    struct stack s;
    int rc = parse_wopts(argc, argv, &w, steps == (STEP_BUILD | STEP_PUSH | STEP_DEPLOY), cmd);
    if (rc < 0)
        return 0; /* --help */
    if (rc || (rc = stack_open(&s, w.file, w.filter, w.regex, cmd)))
        return rc;
    if (steps & STEP_BUILD)
        rc = build_all(&s);
    if (!rc && (steps & STEP_PUSH) && !w.skip_push)
        rc = push_all(&s);
    if (!rc && (steps & STEP_DEPLOY) && !w.skip_deploy)
        rc = deploy_stack(&s, w.skip_push);
    stack_close(&s);
    return rc;
}

int cmd_build(int argc, char **argv)
{
    return run_steps(argc, argv, "build", STEP_BUILD);
}

int cmd_push(int argc, char **argv)
{
    return run_steps(argc, argv, "push", STEP_PUSH);
}

/* funk up: build, push, deploy as faas-cli up. With --skip-push funkd deploys the local build
 * (build/NAME, by absolute path: funkd must run on this machine). */
int cmd_up(int argc, char **argv)
{
    return run_steps(argc, argv, "up", STEP_BUILD | STEP_PUSH | STEP_DEPLOY);
}
