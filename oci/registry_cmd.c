/* SPDX-License-Identifier: Apache-2.0 */
/* `funk image push|pull` and `funk registry-login`: the registry client's command lines. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "image.h"
#include "registry.h"
#include "usage.h"

static int usage_push(void)
{
    printf("usage: %s push [--tls-verify[=true|false]] [--authfile FILE] [-u USER -p PASS] SRC "
           "REF\n"
           "  SRC: an OCI layout directory or oci-archive (build -o/--archive);\n"
           "  REF: host[:port]/path[:tag] (tag latest by default). Prints the manifest digest.\n"
           "  http for loopback registries, https otherwise (--tls-verify=false: no certificate\n"
           "  checks, then http). Credentials: funk registry-login.\n",
           funk_image_prog);
    return 0;
}

static int usage_pull(void)
{
    printf("usage: %s pull [--tls-verify[=true|false]] [--authfile FILE] [-u USER -p PASS] REF "
           "DIR\n"
           "  writes the linux/amd64 image of REF (verified) as an OCI layout in DIR and prints\n"
           "  the digest REF resolved to.\n",
           funk_image_prog);
    return 0;
}

/* Parses the options both commands share and their npos positional arguments into pos; 1 to go
 * on, else the exit status (0 after --help, 64 on a usage error). prog: "funk image push"... */
static int common_opts(int argc, char **argv, struct funk_reg_opts *o, const char **pos, int npos,
                       int (*usage)(void), const char *prog)
{
    static const struct option opts[] = {{"tls-verify", optional_argument, 0, 'T'},
                                         {"authfile", required_argument, 0, 'a'},
                                         {"username", required_argument, 0, 'u'},
                                         {"password", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 0; /* glibc: start afresh on this argv */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":u:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'T':
            if (!optarg || strcmp(optarg, "true") == 0)
                o->tls_verify = 1;
            else if (strcmp(optarg, "false") == 0)
                o->tls_verify = 0;
            else
                return funk_usage_error(prog, "--tls-verify takes true or false, not '%s'", optarg);
            break;
        case 'a':
            o->auth_file = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'p':
            o->pass = optarg;
            break;
        case 'h':
            return usage();
        default:
            return funk_getopt_error(prog, c, argv);
        }
    }
    int k = 0;
    for (int i = optind; i < argc; i++) {
        if (k == npos)
            return funk_usage_error(prog, "unexpected argument '%s'", argv[i]);
        pos[k++] = argv[i];
    }
    if (k != npos)
        return funk_usage_error(prog, "needs %s",
                                usage == usage_push ? "SRC and REF" : "REF and DIR");
    if (!o->user != !o->pass)
        return funk_usage_error(prog, "give both -u and -p, or neither");
    return 1;
}

/* funk image push SRC REF / pull REF DIR: the options, the reference, then the transfer; the
 * manifest digest on stdout. */
static int push_or_pull(int argc, char **argv, int push)
{
    struct funk_reg_opts o;
    funk_reg_opts_default(&o);
    const char *pos[2];
    char prog[64];
    snprintf(prog, sizeof prog, "%s %s", funk_image_prog, push ? "push" : "pull");
    int r = common_opts(argc, argv, &o, pos, 2, push ? usage_push : usage_pull, prog);
    if (r != 1)
        return r;
    const char *text = pos[push ? 1 : 0];
    struct funk_ref ref;
    if (funk_ref_parse(text, &ref) != 0)
        return funk_usage_error(prog, "'%s' is not an image reference (host[:port]/path[:tag])",
                                text);
    char digest[72], err[600], out[PATH_MAX];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = push ? funk_reg_push(pos[0], &ref, &o, digest, err, sizeof err)
                  : funk_reg_pull(&ref, &o, pos[1], NULL, digest, out, err, sizeof err);
    curl_global_cleanup();
    if (rc) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    printf("%s\n", digest);
    return 0;
}

int funk_image_push_main(int argc, char **argv)
{
    return push_or_pull(argc, argv, 1);
}

int funk_image_pull_main(int argc, char **argv)
{
    return push_or_pull(argc, argv, 0);
}

int funk_registry_login_main(int argc, char **argv)
{
    static const char prog[] = "funk registry-login";
    static const struct option opts[] = {{"server", required_argument, 0, 's'},
                                         {"username", required_argument, 0, 'u'},
                                         {"password", required_argument, 0, 'p'},
                                         {"password-stdin", no_argument, 0, 'S'},
                                         {"authfile", required_argument, 0, 'a'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *server = NULL, *user = NULL, *pass = NULL, *file = NULL;
    int stdin_pw = 0, c;
    optind = 0; /* glibc: start afresh on this argv */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:u:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'p':
            pass = optarg;
            break;
        case 'S':
            stdin_pw = 1;
            break;
        case 'a':
            file = optarg;
            break;
        case 'h':
            printf("usage: funk registry-login --server HOST[:PORT] --username USER "
                   "(--password PASS | --password-stdin)\n"
                   "                           [--authfile FILE]\n"
                   "  stores the credentials (0600) in $XDG_CONFIG_HOME/funk/auth.json or "
                   "~/.config/funk/auth.json\n"
                   "  (-s, -u, -p: short for --server, --username, --password)\n");
            return 0;
        default:
            return funk_getopt_error(prog, c, argv);
        }
    }
    if (optind < argc)
        return funk_usage_error(prog, "unexpected argument '%s'", argv[optind]);
    if (pass && stdin_pw)
        return funk_usage_error(prog, "give --password or --password-stdin, not both");
    char pw[512];
    if (stdin_pw) {
        if (!fgets(pw, sizeof pw, stdin)) {
            fprintf(stderr, "%s: no password on stdin\n", prog);
            return 1;
        }
        pw[strcspn(pw, "\r\n")] = '\0';
        pass = pw;
    }
    if (!server || !user || !pass || !*user)
        return funk_usage_error(prog, "--server, --username and a password are needed");
    struct funk_ref r;
    char probe[300];
    snprintf(probe, sizeof probe, "%s/x", server);
    if (funk_ref_parse(probe, &r) != 0 || strcmp(r.host, server) != 0)
        return funk_usage_error(prog, "--server: '%s' is not a registry host[:port]", server);
    char err[600];
    if (funk_reg_login(file, server, user, pass, err, sizeof err) != 0) {
        fprintf(stderr, "funk registry-login: %s\n", err);
        return 1;
    }
    printf("credentials for %s stored\n", server);
    return 0;
}
