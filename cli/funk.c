/* SPDX-License-Identifier: Apache-2.0 */
/* funk: the user's command line for funkd (deploy, invoke, list, logs, scale, secrets) and the
 * faas-cli workflow (new, build, push, up: workflow.c; login: login.c; daemon: daemon.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli.h"

#ifdef FUNK_HAVE_IMAGE
int funk_image_main(int argc, char **argv);
int funk_registry_login_main(int argc, char **argv);
int funk_ref_is_remote(const char *s);
#endif

static const char *gateway = "http://127.0.0.1:8080";
static const char *user, *pass;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: funk [--gateway URL] [-u USER -p PASSWORD] COMMAND [ARGS]\n"
            "       funk -h|--help | --version | COMMAND --help\n"
            "commands:\n"
            "  new NAME --lang LANG [--prefix P] [-f F]  a function folder from a template\n"
            "  new --list | template list | template pull [DIR]\n"
            "  build [-f F] [--filter GLOB | --regex RE]  handler -> unikernel -> build/NAME\n"
            "  push [-f F] [...]             funk image push build/NAME IMAGE, each function\n"
            "  up [-f F] [--skip-push] [--skip-deploy] [...]   build + push + deploy\n"
            "  deploy [-f F] [--filter GLOB | --regex RE] | deploy --name N --image IMG\n"
            "         [--env K=V] [--label K=V] [--annotation K=V] [--secret S]\n"
            "         [--memory 64M] [--mode per-request|warm] [--namespace NS]\n"
            "  ls [--namespace NS]           list functions\n"
            "  describe NAME [--json]        a function's status, URLs (--json: raw)\n"
            "  ready [NAME] [--timeout SEC]  wait until funkd (and the function) is ready\n"
            "  invoke NAME [--async] [--callback-url URL] [-H 'K: V'] [--method M]\n"
            "         [--path /P] [--query Q]   stdin is the body, the answer goes to stdout\n"
            "  rm NAME                       delete a function\n"
            "  logs NAME [--tail N] [--follow] [--since RFC3339]\n"
            "  scale NAME --replicas N\n"
            "  secret create NAME [--from-literal V | --from-file F]  (else stdin)\n"
            "  secret update NAME [...] | secret ls | secret rm NAME\n"
            "  image ...                     OCI images (when built with the oci part)\n"
            "  registry-login --server H -u U --password-stdin   credentials for image push/pull\n"
            "  login [-u USER] [-p PASSWORD | --password-stdin] | logout   (per gateway)\n"
            "  daemon [-d] [FUNKD OPTIONS]   start funkd (-d: in the background, until ready)\n"
            "  version\n"
            "F: a stack file (default ./stack.yml, else ./stack.yaml).\n"
            "The gateway comes from --gateway, FUNK_GATEWAY, OPENFAAS_URL or provider.gateway in\n"
            "a stack file (default http://127.0.0.1:8080); basic auth from -u/-p,\n"
            "FUNK_USER/FUNK_PASSWORD or what `funk login` stored for that gateway.\n"
            "Options take their value as --OPTION VALUE or --OPTION=VALUE; -g is --gateway.\n"
            "Exit status: 0 ok, 1 the operation failed (funkd unreachable or refused, a build\n"
            "failed), 64 usage error (bad option, argument or stack file).\n");
}

/* ---- HTTP --------------------------------------------------------------------------------- */
struct buf {
    char *p;
    size_t len;
};

static size_t collect(char *p, size_t s, size_t n, void *u)
{
    struct buf *b = u;
    char *np = realloc(b->p, b->len + s * n + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->len, p, s * n);
    b->len += s * n;
    b->p[b->len] = '\0';
    return s * n;
}

static size_t to_stdout(char *p, size_t s, size_t n, void *u)
{
    (void)u;
    size_t w = fwrite(p, s, n, stdout);
    fflush(stdout);
    return w * s;
}

struct resp {
    long code;
    struct buf body;
    struct buf headers;
};

/* Performs a request; returns 0 or -1 after printing why it could not reach funkd. */
static int http(const char *method, const char *path, const char *ctype, const void *body,
                size_t body_len, struct curl_slist *extra, struct resp *r, int stream)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", gateway, path);
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    struct curl_slist *hl = NULL;
    for (struct curl_slist *e = extra; e; e = e->next)
        hl = curl_slist_append(hl, e->data);
    if (ctype) {
        char ct[256];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        hl = curl_slist_append(hl, ct);
    }
    hl = curl_slist_append(hl, "Expect:");
    memset(r, 0, sizeof *r);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->headers);
    if (stream) {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_stdout);
    } else {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
    }
    cli_auth_apply(h, gateway, user, pass);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "funk: cannot reach funkd at %s: %s%s\n", gateway, curl_easy_strerror(rc),
                rc == CURLE_COULDNT_CONNECT ? " (is it running? start it with 'funk daemon -d')"
                                            : "");
        return -1;
    }
    if (!r->body.p)
        r->body.p = calloc(1, 1);
    return 0;
}

static void resp_free(struct resp *r)
{
    free(r->body.p);
    free(r->headers.p);
}

