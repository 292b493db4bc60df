/* SPDX-License-Identifier: Apache-2.0 */
/* funkd: the funk serverless gateway (OpenFaaS API, unikernel functions); options and start-up. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/resource.h>

#include <funk/vm.h>

#include "gw.h"

struct gw_config gw_cfg = {
    .listen_host = "127.0.0.1",
    .listen_port = 8080,
    .max_body = 8u << 20,
    .max_response = 64u << 20,
    .max_body_total = 512u << 20,
    .timeout = 30,
    .read_timeout = 30,
    .head_timeout = 10,
    .body_timeout = 60,
    .max_conns = 1000,
    .max_conns_per_ip = 100,
    .idle_timeout = 60,
    .isolation = 0, /* FUNK_ISOLATION_AUTO */
    .pool_size = 4,
    .preboot = 2,
    .async_workers = 2,
    .callback_retries = 8,
    .callback_backoff = 0.2,
    .accel = "private",
};
volatile int gw_stopping;

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: funkd [OPTIONS]\n"
        "The funk gateway: serves the OpenFaaS REST API and runs functions as unikernels.\n"
        "  --listen HOST:PORT     address to listen on (default 127.0.0.1:8080)\n"
        "  --state-dir DIR        SQLite state: functions, secrets, async jobs\n"
        "                         (default $FUNK_STATE_DIR or ./funk-state)\n"
        "  --secrets-dir DIR      holds basic-auth-user and basic-auth-password\n"
        "                         (default STATE_DIR/secrets)\n"
        "  --auth                 require basic auth on /system/* (credentials from the\n"
        "                         secrets dir; /function/*, /async-function/*, /healthz stay "
        "open)\n"
        "  --max-body BYTES       larger request bodies get 413 (default 8388608)\n"
        "  --max-response BYTES   a function response body over BYTES gets 502 (default\n"
        "                         67108864; headers: at most 65536 bytes)\n"
        "  --log-output           also write function output to stderr, one escaped line each,\n"
        "                         tagged \"fn NAME.NAMESPACE[INSTANCE]:\" (level info or debug)\n"
        "  --max-body-total BYTES request bodies buffered at once over all connections;\n"
        "                         a body that does not fit gets 503 (default 536870912)\n"
        "  --timeout SEC          default function timeout, 504 after it (default 30;\n"
        "                         per function: label com.funk.timeout or envVars exec_timeout)\n"
        "  --idle-timeout SEC     warm instances idle longer end (scale to zero; default 60;\n"
        "                         per function: label com.funk.idle_timeout)\n"
        "  --read-timeout SEC     close HTTP connections silent for SEC (default 30)\n"
        "  --head-timeout SEC     a request head (line and headers) must be complete SEC after\n"
        "                         the connection opened or the last response ended, however\n"
        "                         slowly it trickles in (default 10)\n"
        "  --body-timeout SEC     a request body must be complete SEC after its head, however\n"
        "                         slowly it trickles in (default 60)\n"
        "  --max-connections N    open HTTP connections in all (default 1000)\n"
        "  --max-connections-per-ip N  open HTTP connections per client address (default\n"
        "                         100, 0: no limit)\n"
        "  --isolation MODE       kvm, process or auto (default: kvm with hardware\n"
        "                         virtualization, else process; label com.funk.isolation)\n"
        "  --preboot N            per-request functions: guests booted ahead to their first\n"
        "                         FN_RECV, each serving one call (default 2, 0: boot per call;\n"
        "                         label com.funk.preboot)\n"
        "  --pool N               pre-created VM shells per memory size (default 4)\n"
        "  --async-workers N      threads running async jobs (default 2)\n"
        "  --callback-retries N   attempts to deliver an async result (default 8)\n"
        "  --accel MODE           how guests' ACCEL calls (<funk/accel.h>) are served, always\n"
        "                         by a sandboxed funk-accel-agent (plugins never run in funkd):\n"
        "                         private (default; 'inproc' is its old name): funkd's own\n"
        "                         agent child (FUNK_ACCEL_AGENT or beside funkd, plugins from\n"
        "                         FUNK_ACCEL_PLUGINS), started on first use, ended with funkd;\n"
        "                         agent:ADDR: the one at unix:///path, tcp://H:P or\n"
        "                         vsock://CID:PORT; none: ACCEL answers ENOSYS. One connection\n"
        "                         per instance, so not with snapshot mode\n"
        "  --role ROLE            gateway (default: clients such as faas-cli talk to funkd)\n"
        "                         or provider (funkd behind the OpenFaaS gateway): the shape\n"
        "                         of GET /system/info\n"
        "  --registry-auth FILE   registry credentials for image pulls (the auths JSON of\n"
        "                         funk registry-login / docker login)\n"
        "  --insecure-registry H  registry host[:port] reached without TLS checks, then over\n"
        "                         http (repeatable; loopback registries use http anyway)\n"
        "  --registry-max-blob SZ largest config or layer blob pulled (default 256M, at most\n"
        "                         512M; an image may total twice this)\n"
        "  --registry-timeout S   seconds one image pull may take in all (default 120)\n"
        "  --log-level LEVEL      error, warn, info (default) or debug\n"
        "  -h, --help             this text\n"
        "  --version              print \"funkd VERSION\" and exit\n"
        "Options take their value as --OPTION VALUE or --OPTION=VALUE.\n"
        "Exit status: 0 after SIGINT/SIGTERM, 1 start-up failed (state dir, VM pool, async\n"
        "workers), 64 usage error (bad option or value), 3 cannot listen on --listen (e.g.\n"
        "another process has it).\n"
        "Function labels: com.funk.mode=per-request|warm, com.funk.invoke=fn|console,\n"
        "com.funk.max_inflight=N (warm: 429 above it), com.openfaas.scale.min/max.\n");
}

