/* SPDX-License-Identifier: Apache-2.0 */
/* `funk image push|pull` and `funk registry-login`: the registry client's command lines. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "registry.h"

static void usage_push(FILE *f)
{
    fprintf(f, "usage: funk image push [--tls-verify=false] [--authfile FILE] [-u USER -p PASS] "
               "SRC REF\n"
               "  SRC: an OCI layout directory or oci-archive (funk image build -o/--archive);\n"
               "  REF: host[:port]/path[:tag] (tag latest by default). Prints the manifest "
               "digest.\n"
               "  http for loopback registries, https otherwise (--tls-verify=false: no "
               "certificate\n"
               "  checks, then http). Credentials: funk registry-login.\n");
}

static void usage_pull(FILE *f)
{
    fprintf(f, "usage: funk image pull [--tls-verify=false] [--authfile FILE] [-u USER -p PASS] "
               "REF DIR\n"
               "  writes the linux/amd64 image of REF (verified) as an OCI layout in DIR and "
               "prints\n"
               "  the digest REF resolved to.\n");
}

/* Parses the options both commands share; leaves the positional arguments in pos. */
static int common_opts(int argc, char **argv, struct funk_reg_opts *o, const char **pos, int npos,
                       void (*usage)(FILE *))
{
    int k = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--tls-verify=false") == 0)
            o->tls_verify = 0;
        else if (strcmp(a, "--tls-verify=true") == 0 || strcmp(a, "--tls-verify") == 0)
            o->tls_verify = 1;
        else if (strcmp(a, "--authfile") == 0 && i + 1 < argc)
            o->auth_file = argv[++i];
        else if ((strcmp(a, "-u") == 0 || strcmp(a, "--username") == 0) && i + 1 < argc)
            o->user = argv[++i];
        else if ((strcmp(a, "-p") == 0 || strcmp(a, "--password") == 0) && i + 1 < argc)
            o->pass = argv[++i];
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "funk image %s: unknown option '%s'\n", argv[0], a);
            usage(stderr);
            return -2;
        } else if (k < npos)
            pos[k++] = a;
        else {
            fprintf(stderr, "funk image %s: unexpected argument '%s'\n", argv[0], a);
            usage(stderr);
            return -2;
        }
    }
    if (k != npos) {
        usage(stderr);
        return -2;
    }
    if (!o->user != !o->pass) {
        fprintf(stderr, "funk image %s: give both -u and -p, or neither\n", argv[0]);
        return -2;
    }
    return 1;
}

int funk_image_push_main(int argc, char **argv)
{
    struct funk_reg_opts o;
    funk_reg_opts_default(&o);
    const char *pos[2];
    int r = common_opts(argc, argv, &o, pos, 2, usage_push);
    if (r <= 0)
        return r == 0 ? 0 : 2;
    struct funk_ref ref;
    if (funk_ref_parse(pos[1], &ref) != 0) {
        fprintf(stderr,
                "funk image push: '%s' is not an image reference (host[:port]/path[:tag])\n",
                pos[1]);
        return 2;
    }
    char digest[72], err[600];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = funk_reg_push(pos[0], &ref, &o, digest, err, sizeof err);
    curl_global_cleanup();
    if (rc) {
        fprintf(stderr, "funk image push: %s\n", err);
        return 1;
    }
    printf("%s\n", digest);
    return 0;
}

int funk_image_pull_main(int argc, char **argv)
{
    struct funk_reg_opts o;
    funk_reg_opts_default(&o);
    const char *pos[2];
    int r = common_opts(argc, argv, &o, pos, 2, usage_pull);
    if (r <= 0)
        return r == 0 ? 0 : 2;
    struct funk_ref ref;
    if (funk_ref_parse(pos[0], &ref) != 0) {
        fprintf(stderr, "funk image pull: '%s' is not an image reference\n", pos[0]);
        return 2;
    }
    char digest[72], err[600], out[PATH_MAX];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = funk_reg_pull(&ref, &o, pos[1], NULL, digest, out, err, sizeof err);
    curl_global_cleanup();
    if (rc) {
        fprintf(stderr, "funk image pull: %s\n", err);
        return 1;
    }
    printf("%s\n", digest);
    return 0;
}

int funk_registry_login_main(int argc, char **argv)
{
    const char *server = NULL, *user = NULL, *pass = NULL, *file = NULL;
    int stdin_pw = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--server") == 0 || strcmp(a, "-s") == 0) && i + 1 < argc)
            server = argv[++i];
        else if ((strcmp(a, "--username") == 0 || strcmp(a, "-u") == 0) && i + 1 < argc)
            user = argv[++i];
        else if ((strcmp(a, "--password") == 0 || strcmp(a, "-p") == 0) && i + 1 < argc)
            pass = argv[++i];
        else if (strcmp(a, "--password-stdin") == 0)
            stdin_pw = 1;
        else if (strcmp(a, "--authfile") == 0 && i + 1 < argc)
            file = argv[++i];
        else {
            fprintf(stderr, "usage: funk registry-login --server HOST[:PORT] --username USER "
                            "(--password PASS | --password-stdin) [--authfile FILE]\n"
                            "  stores the credentials (0600) in $XDG_CONFIG_HOME/funk/auth.json or "
                            "~/.config/funk/auth.json\n");
            return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    char pw[512];
    if (stdin_pw) {
        if (!fgets(pw, sizeof pw, stdin)) {
            fprintf(stderr, "funk registry-login: no password on stdin\n");
            return 2;
        }
        pw[strcspn(pw, "\r\n")] = '\0';
        pass = pw;
    }
    if (!server || !user || !pass || !*user) {
        fprintf(stderr, "funk registry-login: --server, --username and a password are needed\n");
        return 2;
    }
    struct funk_ref r;
    char probe[300];
    snprintf(probe, sizeof probe, "%s/x", server);
    if (funk_ref_parse(probe, &r) != 0 || strcmp(r.host, server) != 0) {
        fprintf(stderr, "funk registry-login: '%s' is not a registry host[:port]\n", server);
        return 2;
    }
    char err[600];
    if (funk_reg_login(file, server, user, pass, err, sizeof err) != 0) {
        fprintf(stderr, "funk registry-login: %s\n", err);
        return 1;
    }
    printf("credentials for %s stored\n", server);
    return 0;
}