/* Prints funkd's error for an unexpected status; returns 1. */
static int fail(const char *what, struct resp *r)
{
    const char *b = r->body.p ? r->body.p : "";
    size_t l = strlen(b);
    while (l && (b[l - 1] == '\n' || b[l - 1] == '\r'))
        l--;
    if (r->code == 401)
        fprintf(stderr, "funk: %s: unauthorized (funk login, -u/-p or FUNK_USER/FUNK_PASSWORD)\n",
                what);
    else
        fprintf(stderr, "funk: %s: funkd answered %ld%s%.*s\n", what, r->code, l ? ": " : "",
                (int)l, b);
    resp_free(r);
    return 1;
}

static char *json_to_str(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void urlenc(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < outlen; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-_.~", c)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* ---- deploy ------------------------------------------------------------------------------- */

/* PUT first, POST when the function is new (as faas-cli does). */
static int deploy_one(json_t *spec)
{
    const char *name = json_string_value(json_object_get(spec, "service"));
    char *s = json_dumps(spec, JSON_COMPACT);
    struct resp r;
    if (http("PUT", "/system/functions", "application/json", s, strlen(s), NULL, &r, 0) != 0) {
        free(s);
        return 1;
    }
    if (r.code == 404) {
        resp_free(&r);
        if (http("POST", "/system/functions", "application/json", s, strlen(s), NULL, &r, 0) != 0) {
            free(s);
            return 1;
        }
    }
    free(s);
    if (r.code != 200 && r.code != 201 && r.code != 202) {
        char what[300];
        snprintf(what, sizeof what, "deploy %s", name);
        return fail(what, &r);
    }
    resp_free(&r);
    printf("Deployed %s (%s/function/%s)\n", name, gateway, name);
    return 0;
}

static int kv_set(json_t *obj, const char *kv, const char *opt)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        funk_usage_error("funk deploy", "%s: '%s' is not KEY=VALUE", opt, kv);
        return -1;
    }
    char *k = strndup(kv, (size_t)(eq - kv));
    json_object_set_new(obj, k, json_string(eq + 1));
    free(k);
    return 0;
}

/* Makes a relative image path absolute: funkd resolves paths from its own directory. A
 * registry reference (host[:port]/repo[:tag]) that names no local file goes as it is. */
static json_t *image_value(const char *img, const char *base_dir)
{
#ifdef FUNK_HAVE_IMAGE
    if (funk_ref_is_remote(img)) {
        char p[PATH_MAX * 2];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", base_dir, img);
        if (stat(p, &st) != 0)
            return json_string(img);
    }
#endif
    if (strchr(img, '/') && img[0] != '/') {
        char p[PATH_MAX * 2];
        snprintf(p, sizeof p, "%s/%s", base_dir, img);
        char *r = realpath(p, NULL);
        json_t *j = json_string(r ? r : p);
        free(r);
        return j;
    }
    return json_string(img);
}

static const char deploy_usage[] =
    "usage: funk deploy [-f F] [--filter GLOB | --regex RE]\n"
    "       funk deploy --name N --image IMG [--env K=V] [--label K=V] [--annotation K=V]\n"
    "                   [--secret S] [--memory 64M] [--mode per-request|warm] [--namespace NS]\n"
    "                   [--fprocess CMD]\n"
    "  the functions of a stack file F (default ./stack.yml, else ./stack.yaml), or one function;\n"
    "  --env, --label, --annotation and --secret repeat. --fprocess: the command line of a\n"
    "  static Linux program run as a stdio function (e.g. --image /bin/busybox --fprocess 'wc -w')\n";

