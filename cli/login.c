/* SPDX-License-Identifier: Apache-2.0 */
/* funk login/logout: gateway basic-auth credentials kept per gateway URL in
 * $XDG_CONFIG_HOME/funk/auth.json (else ~/.config/funk/auth.json), mode 0600, in the
 * containers-auth.json shape {"auths": {KEY: {"auth": base64("user:password")}}} that registry
 * logins share (KEY: a gateway URL or a registry host); every command talking to funkd uses it. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli.h"

#define AUTH_FILE_MAX (1u << 20)

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const char *in, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        *o++ = b64chars[v >> 18 & 63];
        *o++ = b64chars[v >> 12 & 63];
        *o++ = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64chars[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Decodes strict base64 (with padding); NULL when malformed. */
static char *b64_decode(const char *in, size_t *outlen)
{
    size_t n = strlen(in);
    if (n % 4)
        return NULL;
    char *out = malloc(n / 4 * 3 + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            const char *p = in[i + j] ? strchr(b64chars, in[i + j]) : NULL;
            if (in[i + j] == '=' && i + 4 == n && j >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!p || pad) {
                free(out);
                return NULL;
            }
            v = v << 6 | (unsigned)(p - b64chars);
        }
        out[o++] = (char)(v >> 16);
        if (pad < 2)
            out[o++] = (char)(v >> 8);
        if (pad < 1)
            out[o++] = (char)v;
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

static int auth_path(char *dir, size_t dlen, char *file, size_t flen)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (x && x[0] == '/')
        n = snprintf(dir, dlen, "%s/funk", x);
    else if (home && *home)
        n = snprintf(dir, dlen, "%s/.config/funk", home);
    else
        return -ENOENT;
    if (n < 0 || (size_t)n >= dlen || (size_t)snprintf(file, flen, "%s/auth.json", dir) >= flen)
        return -ENAMETOOLONG;
    return 0;
}

/* The key of a gateway URL: scheme and host lower case, no trailing slash. */
static void gateway_key(const char *url, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", url);
    size_t l = strlen(out);
    while (l > 1 && out[l - 1] == '/')
        out[--l] = '\0';
    char *host = strstr(out, "://");
    char *end = host ? host + 3 + strcspn(host + 3, "/") : out;
    for (char *c = out; c < end; c++)
        *c = (char)tolower((unsigned char)*c);
}