static int bad(const char *opt, const char *val)
{
    fprintf(stderr, "funkd: %s: bad value '%s'\nTry 'funkd --help'.\n", opt, val);
    return GW_EXIT_USAGE;
}

/* A usage error naming what is wrong (one line), the hint, and EX_USAGE. */
static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "funkd: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'funkd --help'.\n");
    return GW_EXIT_USAGE;
}

static char *read_trimmed(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = buf;
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\n' || s[l - 1] == '\t' || s[l - 1] == '\r'))
        s[--l] = '\0';
    return strdup(s);
}

/* Every HTTP connection holds a file descriptor (and guests need theirs): take the hard limit
 * rather than a soft 1024, and say when --max-connections cannot be reached. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)gw_cfg.max_conns + 256)
        gw_warn("only %llu file descriptors (RLIMIT_NOFILE): fewer than --max-connections %u "
                "connections can be open",
                (unsigned long long)rl.rlim_cur, gw_cfg.max_conns);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo) || !(v <= hi))
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, 0, 'l'},
                                         {"state-dir", required_argument, 0, 's'},
                                         {"secrets-dir", required_argument, 0, 'S'},
                                         {"auth", no_argument, 0, 'a'},
                                         {"max-body", required_argument, 0, 'b'},
                                         {"max-body-total", required_argument, 0, 'B'},
                                         {"max-response", required_argument, 0, 0x100},
                                         {"log-output", no_argument, 0, 0x101},
                                         {"timeout", required_argument, 0, 't'},
                                         {"idle-timeout", required_argument, 0, 'i'},
                                         {"read-timeout", required_argument, 0, 'r'},
                                         {"head-timeout", required_argument, 0, 'H'},
                                         {"body-timeout", required_argument, 0, 0x1f0},
                                         {"max-connections", required_argument, 0, 'C'},
                                         {"max-connections-per-ip", required_argument, 0, 'c'},
                                         {"pool", required_argument, 0, 'p'},
                                         {"async-workers", required_argument, 0, 'w'},
                                         {"callback-retries", required_argument, 0, 'R'},
                                         {"log-level", required_argument, 0, 'L'},
                                         {"isolation", required_argument, 0, 'I'},
                                         {"preboot", required_argument, 0, 'P'},
                                         {"accel", required_argument, 0, 'A'},
                                         {"role", required_argument, 0, 0x102},
                                         {"registry-auth", required_argument, 0, 0x110},
                                         {"insecure-registry", required_argument, 0, 0x111},
                                         {"registry-max-blob", required_argument, 0, 0x112},
                                         {"registry-timeout", required_argument, 0, 0x113},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 0x120},
                                         {0, 0, 0, 0}};
    const char *state = getenv("FUNK_STATE_DIR");
    const char *secrets = NULL;
    static char host[256];
    int o;
    double v;
    opterr = 0; /* our own messages: one line naming the option, then the hint */
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case 'l': {
            const char *colon = strrchr(optarg, ':');
            char *end;
            long port = colon ? strtol(colon + 1, &end, 10) : -1;
            if (!colon || colon == optarg || (size_t)(colon - optarg) >= sizeof host || *end ||
                port < 0 || port > 65535 || !colon[1])
                return bad("--listen", optarg);
            memcpy(host, optarg, (size_t)(colon - optarg));
            host[colon - optarg] = '\0';
            gw_cfg.listen_host = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
            gw_cfg.listen_port = (unsigned)port;
            break;
        }
        case 's':
            state = optarg;
            break;
        case 'S':
            secrets = optarg;
            break;
        case 'a':
            gw_cfg.auth = 1;
            break;
        case 'b':
            if (parse_num(optarg, 1, 1u << 30, &v))
                return bad("--max-body", optarg);
            gw_cfg.max_body = (size_t)v;
            break;
        case 0x100:
            if (parse_num(optarg, 1, 1ull << 40, &v))
                return bad("--max-response", optarg);
            gw_cfg.max_response = (size_t)v;
            break;
        case 0x101:
            gw_cfg.log_output = 1;
            break;
        case 'B':
            if (parse_num(optarg, 1, 1ull << 40, &v))
                return bad("--max-body-total", optarg);
            gw_cfg.max_body_total = (size_t)v;
            break;
        case 't':
            if (parse_num(optarg, 0.001, 3600, &gw_cfg.timeout))
                return bad("--timeout", optarg);
            break;
        case 'i':
            if (parse_num(optarg, 0.001, 86400, &gw_cfg.idle_timeout))
                return bad("--idle-timeout", optarg);
            break;
        case 'r':
            if (parse_num(optarg, 1, 3600, &gw_cfg.read_timeout))
                return bad("--read-timeout", optarg);
            break;
        case 'H':
            if (parse_num(optarg, 1, 3600, &gw_cfg.head_timeout))
                return bad("--head-timeout", optarg);
            break;
        case 0x1f0:
            if (parse_num(optarg, 1, 3600, &gw_cfg.body_timeout))
                return bad("--body-timeout", optarg);
            break;
        case 'C':
            if (parse_num(optarg, 1, 1000000, &v) || v != (unsigned)v)
                return bad("--max-connections", optarg);
            gw_cfg.max_conns = (unsigned)v;
            break;
        case 'c':
            if (parse_num(optarg, 0, 1000000, &v) || v != (unsigned)v)
                return bad("--max-connections-per-ip", optarg);
            gw_cfg.max_conns_per_ip = (unsigned)v;
            break;
        case 'p':
            if (parse_num(optarg, 0, 64, &v))
                return bad("--pool", optarg);
            gw_cfg.pool_size = (unsigned)v;
            break;
        case 'w':
            if (parse_num(optarg, 1, 64, &v))
                return bad("--async-workers", optarg);
            gw_cfg.async_workers = (unsigned)v;
            break;
        case 'R':
            if (parse_num(optarg, 1, 100, &v))
                return bad("--callback-retries", optarg);
            gw_cfg.callback_retries = (unsigned)v;
            break;
        case 'L':
            if (strcmp(optarg, "error") == 0)
                gw_log_level = GW_LOG_ERROR;
            else if (strcmp(optarg, "warn") == 0)
                gw_log_level = GW_LOG_WARN;
            else if (strcmp(optarg, "info") == 0)
                gw_log_level = GW_LOG_INFO;
            else if (strcmp(optarg, "debug") == 0)
                gw_log_level = GW_LOG_DEBUG;
            else
                return bad("--log-level", optarg);
            break;
        case 'P':
            if (parse_num(optarg, 0, 64, &v))
                return bad("--preboot", optarg);
            gw_cfg.preboot = (unsigned)v;
            break;
        case 'I':
            if ((gw_cfg.isolation = funk_vm_isolation_parse(optarg)) < 0)
                return bad("--isolation", optarg);
            break;
        case 'A':
            if (funk_vm_accel_set(optarg) != 0)
                return bad("--accel", optarg);
            gw_cfg.accel = optarg;
            break;
        case 0x102:
            if (strcmp(optarg, "gateway") == 0)
                gw_cfg.provider = 0;
            else if (strcmp(optarg, "provider") == 0)
                gw_cfg.provider = 1;
            else
                return bad("--role", optarg);
            break;
        case 0x110:
            gw_cfg.registry_auth = optarg;
            break;
        case 0x111: {
            /* repeatable: the hosts add up */
            static char insecure[4096];
            size_t l = strlen(insecure);
            if (!*optarg || l + strlen(optarg) + 2 > sizeof insecure)
                return bad("--insecure-registry", optarg);
            snprintf(insecure + l, sizeof insecure - l, "%s%s", l ? "," : "", optarg);
            gw_cfg.insecure_registries = insecure;
            break;
        }
        case 0x112:
            if (!(gw_cfg.registry_max_blob = gw_parse_mem(optarg)) ||
                gw_cfg.registry_max_blob > (512u << 20))
                return bad("--registry-max-blob", optarg);
            break;
        case 0x113:
            if (parse_num(optarg, 1, 3600, &gw_cfg.registry_timeout))
                return bad("--registry-timeout", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 0x120:
            printf("funkd %s\n", FUNK_VERSION);
            return 0;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            /* glibc sets optopt to a known long option's value when it got "=VALUE" it takes
             * none */
            if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0 &&
                strchr(argv[optind - 1], '='))
                return usage_error("option '%s' takes no value", argv[optind - 1]);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    gw_cfg.state_dir = state && *state ? state : "funk-state";
    static char secdir[4096];
    if (!secrets) {
        snprintf(secdir, sizeof secdir, "%s/secrets", gw_cfg.state_dir);
        secrets = secdir;
    }
    gw_cfg.secrets_dir = secrets;
    if (gw_cfg.auth) {
        gw_cfg.auth_user = read_trimmed(secrets, "basic-auth-user");
        gw_cfg.auth_pass = read_trimmed(secrets, "basic-auth-password");
        if (!gw_cfg.auth_user || !gw_cfg.auth_pass || !*gw_cfg.auth_user || !*gw_cfg.auth_pass) {
            fprintf(stderr,
                    "funkd: --auth needs non-empty files basic-auth-user and "
                    "basic-auth-password in %s\n",
                    secrets);
            return GW_EXIT_USAGE;
        }
    }
    struct in_addr ia;
    if (inet_pton(AF_INET, gw_cfg.listen_host, &ia) != 1) {
        fprintf(stderr, "funkd: --listen: '%s' is not an IPv4 address\n", gw_cfg.listen_host);
        return GW_EXIT_USAGE;
    }
    raise_fd_limit();
    /* the address first: a busy port ends start-up before the state is opened or guests boot */
    if (gw_http_bind() != 0)
        return GW_EXIT_LISTEN;

    /* SIGINT/SIGTERM go to sigwait below; every other thread inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (funk_vm_accel_set(gw_cfg.accel) != 0)
        return bad("--accel", gw_cfg.accel);
    if (gw_store_open(gw_cfg.state_dir) != 0)
        return GW_EXIT_FAIL;
    gw_image_cache_clean();
    if (gw_pool_init() != 0) {
        gw_err("cannot start the VM pool");
        return GW_EXIT_FAIL;
    }
    int n = gw_fn_load_all();
    if (n > 0)
        gw_info("restored %d function(s) from %s", n, gw_cfg.state_dir);
    if (gw_http_start() != 0)
        return GW_EXIT_FAIL;
    if (gw_queue_start() != 0) {
        gw_err("cannot start the async workers");
        return GW_EXIT_FAIL;
    }
    gw_info("listening on http://%s:%u (state %s, auth %s, accel %s)", gw_cfg.listen_host,
            gw_cfg.listen_port, gw_cfg.state_dir, gw_cfg.auth ? "on" : "off", gw_cfg.accel);
    int sig = 0;
    sigwait(&set, &sig);
    gw_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gw_stopping = 1;
    gw_logs_shutdown();
    gw_instances_shutdown(3.0);
    gw_queue_stop();
    gw_http_stop();
    gw_pool_stop();
    gw_store_close();
    return 0;
}
