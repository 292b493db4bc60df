/* SPDX-License-Identifier: Apache-2.0 */
/* funkd internals shared by its parts: config, functions, invocations, store, queue, metrics. */
#ifndef FUNK_GW_H
#define FUNK_GW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define GW_DEFAULT_NS "openfaas-fn"
#define GW_NAME_MAX 128
#define GW_RESP_HEADERS_MAX (64u << 10) /* bytes of a function's response headers */
#define GW_LOG_LINE_MAX 1024 /* bytes of function output per log line (longer lines are split) */

/* ---- logging ------------------------------------------------------------------------------ */
enum gw_log_level { GW_LOG_ERROR = 0, GW_LOG_WARN = 1, GW_LOG_INFO = 2, GW_LOG_DEBUG = 3 };
extern int gw_log_level;
void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define gw_err(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define gw_warn(...) gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_info(...) gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_dbg(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)
/* Copies len bytes of in to out (cap bytes, NUL-terminated) with every control byte escaped:
 * \\, \n, \r, \t, \e (ESC), \xHH for other C0 bytes, DEL, C1 controls (U+0080..U+009F) and
 * each byte of invalid UTF-8; valid UTF-8 text passes as is. Stops before an escape or character
 * that does not fit. Returns the length written. */
size_t gw_escape(const char *in, size_t len, char *out, size_t cap);
/* A line of function output (already escaped) on funkd's stderr, tagged "fn NAME[INSTANCE]:"
 * (with --log-output, at level info or more). */
void gw_log_output(const char *fn, const char *instance, const char *text);

double gw_now(void);  /* monotonic seconds */
double gw_wall(void); /* Unix seconds */
void gw_rfc3339(double unix_s, char out[40]);
void gw_uuid(char out[37]);
/* "64M", "64Mi", "1G", "2097152" -> bytes; 0 on a bad value. */
uint64_t gw_parse_mem(const char *s);
/* "1.5", "2s", "500ms", "1m" -> seconds; -1 on a bad value. */
double gw_parse_secs(const char *s);

/* ---- configuration ------------------------------------------------------------------------ */
struct gw_config {
    const char *listen_host;
    unsigned listen_port;
    const char *state_dir;
    const char *secrets_dir;
    int auth;
    char *auth_user, *auth_pass;
    size_t max_body;     /* bytes; larger requests get 413 */
    size_t max_response; /* bytes of a function's response body; larger ones get 502 */
    int log_output;      /* also write function output lines to stderr (tagged, escaped) */
    double timeout;      /* default function exec timeout, seconds */
    double read_timeout; /* idle HTTP connection timeout, seconds */
    double head_timeout; /* a request head must be complete this long after the connection opened
                            or the previous response ended; trickling does not extend it */
    double body_timeout; /* a request body must be complete this long after its head */
    unsigned max_conns;  /* open HTTP connections in all */
    /* open HTTP connections per client address (0: no limit) */
    unsigned max_conns_per_ip;
    /* bytes of request bodies buffered at once, over all connections; then 503 */
    size_t max_body_total;
    double idle_timeout; /* default warm-instance idle timeout, seconds */
    int isolation;       /* enum funk_isolation requested for functions (AUTO by default) */
    unsigned pool_size;
    unsigned preboot;
    /* per-request functions: guests kept booted ahead (0: boot per call) */ /* pre-created VM
                                                                                shells per
                                                                                memory size */
    unsigned async_workers;
    unsigned callback_retries;
    double callback_backoff; /* first retry delay, doubled each time */
    const char *accel;       /* ACCEL for guests: "private" (default), "agent:ADDR" or "none" */
    int provider; /* --role provider: behind the OpenFaaS gateway (faas-provider's /system/info) */
    /* images from registries (gateway/oci.c) */
    const char *registry_auth;       /* auths JSON file (funk registry-login's format) or NULL */
    const char *insecure_registries; /* comma-separated hosts: no TLS checks, http fallback */
    uint64_t registry_max_blob;      /* bytes of one pulled blob (and of one image: 2x) */
    double registry_timeout;         /* seconds one image pull may take, all requests */
};
extern struct gw_config gw_cfg;

/* ---- functions ---------------------------------------------------------------------------- */
enum gw_mode { GW_MODE_PER_REQUEST = 0, GW_MODE_WARM = 1, GW_MODE_SNAPSHOT = 2 };

struct gw_req;
struct gw_inst;
struct gw_snap;

struct gw_function {
    char name[GW_NAME_MAX];
    char ns[GW_NAME_MAX];
    char key[2 * GW_NAME_MAX + 2]; /* name.ns */
    json_t *spec;                  /* the stored FunctionDeployment */
    char created_at[40];
    void *elf;
    size_t elf_len;
    int console;     /* plain Solo5 guest or com.funk.invoke=console: body as cmdline */
    int funk_guest;  /* has the funk note (environment, FN_RECV/FN_SEND) */
    /* com.funk.io=stdio: an unmodified static Linux program under the monitor's system-call
     * personality (process backend): the body on stdin, stdout the answer, stderr the log,
     * exit 0 -> 200 else 500, the request in Http_* variables (OpenFaaS classic watchdog) */
    int stdio;
    char **argv; /* stdio and linux_fn: the program's argv, from envProcess (fprocess) */
    /* a static Linux program with the funk note (funk-cc --linux, on musl): its function I/O is
     * FN_RECV/FN_SEND through the monitor's Linux personality (process backend) */
    int linux_fn;
    char *exec_path; /* com.funk.invoke=exec: a native executable forked per call (CGI) */
    int isolation;   /* FUNK_ISOLATION_KVM or FUNK_ISOLATION_PROCESS */
    unsigned vm_flags;
    enum gw_mode mode;
    size_t mem_bytes;
    uint32_t cpu_millicores; /* limits.cpu: the guest's cgroup (process backend); 0 none */
    double timeout;
    double idle_timeout;
    int max_inflight; /* 0: no limit */
    int preboot;      /* per-request: guests booted ahead to their first FN_RECV, one call each */
    int no_preboot;   /* set when a guest ended before asking for a request (console-style) */
    /* set (under mu) once a call's guest asked for its request (FN_RECV): only then are guests
     * booted ahead, so no guest code runs before the first request (a console-style guest's
     * whole run is its side effects) */
    int serves;
    struct gw_snap *snap; /* snapshot mode: the guest at its first FN_RECV (guarded by mu) */
    int scale_min, scale_max;
    char **env;     /* envVars as KEY=VALUE (secrets are added per instance) */
    char **secrets; /* secret names */
    int refs;       /* guarded by the registry lock */
    int deleted;
    /* images from a registry or an upload: the digest deployed ("" for local images) */
    char image_digest[72];
    /* runtime, guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int replicas; /* desired replicas (scale-function) */
    int inflight;
    int ninst, nidle, nstarting;
    struct gw_req *qhead, *qtail; /* warm: requests waiting for an instance */
    struct gw_inst *insts;
    uint64_t invocations;
    uint64_t next_inst;
};

/* Registry: lookups take a reference; gw_fn_put drops it. */
int gw_fn_deploy(json_t *spec, int update, char *err, size_t errlen); /* 0, -ENOENT, -EINVAL */
int gw_fn_delete(const char *name, const char *ns);
struct gw_function *gw_fn_get(const char *name, const char *ns);
void gw_fn_put(struct gw_function *fn);
json_t *gw_fn_status(struct gw_function *fn);
json_t *gw_fn_list(const char *ns);
int gw_fn_count(void);
/* 0, -ENOENT, -EOPNOTSUPP (not a warm function: per-request and snapshot calls have no replicas) */
int gw_fn_scale(const char *name, const char *ns, int replicas);
int gw_fn_load_all(void);
void gw_fn_namespaces(json_t *arr);
/* Splits "name[.ns]" into parts; false if the name is invalid. */
int gw_split_name(const char *full, char name[GW_NAME_MAX], char ns[GW_NAME_MAX]);
int gw_valid_name(const char *s); /* the loose rule used for lookups and stored functions */
/* OpenFaaS's rules for what is created: function names and namespaces are DNS-1123 labels
 * (a-z, 0-9, '-', alphanumeric at both ends, at most 63), secret names DNS-1123 subdomains
 * (such labels joined by dots, shorter than GW_NAME_MAX here). */
int gw_valid_dns_label(const char *s);
int gw_valid_dns_subdomain(const char *s);

/* ---- invocation --------------------------------------------------------------------------- */
struct gw_call {
    /* request */
    const char *method, *path, *query;
    const char *headers; /* "Name: value\n" lines */
    size_t headers_len;
    const void *body;
    size_t body_len;
    uint64_t id;
    char call_id[64];
    /* response */
    unsigned status;
    char *resp_headers;
    size_t resp_headers_len;
    char *resp_body;
    size_t resp_body_len;
    char reason[300];
    double duration;
    double boot; /* seconds from load to first FN_RECV, 0 when unknown */
};
/* Runs one call of fn; always fills status (502/504/429/503 on failures). */
void gw_invoke(struct gw_function *fn, struct gw_call *c);
void gw_call_free(struct gw_call *c);
void gw_exec_invoke(struct gw_function *fn, struct gw_call *c);
int gw_pool_init(void);
void gw_pool_stop(void);
void gw_instances_shutdown(double grace);
/* Snapshot mode: boots the guest to its first FN_RECV and keeps it as fn->snap. */
int gw_fn_snapshot(struct gw_function *fn, char *err, size_t errlen);
void gw_snap_release(struct gw_snap *s);
void gw_fn_stop_instances(struct gw_function *fn, int keep);
void gw_fn_ensure_instances(struct gw_function *fn);
int gw_pool_ready(void);
void gw_fn_instances(struct gw_function *fn, int *idle, int *busy);
void gw_instances_count(int *idle, int *busy); /* over all functions */
void gw_fn_ref(struct gw_function *fn);

/* ---- store (SQLite) ----------------------------------------------------------------------- */
int gw_store_open(const char *dir);
void gw_store_close(void);
int gw_store_fn_put(const char *name, const char *ns, const char *spec, const char *created);
int gw_store_fn_del(const char *name, const char *ns);
int gw_store_fn_scale(const char *name, const char *ns, int replicas);
typedef void (*gw_store_fn_cb)(const char *spec, const char *created, int replicas, void *opaque);
int gw_store_fn_each(gw_store_fn_cb cb, void *opaque);
/* secrets: 0, -EEXIST (create), -ENOENT (update/delete) */
int gw_secret_set(const char *name, const char *ns, const void *val, size_t len, int create);
int gw_secret_del(const char *name, const char *ns);
char *gw_secret_get(const char *name, const char *ns); /* malloc'd, NUL-terminated, or NULL */
json_t *gw_secret_list(const char *ns);
/* Bumped on every secret change: instances booted with older values are replaced. */
extern int gw_secrets_gen;

/* ---- async queue -------------------------------------------------------------------------- */
struct gw_job {
    int64_t id;
    char call_id[64];
    char fn[2 * GW_NAME_MAX + 2];
    char *method, *path, *query, *headers, *callback;
    void *body;
    size_t body_len;
};
int gw_queue_put(const struct gw_job *j); /* durable when it returns 0 */
int gw_queue_start(void);
void gw_queue_kick(void);
void gw_queue_stop(void);
int gw_queue_pending(void);
/* Claims the oldest due job: 1 with *j filled (and *state 0 "to run" or 2 "to deliver", then
 * *res holds the stored result), 0 when none is due, negative errno. */
int gw_store_job_claim(double now, struct gw_job *j, int *state, struct gw_call *res);
int gw_store_job_result(int64_t id, const struct gw_call *c);
/* delivered: delete; else retry at retry_at (> 0) or give up (0). */
int gw_store_job_finish(int64_t id, int delivered, double retry_at);
int gw_store_job_attempts(int64_t id);
void gw_job_free(struct gw_job *j);

/* ---- metrics and logs --------------------------------------------------------------------- */
void gw_metrics_started(const char *fn);
void gw_metrics_done(const char *fn, unsigned code, double seconds);
void gw_metrics_boot(double seconds);
char *gw_metrics_render(size_t *len);

void gw_logs_add(const char *fn, const char *instance, const char *text, size_t len);
/* Streams log lines of fn to a response; see logs.c. */
struct MHD_Response;
struct MHD_Response *gw_logs_response(const char *fn, const char *instance, long tail, int follow,
                                      double since);
void gw_logs_shutdown(void);

/* ---- ELF --------------------------------------------------------------------------------- */
/* 1: the image carries the funk note (its flags in *flags), 0: plain Solo5 guest, negative
 * errno: not an ELF. */
int gw_elf_is_funk(const void *elf, size_t len, unsigned *flags);
/* What a non-funk ELF is: 1 a Solo5 guest (ABI1 note), 0 a static Linux program, -EBADMSG a
 * dynamically linked one (PT_INTERP) or a malformed header. */
int gw_elf_kind(const void *elf, size_t len);

/* Reads the unikernel (and its org.funk.unikernel.memory, malloc'd or NULL) from an OCI image
 * layout directory; 0 or a negative errno with err set. */
int gw_oci_load(const char *dir, void **elf, size_t *elf_len, char **memory, char *err,
                size_t errlen);

/* An image from a registry reference (pulled, verified, cached by digest under
 * <state>/images) or "sha256:HEX" (an image already in that cache, e.g. uploaded): its layout
 * directory into dir (PATH_MAX) and the digest deployed. 0 or a negative errno with err. */
int gw_image_fetch(const char *image, char *dir, char digest[72], char *err, size_t errlen);
/* Removes what pulls cut short left in the image cache (STATE_DIR/images/tmp-*); called at
 * start-up, before any pull can run. */
void gw_image_cache_clean(void);
/* Stores an uploaded oci-archive (checked) in the image cache; digest gets its manifest's. */
int gw_image_import(const void *tar, size_t len, char digest[72], char *err, size_t errlen);

extern volatile int gw_stopping;

/* Binds and listens on --listen before anything else starts: 0 or a negative errno (logged with
 * the address); main exits with GW_EXIT_LISTEN on failure. */
int gw_http_bind(void);
int gw_http_start(void);
void gw_http_stop(void);

/* funkd exit statuses (documented in docs/gateway.md) */
#define GW_EXIT_FAIL 1   /* start-up failed: state dir, VM pool, async workers */
#define GW_EXIT_USAGE 64 /* bad option or value (sysexits EX_USAGE, as every funk binary) */
#define GW_EXIT_LISTEN 3 /* cannot listen on --listen (address in use, not available) */

#endif /* FUNK_GW_H */