/* Reads the auth file: an object (empty when there is no file), or NULL after printing why. */
static json_t *auth_read(const char *file, int quiet)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return json_object();
        if (!quiet)
            fprintf(stderr, "funk: cannot open %s: %s\n", file, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > AUTH_FILE_MAX) {
        if (!quiet)
            fprintf(stderr, "funk: %s: not a regular file under 1 MiB\n", file);
        close(fd);
        return NULL;
    }
    if ((st.st_mode & 077) && !quiet)
        fprintf(stderr, "funk: WARNING: %s can be read by others (chmod 600 it)\n", file);
    json_error_t je;
    json_t *j = json_loadfd(fd, 0, &je);
    close(fd);
    if (!json_is_object(j)) {
        if (!quiet)
            fprintf(stderr, "funk: %s: not a JSON object (%s)\n", file, j ? "" : je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

void cli_auth_apply(CURL *h, const char *gateway, const char *user, const char *pass)
{
    if (user && pass) {
        curl_easy_setopt(h, CURLOPT_USERNAME, user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        return;
    }
    char dir[PATH_MAX], file[PATH_MAX + 16], key[2048];
    if (auth_path(dir, sizeof dir, file, sizeof file) != 0)
        return;
    json_t *j = auth_read(file, 1);
    gateway_key(gateway, key, sizeof key);
    const char *a = json_string_value(
        json_object_get(json_object_get(json_object_get(j, "auths"), key), "auth"));
    size_t n = 0;
    char *up = a ? b64_decode(a, &n) : NULL;
    char *colon = up ? memchr(up, ':', n) : NULL;
    if (colon && strlen(up) == n) {
        *colon = '\0';
        curl_easy_setopt(h, CURLOPT_USERNAME, up);
        curl_easy_setopt(h, CURLOPT_PASSWORD, colon + 1);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    } else if (a) {
        fprintf(stderr, "funk: %s: the entry for %s is not base64 of USER:PASSWORD\n", file, key);
    }
    free(up);
    json_decref(j);
}

/* Writes j to file atomically, 0600, its directory 0700. */
static int auth_write(const char *dir, const char *file, json_t *j)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *s = strrchr(parent, '/');
    if (s && s != parent) {
        *s = '\0';
        if (mkdir(parent, 0700) < 0 && errno != EEXIST)
            return -errno;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", file, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    int rc = json_dumpfd(j, fd, JSON_INDENT(2)) == 0 && write(fd, "\n", 1) == 1 ? 0 : -EIO;
    if (rc == 0 && fchmod(fd, 0600) != 0)
        rc = -errno;
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, file) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

static size_t discard(char *p, size_t s, size_t n, void *u);

CURLcode cli_http_status(const char *url, const char *auth_key, const char *user,
                         const char *pass, long timeout_ms, long *code)
{
    *code = 0;
    CURL *h = curl_easy_init();
    if (!h)
        return CURLE_FAILED_INIT;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (auth_key)
        cli_auth_apply(h, auth_key, user, pass);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    curl_easy_cleanup(h);
    return rc;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

/* The gateway for login/logout: -g, else the same order as every command (cli_gateway). */
static const char *login_gateway(const char *g)
{
    return g ? g : cli_gateway_resolve(NULL);
}

int cmd_login(int argc, char **argv)
{
    static const struct option o[] = {
        {"username", required_argument, 0, 'u'}, {"password", required_argument, 0, 'p'},
        {"password-stdin", no_argument, 0, 's'}, {"gateway", required_argument, 0, 'g'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *user = "admin", *pass = NULL, *gw = NULL;
    int from_stdin = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":u:p:g:sh", o, NULL)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: funk login [-g|--gateway URL] [-u|--username USER]\n"
                   "                  (-p|--password PASSWORD | -s|--password-stdin)\n"
                   "  checks the credentials with funkd, then stores them for that gateway\n");
            return 0;
        case 'u':
            user = optarg;
            break;
        case 'p':
            pass = optarg;
            break;
        case 's':
            from_stdin = 1;
            break;
        case 'g':
            gw = optarg;
            break;
        default:
            return funk_getopt_error("funk login", c, argv);
        }
    }
    if (optind != argc)
        return funk_usage_error("funk login", "unexpected argument '%s'", argv[optind]);
    if ((pass && from_stdin) || (!pass && !from_stdin))
        return funk_usage_error("funk login", "give one of -p PASSWORD and --password-stdin");
    if (!*user || strchr(user, ':'))
        return funk_usage_error("funk login", "-u '%s': a user name is not empty and has no ':'",
                                user);
    char buf[4096];
    if (from_stdin) {
        size_t n = fread(buf, 1, sizeof buf - 1, stdin);
        buf[n] = '\0';
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (!feof(stdin) || strlen(buf) != n) {
            return funk_usage_error("funk login", "the password on stdin must be one line of text");
        }
        pass = buf;
    } else {
        fprintf(stderr, "WARNING! -p puts the password in your shell history and the process "
                        "list; prefer --password-stdin\n");
    }
    if (!*pass)
        return funk_usage_error("funk login", "empty password");
    const char *gateway = login_gateway(gw);
    char key[2048];
    gateway_key(gateway, key, sizeof key);
    /* Check the credentials with funkd first, as faas-cli does. */
    char url[2200];
    snprintf(url, sizeof url, "%s/system/functions", key);
    long code = 0;
    CURLcode cr = cli_http_status(url, key, user, pass, 30000L, &code);
    if (cr != CURLE_OK) {
        fprintf(stderr, "funk login: cannot reach funkd at %s: %s\n", key, curl_easy_strerror(cr));
        return 1;
    }
    if (code == 401 || code == 403) {
        fprintf(stderr, "funk login: %s refused these credentials (%ld)\n", key, code);
        return 1;
    }
    if (code != 200) {
        fprintf(stderr, "funk login: %s answered %ld to GET /system/functions\n", key, code);
        return 1;
    }
    char dir[PATH_MAX], file[PATH_MAX + 16];
    if (auth_path(dir, sizeof dir, file, sizeof file) != 0) {
        fprintf(stderr, "funk login: neither XDG_CONFIG_HOME nor HOME is set\n");
        return 1;
    }
    json_t *j = auth_read(file, 0);
    if (!j)
        return 1;
    json_t *auths = json_object_get(j, "auths");
    if (!json_is_object(auths)) {
        auths = json_object();
        json_object_set_new(j, "auths", auths);
    }
    size_t ul = strlen(user), pl = strlen(pass);
    char *up = malloc(ul + pl + 2);
    char *enc = NULL;
    if (up) {
        memcpy(up, user, ul);
        up[ul] = ':';
        memcpy(up + ul + 1, pass, pl + 1);
        enc = b64_encode(up, ul + pl + 1);
        free(up);
    }
    if (!enc) {
        json_decref(j);
        return 1;
    }
    json_object_set_new(auths, key, json_pack("{s:s}", "auth", enc));
    free(enc);
    int rc = auth_write(dir, file, j);
    json_decref(j);
    if (rc) {
        fprintf(stderr, "funk login: cannot write %s: %s\n", file, strerror(-rc));
        return 1;
    }
    printf("credentials saved for %s %s\n", user, key);
    return 0;
}

int cmd_logout(int argc, char **argv)
{
    static const struct option o[] = {
        {"gateway", required_argument, 0, 'g'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *gw = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":g:h", o, NULL)) != -1) {
        if (c == 'g')
            gw = optarg;
        else if (c == 'h')
            return funk_help("usage: funk logout [-g|--gateway URL]\n"
                             "  forgets the credentials funk login stored for that gateway\n");
        else
            return funk_getopt_error("funk logout", c, argv);
    }
    if (optind != argc)
        return funk_usage_error("funk logout", "unexpected argument '%s'", argv[optind]);
    char key[2048], dir[PATH_MAX], file[PATH_MAX + 16];
    gateway_key(login_gateway(gw), key, sizeof key);
    if (auth_path(dir, sizeof dir, file, sizeof file) != 0) {
        fprintf(stderr, "funk logout: neither XDG_CONFIG_HOME nor HOME is set\n");
        return 1;
    }
    json_t *j = auth_read(file, 0);
    if (!j)
        return 1;
    if (json_object_del(json_object_get(j, "auths"), key) != 0) {
        fprintf(stderr, "funk logout: no credentials for %s in %s\n", key, file);
        json_decref(j);
        return 1;
    }
    int rc = auth_write(dir, file, j);
    json_decref(j);
    if (rc) {
        fprintf(stderr, "funk logout: cannot write %s: %s\n", file, strerror(-rc));
        return 1;
    }
    printf("credentials removed for %s\n", key);
    return 0;
}