static int cmd_deploy(int argc, char **argv)
{
    static const struct option o[] = {{"yaml", required_argument, 0, 'f'},
                                      {"filter", required_argument, 0, 'F'},
                                      {"name", required_argument, 0, 'n'},
                                      {"image", required_argument, 0, 'i'},
                                      {"env", required_argument, 0, 'e'},
                                      {"label", required_argument, 0, 'l'},
                                      {"annotation", required_argument, 0, 'a'},
                                      {"secret", required_argument, 0, 's'},
                                      {"memory", required_argument, 0, 'm'},
                                      {"mode", required_argument, 0, 'M'},
                                      {"namespace", required_argument, 0, 'N'},
                                      {"regex", required_argument, 0, 'R'},
                                      {"fprocess", required_argument, 0, 'P'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *file = NULL, *filter = NULL, *regex = NULL, *name = NULL, *image = NULL;
    json_t *spec = json_object(), *env = json_object(), *labels = json_object(),
           *ann = json_object(), *secrets = json_array();
    int c, rc = CLI_EXIT_USAGE;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:h", o, NULL)) != -1) {
        switch (c) {
        case 'f':
            file = optarg;
            break;
        case 'F':
            filter = optarg;
            break;
        case 'R':
            regex = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'i':
            image = optarg;
            break;
        case 'e':
            if (kv_set(env, optarg, "--env"))
                goto out;
            break;
        case 'l':
            if (kv_set(labels, optarg, "--label"))
                goto out;
            break;
        case 'a':
            if (kv_set(ann, optarg, "--annotation"))
                goto out;
            break;
        case 's':
            json_array_append_new(secrets, json_string(optarg));
            break;
        case 'm':
            json_object_set_new(spec, "limits", json_pack("{s:s}", "memory", optarg));
            break;
        case 'M':
            json_object_set_new(labels, "com.funk.mode", json_string(optarg));
            break;
        case 'N':
            json_object_set_new(spec, "namespace", json_string(optarg));
            break;
        case 'P':
            json_object_set_new(spec, "envProcess", json_string(optarg));
            break;
        case 'h':
            fputs(deploy_usage, stdout);
            rc = 0;
            goto out;
        default:
            rc = funk_getopt_error("funk deploy", c, argv);
            goto out;
        }
    }
    if (optind < argc) {
        rc = funk_usage_error("funk deploy", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (file || (!name && !image)) { /* a stack file: -f, else ./stack.yml (workflow.c) */
        rc = cli_deploy_stack(file, filter, regex);
        goto out;
    }
    if (!name || !image) {
        rc = funk_usage_error("funk deploy", "give -f stack.yml, or --name and --image");
        goto out;
    }
    json_object_set_new(spec, "service", json_string(name));
    json_object_set_new(spec, "image", image_value(image, "."));
    json_object_set(spec, "envVars", env);
    json_object_set(spec, "labels", labels);
    json_object_set(spec, "annotations", ann);
    json_object_set(spec, "secrets", secrets);
    rc = deploy_one(spec);
out:
    json_decref(spec);
    json_decref(env);
    json_decref(labels);
    json_decref(ann);
    json_decref(secrets);
    return rc;
}

/* ---- ls, describe, rm, scale -------------------------------------------------------------- */

static int cmd_ls(int argc, char **argv)
{
    static const struct option o[] = {
        {"namespace", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *ns = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:h", o, NULL)) != -1) {
        if (c == 'n')
            ns = optarg;
        else if (c == 'h')
            return funk_help("usage: funk ls [--namespace NS]\n  the deployed functions\n");
        else
            return funk_getopt_error("funk ls", c, argv);
    }
    if (optind < argc)
        return funk_usage_error("funk ls", "unexpected argument '%s'", argv[optind]);
    char path[512], enc[256];
    urlenc(ns ? ns : "", enc, sizeof enc);
    snprintf(path, sizeof path, "/system/functions%s%s", ns ? "?namespace=" : "", ns ? enc : "");
    struct resp r;
    if (http("GET", path, NULL, NULL, 0, NULL, &r, 0) != 0)
        return 1;
    if (r.code != 200)
        return fail("ls", &r);
    json_t *a = json_loads(r.body.p, 0, NULL);
    resp_free(&r);
    if (!json_is_array(a)) {
        fprintf(stderr, "funk: ls: funkd sent no JSON array\n");
        json_decref(a);
        return 1;
    }
    printf("%-24s %-12s %-9s %-12s %s\n", "Function", "Invocations", "Replicas", "Mode", "Image");
    size_t i;
    json_t *f;
    json_array_foreach(a, i, f)
    {
        const char *m = json_string_value(json_object_get(f, "mode"));
        printf("%-24s %-12lld %-9lld %-12s %s\n", json_string_value(json_object_get(f, "name")),
               (long long)json_integer_value(json_object_get(f, "invocationCount")),
               (long long)json_integer_value(json_object_get(f, "replicas")), m ? m : "-",
               json_string_value(json_object_get(f, "image")));
    }
    json_decref(a);
    return 0;
}

/* Prints s with control bytes replaced: what funkd sends is shown on a terminal. */
static void put_clean(const char *s)
{
    for (; s && *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void describe_field(const char *k, const char *v)
{
    printf("%-20s", k);
    put_clean(v);
    putchar('\n');
}

/* "Labels:" and "  key: value" lines for an object of strings (or names of an array). */
static void describe_map(const char *k, json_t *o)
{
    if (!json_object_size(o) && !json_array_size(o))
        return;
    printf("%s\n", k);
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        printf("  ");
        put_clean(key);
        printf(": ");
        put_clean(json_string_value(v));
        putchar('\n');
    }
    size_t i;
    json_array_foreach(o, i, v)
    {
        printf("  - ");
        put_clean(json_string_value(v));
        putchar('\n');
    }
}

/* faas-cli describe's table (or the raw FunctionStatus with --json). */
static int cmd_describe(int argc, char **argv)
{
    static const struct option o[] = {{"json", no_argument, 0, 'j'},
                                      {"namespace", required_argument, 0, 'n'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int raw = 0, c;
    const char *ns = NULL;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:h", o, NULL)) != -1) {
        if (c == 'j')
            raw = 1;
        else if (c == 'n')
            ns = optarg;
        else if (c == 'h')
            return funk_help("usage: funk describe NAME [--namespace NS] [--json]\n"
                             "  a function's status and URLs (--json: funkd's FunctionStatus)\n");
        else
            return funk_getopt_error("funk describe", c, argv);
    }
    if (optind < argc - 1)
        return funk_usage_error("funk describe", "unexpected argument '%s'", argv[optind + 1]);
    if (optind == argc)
        return funk_usage_error("funk describe", "needs a function NAME");
    const char *name = argv[optind];
    char path[1024], enc[256], nsenc[256] = "";
    urlenc(name, enc, sizeof enc);
    if (ns)
        urlenc(ns, nsenc, sizeof nsenc);
    snprintf(path, sizeof path, "/system/function/%s%s%s", enc, ns ? "?namespace=" : "", nsenc);
    struct resp r;
    if (http("GET", path, NULL, NULL, 0, NULL, &r, 0) != 0)
        return 1;
    if (r.code != 200)
        return fail("describe", &r);
    json_t *j = json_loads(r.body.p, 0, NULL);
    if (!json_is_object(j)) {
        fprintf(stderr, "funk: describe: funkd sent no JSON object\n");
        json_decref(j);
        resp_free(&r);
        return 1;
    }
    if (raw) {
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s ? s : r.body.p);
        free(s);
    } else {
        char num[32], url[4096 + 512];
        json_int_t avail = json_integer_value(json_object_get(j, "availableReplicas"));
        const char *proc = json_string_value(json_object_get(j, "envProcess"));
        const char *fname = json_string_value(json_object_get(j, "name"));
        describe_field("Name:", fname ? fname : name);
        describe_field("Status:", avail > 0 ? "Ready" : "Not Ready");
        snprintf(num, sizeof num, "%lld",
                 (long long)json_integer_value(json_object_get(j, "replicas")));
        describe_field("Replicas:", num);
        snprintf(num, sizeof num, "%lld", (long long)avail);
        describe_field("Available Replicas:", num);
        snprintf(num, sizeof num, "%.0f", json_number_value(json_object_get(j, "invocationCount")));
        describe_field("Invocations:", num);
        describe_field("Image:", json_string_value(json_object_get(j, "image")));
        describe_field("Function Process:", proc && *proc ? proc : "<default>");
        snprintf(url, sizeof url, "%s/function/%s%s%s", gateway, name, ns ? "." : "", ns ? ns : "");
        describe_field("URL:", url);
        snprintf(url, sizeof url, "%s/async-function/%s%s%s", gateway, name, ns ? "." : "",
                 ns ? ns : "");
        describe_field("Async URL:", url);
        const char *mode = json_string_value(json_object_get(j, "mode"));
        if (mode)
            describe_field("Mode:", mode);
        const char *iso = json_string_value(json_object_get(j, "isolation"));
        if (iso)
            describe_field("Isolation:", iso);
        json_t *mem = json_object_get(j, "memoryBytes");
        if (json_is_integer(mem)) {
            snprintf(num, sizeof num, "%lld MiB", (long long)(json_integer_value(mem) >> 20));
            describe_field("Memory:", num);
        }
        describe_map("Labels:", json_object_get(j, "labels"));
        describe_map("Annotations:", json_object_get(j, "annotations"));
        describe_map("Environment:", json_object_get(j, "envVars"));
        describe_map("Secrets:", json_object_get(j, "secrets"));
    }
    json_decref(j);
    resp_free(&r);
    return 0;
}

/* Parses a command that takes only -h/--help and from min to max positional arguments (what
 * names the missing one); 1 to go on (argv[optind]... are the arguments), else the exit status. */
static int plain_args(int argc, char **argv, const char *prog, const char *usage_text, int min,
                      int max, const char *what)
{
    static const struct option o[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", o, NULL)) != -1) {
        if (c != 'h')
            return funk_getopt_error(prog, c, argv);
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc - optind > max)
        return funk_usage_error(prog, "unexpected argument '%s'", argv[optind + max]);
    if (argc - optind < min)
        return funk_usage_error(prog, "needs %s", what);
    return 1;
}

static int cmd_rm(int argc, char **argv)
{
    int pr = plain_args(argc, argv, "funk rm", "usage: funk rm NAME\n  deletes a function\n", 1, 1,
                        "a function NAME");
    if (pr != 1)
        return pr;
    const char *name = argv[optind];
    char *b = json_to_str(json_pack("{s:s}", "functionName", name));
    struct resp r;
    int rc = http("DELETE", "/system/functions", "application/json", b, strlen(b), NULL, &r, 0);
    free(b);
    if (rc)
        return 1;
    if (r.code != 200 && r.code != 202)
        return fail("rm", &r);
    resp_free(&r);
    printf("Removed %s\n", name);
    return 0;
}

static int cmd_scale(int argc, char **argv)
{
    static const struct option o[] = {
        {"replicas", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long n = -1;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:h", o, NULL)) != -1) {
        if (c == 'h')
            return funk_help("usage: funk scale NAME --replicas N\n");
        if (c != 'r')
            return funk_getopt_error("funk scale", c, argv);
        char *e;
        errno = 0;
        n = strtol(optarg, &e, 10);
        if (e == optarg || *e || n < 0 || errno)
            return funk_usage_error("funk scale", "--replicas: '%s' is not a number", optarg);
    }
    if (optind < argc - 1)
        return funk_usage_error("funk scale", "unexpected argument '%s'", argv[optind + 1]);
    if (optind != argc - 1 || n < 0)
        return funk_usage_error("funk scale", "needs NAME and --replicas N");
    const char *name = argv[optind];
    char *b = json_to_str(json_pack("{s:s,s:I}", "serviceName", name, "replicas", (json_int_t)n));
    char path[512], enc[256];
    urlenc(name, enc, sizeof enc);
    snprintf(path, sizeof path, "/system/scale-function/%s", enc);
    struct resp r;
    int rc = http("POST", path, "application/json", b, strlen(b), NULL, &r, 0);
    free(b);
    if (rc)
        return 1;
    if (r.code != 200 && r.code != 202)
        return fail("scale", &r);
    resp_free(&r);
    printf("Scaled %s to %ld\n", name, n);
    return 0;
}

/* ---- invoke ------------------------------------------------------------------------------- */

static char *read_stream(FILE *f, size_t *len)
{
    struct buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (collect(chunk, 1, n, &b) != n)
            break;
    if (!b.p)
        b.p = calloc(1, 1);
    *len = b.len;
    return b.p;
}

static int cmd_invoke(int argc, char **argv)
{
    static const struct option o[] = {{"async", no_argument, 0, 'A'},
                                      {"callback-url", required_argument, 0, 'c'},
                                      {"header", required_argument, 0, 'H'},
                                      {"method", required_argument, 0, 'X'},
                                      {"path", required_argument, 0, 'P'},
                                      {"query", required_argument, 0, 'q'},
                                      {"content-type", required_argument, 0, 'T'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int async = 0, c;
    const char *cb = NULL, *method = "POST", *sub = "", *query = NULL, *ctype = NULL;
    struct curl_slist *hl = NULL;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":H:X:h", o, NULL)) != -1) {
        switch (c) {
        case 'A':
            async = 1;
            break;
        case 'c':
            cb = optarg;
            break;
        case 'H':
            if (!strchr(optarg, ':') || optarg[0] == ':') {
                curl_slist_free_all(hl);
                return funk_usage_error("funk invoke", "-H '%s' is not 'Name: value'", optarg);
            }
            hl = curl_slist_append(hl, optarg);
            break;
        case 'X':
            method = optarg;
            break;
        case 'P':
            sub = optarg;
            break;
        case 'q':
            query = optarg;
            break;
        case 'T':
            ctype = optarg;
            break;
        case 'h':
            curl_slist_free_all(hl);
            fputs("usage: funk invoke NAME [--async] [--callback-url URL] [-H|--header 'K: V']\n"
                  "                   [-X|--method M] [--path /P] [--query Q] [--content-type T]\n"
                  "  stdin is the body, the answer goes to stdout (-H repeats)\n",
                  stdout);
            return 0;
        default:
            curl_slist_free_all(hl);
            return funk_getopt_error("funk invoke", c, argv);
        }
    }
    if (optind != argc - 1) {
        curl_slist_free_all(hl);
        if (optind < argc)
            return funk_usage_error("funk invoke", "unexpected argument '%s'", argv[optind + 1]);
        return funk_usage_error("funk invoke", "needs a function NAME");
    }
    if (sub[0] && sub[0] != '/') {
        curl_slist_free_all(hl);
        return funk_usage_error("funk invoke", "--path must start with '/'");
    }
    if (cb) {
        char h[2048];
        snprintf(h, sizeof h, "X-Callback-Url: %s", cb);
        hl = curl_slist_append(hl, h);
        async = 1;
    }
    size_t len = 0;
    char *body = isatty(0) ? calloc(1, 1) : read_stream(stdin, &len);
    char path[4096], enc[256];
    urlenc(argv[optind], enc, sizeof enc);
    snprintf(path, sizeof path, "/%s/%s%s%s%s", async ? "async-function" : "function", enc, sub,
             query ? "?" : "", query ? query : "");
    struct resp r;
    int rc = http(async ? "POST" : method, path, ctype, body, len, hl, &r, 0);
    free(body);
    curl_slist_free_all(hl);
    if (rc)
        return 1;
    if (async) {
        if (r.code != 202)
            return fail("invoke", &r);
        const char *id = r.headers.p ? strcasestr(r.headers.p, "\nX-Call-Id:") : NULL;
        if (id) {
            id += 11;
            while (*id == ' ')
                id++;
            fprintf(stderr, "Function %s queued, call id %.*s\n", argv[optind],
                    (int)strcspn(id, "\r\n"), id);
        }
        resp_free(&r);
        return 0;
    }
    fwrite(r.body.p, 1, r.body.len, r.code >= 400 ? stderr : stdout);
    if (r.code >= 400) {
        fprintf(stderr, "funk: invoke %s: status %ld\n", argv[optind], r.code);
        resp_free(&r);
        return 1;
    }
    resp_free(&r);
    return 0;
}

/* ---- logs --------------------------------------------------------------------------------- */

struct logbuf {
    struct buf b;
};

/* Prints complete ndjson lines as "timestamp instance text". */
static size_t log_lines(char *p, size_t s, size_t n, void *u)
{
    struct logbuf *lb = u;
    if (collect(p, s, n, &lb->b) != s * n)
        return 0;
    char *start = lb->b.p, *nl;
    while ((nl = memchr(start, '\n', lb->b.len - (size_t)(start - lb->b.p)))) {
        json_t *j = json_loadb(start, (size_t)(nl - start), 0, NULL);
        if (j)
            printf("%s %s %s\n", json_string_value(json_object_get(j, "timestamp")),
                   json_string_value(json_object_get(j, "instance")),
                   json_string_value(json_object_get(j, "text")));
        json_decref(j);
        start = nl + 1;
    }
    size_t rest = lb->b.len - (size_t)(start - lb->b.p);
    memmove(lb->b.p, start, rest);
    lb->b.len = rest;
    fflush(stdout);
    return s * n;
}

static int cmd_logs(int argc, char **argv)
{
    static const struct option o[] = {{"tail", required_argument, 0, 't'},
                                      {"follow", no_argument, 0, 'f'},
                                      {"since", required_argument, 0, 's'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *tail = NULL, *since = NULL;
    int follow = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ft:h", o, NULL)) != -1) {
        switch (c) {
        case 't':
            tail = optarg;
            break;
        case 'f':
            follow = 1;
            break;
        case 's':
            since = optarg;
            break;
        case 'h':
            return funk_help(
                "usage: funk logs NAME [-t|--tail N] [-f|--follow] [--since RFC3339]\n");
        default:
            return funk_getopt_error("funk logs", c, argv);
        }
    }
    if (optind < argc - 1)
        return funk_usage_error("funk logs", "unexpected argument '%s'", argv[optind + 1]);
    if (optind == argc)
        return funk_usage_error("funk logs", "needs a function NAME");
    char path[2048], enc[256], tenc[64] = "", senc[128] = "";
    urlenc(argv[optind], enc, sizeof enc);
    if (tail)
        urlenc(tail, tenc, sizeof tenc);
    if (since)
        urlenc(since, senc, sizeof senc);
    snprintf(path, sizeof path, "/system/logs?name=%s%s%s%s%s%s", enc, tail ? "&tail=" : "", tenc,
             since ? "&since=" : "", senc, follow ? "&follow=true" : "");
    char url[4096];
    snprintf(url, sizeof url, "%s%s", gateway, path);
    CURL *h = curl_easy_init();
    struct logbuf lb = {0};
    long code = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, log_lines);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &lb);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    cli_auth_apply(h, gateway, user, pass);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    free(lb.b.p);
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        fprintf(stderr, "funk: logs %s: funkd answered %ld%s\n", argv[optind], code,
                code == 404   ? " (no such function)"
                : code == 401 ? " (unauthorized)"
                              : "");
        return 1;
    }
    if (rc != CURLE_OK) {
        fprintf(stderr, "funk: cannot reach funkd at %s: %s\n", gateway, curl_easy_strerror(rc));
        return 1;
    }
    return 0;
}

/* ---- secrets ------------------------------------------------------------------------------ */

static const char secret_usage[] =
    "usage: funk secret create NAME [--from-literal VALUE | --from-file FILE]  (else stdin)\n"
    "       funk secret update NAME [--from-literal VALUE | --from-file FILE]\n"
    "       funk secret ls | funk secret rm NAME\n";

static int cmd_secret(int argc, char **argv)
{
    static const char prog[] = "funk secret";
    static const struct option o[] = {{"from-literal", required_argument, 0, 'l'},
                                      {"from-file", required_argument, 0, 'f'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *literal = NULL, *from_file = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", o, NULL)) != -1) {
        if (c == 'l')
            literal = optarg;
        else if (c == 'f')
            from_file = optarg;
        else if (c == 'h')
            return funk_help(secret_usage);
        else
            return funk_getopt_error(prog, c, argv);
    }
    if (optind == argc)
        return funk_usage_error(prog, "missing command (create, update, ls or rm)");
    const char *sub = argv[optind];
    int nargs = argc - optind - 1; /* after the subcommand */
    int list = strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0;
    int remove = strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0;
    int create = strcmp(sub, "create") == 0;
    if (!list && !remove && !create && strcmp(sub, "update") != 0)
        return funk_usage_error(prog, "unknown command '%s' (create, update, ls or rm)", sub);
    if ((list || remove) && (literal || from_file))
        return funk_usage_error(prog, "%s takes no --from-literal or --from-file", sub);
    if (literal && from_file)
        return funk_usage_error(prog, "give --from-literal or --from-file, not both");
    if (nargs > (list ? 0 : 1))
        return funk_usage_error(prog, "unexpected argument '%s'", argv[argc - 1]);
    struct resp r;
    if (list) {
        if (http("GET", "/system/secrets", NULL, NULL, 0, NULL, &r, 0) != 0)
            return 1;
        if (r.code != 200)
            return fail("secret ls", &r);
        json_t *a = json_loads(r.body.p, 0, NULL);
        size_t i;
        json_t *s;
        printf("NAME\n");
        json_array_foreach(a, i, s) printf("%s\n", json_string_value(json_object_get(s, "name")));
        json_decref(a);
        resp_free(&r);
        return 0;
    }
    if (nargs < 1)
        return funk_usage_error(prog, "%s needs a secret NAME", sub);
    const char *name = argv[optind + 1];
    if (remove) {
        char *b = json_to_str(json_pack("{s:s}", "name", name));
        int rc = http("DELETE", "/system/secrets", "application/json", b, strlen(b), NULL, &r, 0);
        free(b);
        if (rc)
            return 1;
        if (r.code != 200 && r.code != 202 && r.code != 204) /* funkd: 202, as faas-netes */
            return fail("secret rm", &r);
        resp_free(&r);
        printf("Removed secret %s\n", name);
        return 0;
    }
    char *val = NULL;
    size_t len = 0;
    if (literal) {
        val = strdup(literal);
        len = strlen(val);
    } else if (from_file) {
        FILE *f = fopen(from_file, "rb");
        if (!f) {
            fprintf(stderr, "funk secret: cannot open %s: %s\n", from_file, strerror(errno));
            return 1;
        }
        val = read_stream(f, &len);
        fclose(f);
    } else {
        val = read_stream(stdin, &len);
    }
    json_t *j = json_pack("{s:s}", "name", name);
    json_object_set_new(j, "value", json_stringn(val, len));
    free(val);
    if (!json_object_get(j, "value")) {
        json_decref(j);
        return funk_usage_error(prog, "the value must be UTF-8 text");
    }
    char *b = json_to_str(j);
    int rc = http(create ? "POST" : "PUT", "/system/secrets", "application/json", b, strlen(b),
                  NULL, &r, 0);
    free(b);
    if (rc)
        return 1;
    if (r.code != 200 && r.code != 201 && r.code != 202)
        return fail(create ? "secret create" : "secret update", &r);
    resp_free(&r);
    printf("%s secret %s\n", create ? "Created" : "Updated", name);
    return 0;
}

/* ---- /healthz (ready) -------------------------------------------------------------------- */

static int healthy(void)
{
    char url[4096];
    snprintf(url, sizeof url, "%s/healthz", gateway);
    long code;
    return cli_http_status(url, NULL, NULL, NULL, 1000L, &code) == CURLE_OK && code == 200;
}

/* ---- ready -------------------------------------------------------------------------------- */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* As faas-cli ready: waits until the gateway answers /healthz and, given NAME, until the
 * function is deployed with an available replica. */
static int cmd_ready(int argc, char **argv)
{
    static const struct option o[] = {{"timeout", required_argument, 0, 't'},
                                      {"namespace", required_argument, 0, 'n'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    double timeout = 60;
    const char *ns = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":t:n:h", o, NULL)) != -1) {
        if (c == 'n') {
            ns = optarg;
        } else if (c == 't') {
            char *e;
            timeout = strtod(optarg, &e);
            if (e == optarg || (*e && strcmp(e, "s") != 0) || !(timeout > 0) || timeout > 86400)
                return funk_usage_error("funk ready", "--timeout: '%s' is not a number of seconds",
                                        optarg);
        } else if (c == 'h') {
            return funk_help(
                "usage: funk ready [NAME] [--namespace NS] [-t|--timeout SECONDS]\n"
                "  waits until funkd answers /healthz (and NAME has a ready replica)\n");
        } else {
            return funk_getopt_error("funk ready", c, argv);
        }
    }
    if (optind < argc - 1)
        return funk_usage_error("funk ready", "unexpected argument '%s'", argv[optind + 1]);
    const char *name = optind < argc ? argv[optind] : NULL;
    double end = mono_now() + timeout;
    struct timespec step = {0, 200 * 1000 * 1000};
    while (!healthy()) {
        if (mono_now() >= end) {
            fprintf(stderr, "funk ready: %s did not answer /healthz within %g s\n", gateway,
                    timeout);
            return 1;
        }
        nanosleep(&step, NULL);
    }
    if (!name) {
        printf("%s is ready\n", gateway);
        return 0;
    }
    char path[1024], enc[256], nsenc[256] = "";
    urlenc(name, enc, sizeof enc);
    if (ns)
        urlenc(ns, nsenc, sizeof nsenc);
    snprintf(path, sizeof path, "/system/function/%s%s%s", enc, ns ? "?namespace=" : "", nsenc);
    for (;;) {
        struct resp r;
        if (http("GET", path, NULL, NULL, 0, NULL, &r, 0) != 0)
            return 1;
        if (r.code == 401)
            return fail("ready", &r);
        long code = r.code;
        json_int_t avail = 0;
        if (code == 200) {
            json_t *j = json_loads(r.body.p, 0, NULL);
            avail = json_integer_value(json_object_get(j, "availableReplicas"));
            json_decref(j);
        }
        resp_free(&r);
        if (code == 200 && avail > 0) {
            printf("Function %s is ready\n", name);
            return 0;
        }
        if (mono_now() >= end) {
            fprintf(stderr, "funk ready: function %s is not ready after %g s (%s)\n", name, timeout,
                    code == 200   ? "no available replica"
                    : code == 404 ? "not deployed"
                                  : "error status");
            return 1;
        }
        nanosleep(&step, NULL);
    }
}

/* ---- main --------------------------------------------------------------------------------- */

/* ---- shared with the other CLI files (cli.h) ---------------------------------------------- */

const char *cli_gateway_get(void)
{
    return gateway;
}

void cli_gateway_set(const char *url)
{
    gateway = url;
}

int cli_deploy_one(json_t *spec)
{
    return deploy_one(spec);
}

json_t *cli_image_value(const char *img, const char *base_dir)
{
    return image_value(img, base_dir);
}

int main(int argc, char **argv)
{
    /* the gateway: --gateway, else FUNK_GATEWAY, else OPENFAAS_URL (as faas-cli), else
     * provider.gateway of a stack file, else http://127.0.0.1:8080 */
    const char *g = getenv("FUNK_GATEWAY");
    if (!g || !*g)
        g = getenv("OPENFAAS_URL");
    if (g && *g)
        gateway = g;
    user = getenv("FUNK_USER");
    pass = getenv("FUNK_PASSWORD");
    static const struct option o[] = {
        {"gateway", required_argument, 0, 'g'},  {"username", required_argument, 0, 'u'},
        {"password", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    /* '+': the options end at the command; what follows is the command's own */
    while ((c = getopt_long(argc, argv, "+:g:u:p:h", o, NULL)) != -1) {
        switch (c) {
        case 'g':
            gateway = optarg;
            setenv("FUNK_GATEWAY_FORCED", "1", 1);
            break;
        case 'u':
            user = optarg;
            break;
        case 'p':
            pass = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("funk %s\n", FUNK_VERSION);
            return 0;
        default:
            return funk_getopt_error("funk", c, argv);
        }
    }
    if (g && *g)
        setenv("FUNK_GATEWAY_FORCED", "1", 1);
    if (optind >= argc)
        return funk_usage_error("funk", "missing command");
    int i = optind;
    size_t gl = strlen(gateway);
    while (gl > 1 && gateway[gl - 1] == '/') {
        gateway = strndup(gateway, gl - 1);
        gl--;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *cmd = argv[i];
    int sargc = argc - i;
    char **sargv = argv + i;
    int rc;
    if (strcmp(cmd, "deploy") == 0)
        rc = cmd_deploy(sargc, sargv);
    else if (strcmp(cmd, "ls") == 0 || strcmp(cmd, "list") == 0)
        rc = cmd_ls(sargc, sargv);
    else if (strcmp(cmd, "describe") == 0)
        rc = cmd_describe(sargc, sargv);
    else if (strcmp(cmd, "invoke") == 0)
        rc = cmd_invoke(sargc, sargv);
    else if (strcmp(cmd, "rm") == 0 || strcmp(cmd, "remove") == 0)
        rc = cmd_rm(sargc, sargv);
    else if (strcmp(cmd, "logs") == 0)
        rc = cmd_logs(sargc, sargv);
    else if (strcmp(cmd, "scale") == 0)
        rc = cmd_scale(sargc, sargv);
    else if (strcmp(cmd, "secret") == 0)
        rc = cmd_secret(sargc, sargv);
    else if (strcmp(cmd, "up") == 0)
        rc = cmd_up(sargc, sargv);
    else if (strcmp(cmd, "ready") == 0)
        rc = cmd_ready(sargc, sargv);
    else if (strcmp(cmd, "build") == 0)
        rc = cmd_build(sargc, sargv);
    else if (strcmp(cmd, "push") == 0)
        rc = cmd_push(sargc, sargv);
    else if (strcmp(cmd, "new") == 0)
        rc = cmd_new(sargc, sargv);
    else if (strcmp(cmd, "template") == 0)
        rc = cmd_template(sargc, sargv);
    else if (strcmp(cmd, "login") == 0)
        rc = cmd_login(sargc, sargv);
    else if (strcmp(cmd, "logout") == 0)
        rc = cmd_logout(sargc, sargv);
    else if (strcmp(cmd, "daemon") == 0)
        rc = cmd_daemon(sargc, sargv);
    else if (strcmp(cmd, "version") == 0) {
        rc = plain_args(sargc, sargv, "funk version", "usage: funk version\n", 0, 0, "");
        if (rc == 1) {
            printf("funk %s\n", FUNK_VERSION);
            rc = 0;
        }
    } else if (strcmp(cmd, "image") == 0) {
#ifdef FUNK_HAVE_IMAGE
        rc = funk_image_main(sargc, sargv);
#else
        fprintf(stderr, "funk image: not built (this funk was built without the OCI image part)\n");
        rc = 1;
#endif
    } else if (strcmp(cmd, "registry-login") == 0) {
#ifdef FUNK_HAVE_IMAGE
        rc = funk_registry_login_main(sargc, sargv);
#else
        fprintf(stderr, "funk registry-login: not built (needs the OCI image part)\n");
        rc = 1;
#endif
    } else {
        rc = funk_usage_error("funk", "unknown command '%s'", cmd);
    }
    curl_global_cleanup();
    return rc;
}
