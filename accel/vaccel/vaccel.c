/* SPDX-License-Identifier: Apache-2.0 */
/* libvaccel over funk: configuration from vAccel's environment, sessions and resources backed by
 * funk handles, and every vAccel operation mapped onto a funk_accel_* call. */
#include "internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG "vaccel"

/* ---- logging --------------------------------------------------------------------------------- */

EXPORT void vaccel_funk_log(vaccel_log_level_t level, const char *fmt, ...)
{
    static const funk_accel_log_level map[] = {FUNK_LOG_ERROR, FUNK_LOG_ERROR, FUNK_LOG_WARN,
                                               FUNK_LOG_INFO, FUNK_LOG_DEBUG};
    funk_accel_log_level l = (unsigned)level < VACCEL_LOG_MAX ? map[level] : FUNK_LOG_DEBUG;
    if (fmt == NULL || !funk_accel_log_enabled(l))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    funk_accel_log(l, "app", "%s", line);
}

EXPORT int vaccel_log_init(void)
{
    return VACCEL_OK;
}

EXPORT int vaccel_log_shutdown(void)
{
    return VACCEL_OK;
}

/* ---- configuration ------------------------------------------------------------------------- */

static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;
static bool booted;
static struct vaccel_config cfg;
static atomic_bool profiling;
static atomic_llong next_id = 1;

bool vaccel_funk_profiling(void)
{
    return atomic_load_explicit(&profiling, memory_order_relaxed);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

EXPORT int vaccel_config_init(struct vaccel_config *config, const char *plugins,
                              vaccel_log_level_t log_level, const char *log_file,
                              bool profiling_enabled, bool version_ignore)
{
    if (config == NULL || log_level < VACCEL_LOG_ERROR || log_level >= VACCEL_LOG_MAX)
        return VACCEL_EINVAL;
    *config = (struct vaccel_config){dup_or_null(plugins), log_level, dup_or_null(log_file),
                                     profiling_enabled, version_ignore};
    if ((plugins && !config->plugins) || (log_file && !config->log_file)) {
        vaccel_config_release(config);
        return VACCEL_ENOMEM;
    }
    return VACCEL_OK;
}

static const char *env2(const char *name, const char *old)
{
    const char *v = getenv(name);
    return v ? v : getenv(old);
}

EXPORT int vaccel_config_init_from_env(struct vaccel_config *config)
{
    const char *lvl = env2("VACCEL_LOG_LEVEL", "VACCEL_DEBUG_LEVEL");
    long l = lvl ? strtol(lvl, NULL, 10) : VACCEL_LOG_ERROR;
    if (l < VACCEL_LOG_ERROR || l >= VACCEL_LOG_MAX)
        l = VACCEL_LOG_ERROR;
    const char *prof = getenv("VACCEL_PROFILING_ENABLED");
    const char *vign = env2("VACCEL_VERSION_IGNORE", "VACCEL_IGNORE_VERSION");
    return vaccel_config_init(config, env2("VACCEL_PLUGINS", "VACCEL_BACKENDS"),
                              (vaccel_log_level_t)l, getenv("VACCEL_LOG_FILE"),
                              prof && strtol(prof, NULL, 10) > 0,
                              vign && strtol(vign, NULL, 10) > 0);
}

EXPORT int vaccel_config_release(struct vaccel_config *config)
{
    if (config == NULL)
        return VACCEL_EINVAL;
    free(config->plugins);
    free(config->log_file);
    *config = (struct vaccel_config){0};
    return VACCEL_OK;
}

/* One vAccel plugin entry -> funk plugin names appended to out (":"-separated). Returns 0, or
 * VACCEL_ENOENT for a vAccel backend funk has no counterpart of (logged, skipped). */
static int map_plugin(const char *entry, char *out, size_t cap)
{
    const char *base = strrchr(entry, '/');
    base = base ? base + 1 : entry;
    char name[128];
    size_t len = strlen(base);
    if (len >= sizeof(name))
        return VACCEL_ENAMETOOLONG;
    memcpy(name, base, len + 1);
    if (len > 3 && strcmp(name + len - 3, ".so") == 0)
        name[len - 3] = '\0';
    const char *n = name;
    if (strncmp(n, "libvaccel-", 10) == 0)
        n += 10;
    const char *funk;
    if (strncmp(base, "libfunk-accel-", 14) == 0)
        funk = entry; /* a funk plugin by path: as is */
    else if (strcmp(n, "noop") == 0)
        funk = "noop:exec"; /* vAccel's noop also answers exec; funk's exec plugin does it */
    else if (strcmp(n, "exec") == 0)
        funk = "exec";
    else if (strcmp(n, "rpc") == 0 || strcmp(n, "vsock") == 0 || strcmp(n, "virtio") == 0)
        funk = "rpc";
    else if (strcmp(n, "cpu") == 0 || strcmp(n, "opencl") == 0 || strcmp(n, "cuda") == 0 ||
             strcmp(n, "torch") == 0)
        funk = n;
    else if (strcmp(n, "jetson") == 0 || strcmp(n, "mbench") == 0)
        funk = "cpu"; /* vAccel's image plugin: funk's cpu plugin serves classify/detect */
    else {
        funk_accel_log(FUNK_LOG_WARN, LOG, "VACCEL_PLUGINS: no funk plugin for '%s', skipped",
                       entry);
        return VACCEL_ENOENT;
    }
    size_t used = strlen(out);
    int w = snprintf(out + used, cap - used, "%s%s", used ? ":" : "", funk);
    return (w < 0 || (size_t)w >= cap - used) ? VACCEL_ENAMETOOLONG : VACCEL_OK;
}

static int boot_locked(const struct vaccel_config *c)
{
    static const char *const levels[] = {"error", "error", "warn", "info", "debug"};
    /* FUNK_ACCEL_LOG_LEVEL, when set, wins: it is the more specific knob */
    if (c->log_level >= VACCEL_LOG_ERROR && c->log_level < VACCEL_LOG_MAX)
        setenv("FUNK_ACCEL_LOG_LEVEL", levels[c->log_level], 0);
    atomic_store(&profiling, c->profiling_enabled);
    int rc;
    if (c->plugins && *c->plugins) {
        char list[4096] = "";
        char *copy = strdup(c->plugins);
        if (copy == NULL)
            return VACCEL_ENOMEM;
        char *save = NULL;
        rc = VACCEL_OK;
        for (char *t = strtok_r(copy, ":", &save); t && rc != VACCEL_ENAMETOOLONG;
             t = strtok_r(NULL, ":", &save))
            rc = map_plugin(t, list, sizeof(list));
        free(copy);
        if (rc == VACCEL_ENAMETOOLONG)
            return rc;
        if (!*list)
            return VACCEL_ENOENT;
        rc = funk_accel_init(list);
    } else {
        rc = funk_accel_init(NULL);
    }
    if (rc == -EALREADY) /* the application set funk up itself */
        rc = 0;
    if (rc < 0) {
        funk_accel_log(FUNK_LOG_ERROR, LOG, "funk runtime: %s", funk_accel_strerror(rc));
        return vaccel_funk_err(rc);
    }
    return VACCEL_OK;
}

EXPORT int vaccel_bootstrap_with_config(struct vaccel_config *config)
{
    if (config == NULL)
        return VACCEL_EINVAL;
    pthread_mutex_lock(&boot_lock);
    int rc = VACCEL_OK;
    if (!booted) {
        rc = vaccel_config_init(&cfg, config->plugins, config->log_level, config->log_file,
                                config->profiling_enabled, config->version_ignore);
        if (rc == VACCEL_OK && (rc = boot_locked(&cfg)) != VACCEL_OK)
            vaccel_config_release(&cfg);
        __atomic_store_n(&booted, rc == VACCEL_OK, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&boot_lock);
    return rc;
}

EXPORT int vaccel_bootstrap(void)
{
    struct vaccel_config c;
    int rc = vaccel_config_init_from_env(&c);
    if (rc)
        return rc;
    rc = vaccel_bootstrap_with_config(&c);
    vaccel_config_release(&c);
    return rc;
}

static int ensure_booted(void)
{
    if (__atomic_load_n(&booted, __ATOMIC_ACQUIRE))
        return VACCEL_OK;
    return vaccel_bootstrap();
}

EXPORT int vaccel_cleanup(void)
{
    pthread_mutex_lock(&boot_lock);
    if (booted) {
        funk_accel_fini();
        vaccel_config_release(&cfg);
        __atomic_store_n(&booted, false, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&boot_lock);
    return VACCEL_OK;
}

EXPORT bool vaccel_is_initialized(void)
{
    return __atomic_load_n(&booted, __ATOMIC_ACQUIRE);
}

EXPORT const struct vaccel_config *vaccel_config(void)
{
    return vaccel_is_initialized() ? &cfg : NULL;
}

/* ---- resources ----------------------------------------------------------------------------- */

struct vres {
    funk_accel_resource **blobs; /* one funk resource per file (a directory: per entry) */
    size_t n;
    long sessions; /* registrations */
};

static pthread_mutex_t res_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vaccel_resource **live;
static size_t n_live, cap_live;

static funk_accel_resource_type funk_type(vaccel_resource_type_t t)
{
    return t == VACCEL_RESOURCE_LIB     ? FUNK_ACCEL_RES_LIBRARY
           : t == VACCEL_RESOURCE_MODEL ? FUNK_ACCEL_RES_MODEL
                                        : FUNK_ACCEL_RES_DATA;
}

static int track(struct vaccel_resource *res)
{
    pthread_mutex_lock(&res_lock);
    int rc = VACCEL_OK;
    if (n_live == cap_live) {
        size_t cap = cap_live ? cap_live * 2 : 16;
        struct vaccel_resource **n = realloc(live, cap * sizeof(*n));
        if (n == NULL)
            rc = VACCEL_ENOMEM;
        else {
            live = n;
            cap_live = cap;
        }
    }
    if (rc == VACCEL_OK)
        live[n_live++] = res;
    pthread_mutex_unlock(&res_lock);
    return rc;
}

static void untrack(struct vaccel_resource *res)
{
    pthread_mutex_lock(&res_lock);
    for (size_t i = 0; i < n_live; i++)
        if (live[i] == res) {
            live[i] = live[--n_live];
            break;
        }
    pthread_mutex_unlock(&res_lock);
}

EXPORT int vaccel_resource_get_by_id(struct vaccel_resource **res, vaccel_id_t id)
{
    if (res == NULL || id <= 0)
        return VACCEL_EINVAL;
    int rc = VACCEL_ENOENT;
    pthread_mutex_lock(&res_lock);
    for (size_t i = 0; i < n_live; i++)
        if (live[i]->id == id) {
            *res = live[i];
            rc = VACCEL_OK;
            break;
        }
    pthread_mutex_unlock(&res_lock);
    return rc;
}

static void res_free(struct vaccel_resource *res)
{
    struct vres *v = res->priv;
    if (v) {
        for (size_t i = 0; i < v->n; i++)
            funk_accel_resource_release(v->blobs[i]);
        free(v->blobs);
        free(v);
    }
    for (size_t i = 0; res->paths && i < res->nr_paths; i++)
        free(res->paths[i]);
    free(res->paths);
    *res = (struct vaccel_resource){0};
}

/* Fills res from the files at paths (each a regular file; a lone directory expands to its
 * regular files, sorted). */
static int res_from_files(struct vaccel_resource *res, const char **paths, size_t nr,
                          vaccel_resource_type_t type)
{
    if (res == NULL || paths == NULL || nr == 0 || (unsigned)type >= VACCEL_RESOURCE_MAX)
        return VACCEL_EINVAL;
    int rc = ensure_booted();
    if (rc)
        return rc;
    *res = (struct vaccel_resource){.remote_id = -1, .type = type};
    struct vres *v = calloc(1, sizeof(*v));
    struct dirent **ents = NULL;
    int n_ents = 0;
    char **files = NULL;
    size_t n_files = 0;
    res->priv = v;
    if (v == NULL)
        return VACCEL_ENOMEM;
    for (size_t i = 0; i < nr; i++)
        if (paths[i] == NULL)
            return res_free(res), VACCEL_EINVAL;
    bool any_url = false;
    for (size_t i = 0; i < nr; i++) {
        if (vaccel_url_is_http(paths[i])) {
            any_url = true;
        } else if (strstr(paths[i], "://")) {
            funk_accel_log(FUNK_LOG_ERROR, LOG, "resource %s: only http(s) URLs are supported",
                           paths[i]);
            return res_free(res), VACCEL_ENOTSUP;
        }
    }
    struct stat st;
    if (nr == 1 && !any_url && stat(paths[0], &st) == 0 && S_ISDIR(st.st_mode)) {
        res->path_type = VACCEL_PATH_LOCAL_DIR;
        n_ents = scandir(paths[0], &ents, NULL, alphasort);
        if (n_ents < 0)
            return res_free(res), VACCEL_EIO;
        files = calloc((size_t)n_ents + 1, sizeof(*files));
        if (files == NULL) {
            rc = VACCEL_ENOMEM;
            goto out;
        }
        for (int i = 0; i < n_ents; i++) {
            char *p;
            if (asprintf(&p, "%s/%s", paths[0], ents[i]->d_name) < 0) {
                rc = VACCEL_ENOMEM;
                goto out;
            }
            struct stat fst;
            if (lstat(p, &fst) == 0 && S_ISREG(fst.st_mode))
                files[n_files++] = p;
            else
                free(p);
        }
        if (n_files == 0) {
            rc = VACCEL_ENOENT;
            goto out;
        }
    } else {
        res->path_type = any_url ? VACCEL_PATH_REMOTE_FILE : VACCEL_PATH_LOCAL_FILE;
        files = calloc(nr, sizeof(*files));
        if (files == NULL) {
            rc = VACCEL_ENOMEM;
            goto out;
        }
        for (; n_files < nr; n_files++)
            if ((files[n_files] = strdup(paths[n_files])) == NULL) {
                rc = VACCEL_ENOMEM;
                goto out;
            }
    }
    v->blobs = calloc(n_files, sizeof(*v->blobs));
    if (v->blobs == NULL) {
        rc = VACCEL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_files; i++) {
        int frc;
        if (vaccel_url_is_http(files[i])) {
            void *data;
            size_t len;
            if ((rc = vaccel_url_fetch(files[i], &data, &len)) != VACCEL_OK)
                goto out;
            frc = funk_accel_resource_new_buffer(&v->blobs[i], funk_type(type), data, len);
            free(data);
        } else {
            frc = funk_accel_resource_new_file(&v->blobs[i], funk_type(type), files[i]);
        }
        if (frc < 0) {
            rc = vaccel_funk_err(frc);
            goto out;
        }
        v->n++;
    }
    res->paths = files;
    res->nr_paths = n_files;
    files = NULL;
    res->id = atomic_fetch_add(&next_id, 1);
    rc = track(res);
out:
    for (size_t i = 0; files && i < n_files; i++)
        free(files[i]);
    free(files);
    for (int i = 0; i < n_ents; i++)
        free(ents[i]);
    free(ents);
    if (rc)
        res_free(res);
    return rc;
}

EXPORT int vaccel_resource_init(struct vaccel_resource *res, const char *path,
                                vaccel_resource_type_t type)
{
    return res_from_files(res, &path, 1, type);
}

EXPORT int vaccel_resource_init_multi(struct vaccel_resource *res, const char **paths,
                                      size_t nr_paths, vaccel_resource_type_t type)
{
    return res_from_files(res, paths, nr_paths, type);
}

EXPORT int vaccel_resource_init_from_buf(struct vaccel_resource *res, const void *buf,
                                         size_t nr_bytes, vaccel_resource_type_t type,
                                         const char *filename, bool mem_only)
{
    (void)mem_only; /* funk always keeps buffer resources in memory */
    if (res == NULL || buf == NULL || nr_bytes == 0 || (unsigned)type >= VACCEL_RESOURCE_MAX)
        return VACCEL_EINVAL;
    int rc = ensure_booted();
    if (rc)
        return rc;
    *res = (struct vaccel_resource){
        .remote_id = -1, .type = type, .path_type = VACCEL_PATH_LOCAL_FILE};
    struct vres *v = calloc(1, sizeof(*v));
    res->priv = v;
    if (v == NULL || (v->blobs = calloc(1, sizeof(*v->blobs))) == NULL)
        return res_free(res), VACCEL_ENOMEM;
    int frc = funk_accel_resource_new_buffer(&v->blobs[0], funk_type(type), buf, nr_bytes);
    if (frc < 0)
        return res_free(res), vaccel_funk_err(frc);
    v->n = 1;
    if (filename) {
        res->paths = calloc(1, sizeof(*res->paths));
        if (res->paths == NULL || (res->paths[0] = strdup(filename)) == NULL)
            return res_free(res), VACCEL_ENOMEM;
        res->nr_paths = 1;
    }
    res->id = atomic_fetch_add(&next_id, 1);
    if ((rc = track(res)) != VACCEL_OK)
        res_free(res);
    return rc;
}

EXPORT int vaccel_resource_release(struct vaccel_resource *res)
{
    if (res == NULL || res->id <= 0 || res->priv == NULL)
        return VACCEL_EINVAL;
    struct vres *v = res->priv;
    if (__atomic_load_n(&v->sessions, __ATOMIC_ACQUIRE) > 0)
        return VACCEL_EBUSY; /* still registered: unregister first (as vAccel) */
    untrack(res);
    res_free(res);
    return VACCEL_OK;
}

#define NEW_WRAPPER(call)                                                                          \
    if (res == NULL)                                                                               \
        return VACCEL_EINVAL;                                                                      \
    struct vaccel_resource *r = malloc(sizeof(*r));                                                \
    if (r == NULL)                                                                                 \
        return VACCEL_ENOMEM;                                                                      \
    int rc = call;                                                                                 \
    if (rc) {                                                                                      \
        free(r);                                                                                   \
        return rc;                                                                                 \
    }                                                                                              \
    *res = r;                                                                                      \
    return VACCEL_OK;

EXPORT int vaccel_resource_new(struct vaccel_resource **res, const char *path,
                               vaccel_resource_type_t type){
    NEW_WRAPPER(vaccel_resource_init(r, path, type))}

EXPORT int vaccel_resource_multi_new(struct vaccel_resource **res, const char **paths,
                                     size_t nr_paths, vaccel_resource_type_t type){
    NEW_WRAPPER(vaccel_resource_init_multi(r, paths, nr_paths, type))}

EXPORT
    int vaccel_resource_from_buf(struct vaccel_resource **res, const void *buf, size_t nr_bytes,
                                 vaccel_resource_type_t type, const char *filename, bool mem_only){
        NEW_WRAPPER(vaccel_resource_init_from_buf(r, buf, nr_bytes, type, filename, mem_only))}

EXPORT int vaccel_resource_delete(struct vaccel_resource *res)
{
    int rc = vaccel_resource_release(res);
    if (rc == VACCEL_OK)
        free(res);
    return rc;
}

EXPORT long int vaccel_resource_refcount(const struct vaccel_resource *res)
{
    if (res == NULL || res->priv == NULL)
        return -VACCEL_EINVAL;
    return __atomic_load_n(&((struct vres *)res->priv)->sessions, __ATOMIC_ACQUIRE);
}

/* ---- sessions ------------------------------------------------------------------------------- */

struct lib_hash {
    char *path;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
};

struct vsess {
    funk_accel_session *s;
    pthread_mutex_t lock;
    struct vaccel_resource **res; /* registered */
    size_t n_res, cap_res;
    funk_accel_resource *adapter; /* the exec adapter library, registered on first exec */
    struct lib_hash *libs;        /* vaccel_exec() library paths already hashed */
    size_t n_libs;
};

EXPORT int vaccel_session_init(struct vaccel_session *sess, uint32_t flags)
{
    if (sess == NULL)
        return VACCEL_EINVAL;
    int rc = ensure_booted();
    if (rc)
        return rc;
    struct vsess *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return VACCEL_ENOMEM;
    int frc = funk_accel_session_new(&v->s);
    if (frc < 0) {
        free(v);
        return vaccel_funk_err(frc);
    }
    pthread_mutex_init(&v->lock, NULL);
    funk_accel_plugin_info info[16];
    int np = funk_accel_plugins(info, 16);
    bool remote = false;
    for (int i = 0; i < np && i < 16; i++)
        remote |= strcmp(info[i].name, "rpc") == 0;
    *sess = (struct vaccel_session){.id = atomic_fetch_add(&next_id, 1),
                                    .remote_id = -1,
                                    .hint = flags,
                                    .is_virtio = remote,
                                    .priv = v};
    return VACCEL_OK;
}

EXPORT int vaccel_session_release(struct vaccel_session *sess)
{
    if (sess == NULL || sess->priv == NULL || sess->id <= 0)
        return VACCEL_EINVAL;
    struct vsess *v = sess->priv;
    for (size_t i = 0; i < v->n_res; i++) /* registrations the application left behind */
        __atomic_sub_fetch(&((struct vres *)v->res[i]->priv)->sessions, 1, __ATOMIC_RELEASE);
    funk_accel_session_delete(v->s); /* drops funk's registrations too */
    if (v->adapter)
        funk_accel_resource_release(v->adapter);
    for (size_t i = 0; i < v->n_libs; i++)
        free(v->libs[i].path);
    free(v->libs);
    free(v->res);
    pthread_mutex_destroy(&v->lock);
    free(v);
    *sess = (struct vaccel_session){0};
    return VACCEL_OK;
}

EXPORT int vaccel_session_new(struct vaccel_session **sess, uint32_t flags)
{
    if (sess == NULL)
        return VACCEL_EINVAL;
    struct vaccel_session *s = malloc(sizeof(*s));
    if (s == NULL)
        return VACCEL_ENOMEM;
    int rc = vaccel_session_init(s, flags);
    if (rc) {
        free(s);
        return rc;
    }
    *sess = s;
    return VACCEL_OK;
}

EXPORT int vaccel_session_delete(struct vaccel_session *sess)
{
    int rc = vaccel_session_release(sess);
    if (rc == VACCEL_OK)
        free(sess);
    return rc;
}

EXPORT int vaccel_session_update(struct vaccel_session *sess, uint32_t flags)
{
    if (sess == NULL || sess->priv == NULL)
        return VACCEL_EINVAL;
    sess->hint = flags;
    return VACCEL_OK;
}

static ssize_t reg_index(struct vsess *v, const struct vaccel_resource *res)
{
    for (size_t i = 0; i < v->n_res; i++)
        if (v->res[i] == res)
            return (ssize_t)i;
    return -1;
}

EXPORT bool vaccel_session_has_resource(struct vaccel_session *sess, struct vaccel_resource *res)
{
    if (sess == NULL || sess->priv == NULL || res == NULL)
        return false;
    struct vsess *v = sess->priv;
    pthread_mutex_lock(&v->lock);
    bool has = reg_index(v, res) >= 0;
    pthread_mutex_unlock(&v->lock);
    return has;
}

EXPORT int vaccel_sess_init(struct vaccel_session *sess, uint32_t flags)
{
    return vaccel_session_init(sess, flags);
}
EXPORT int vaccel_sess_free(struct vaccel_session *sess)
{
    return vaccel_session_release(sess);
}
EXPORT int vaccel_sess_update(struct vaccel_session *sess, uint32_t flags)
{
    return vaccel_session_update(sess, flags);
}
EXPORT bool vaccel_sess_has_resource(struct vaccel_session *sess, struct vaccel_resource *res)
{
    return vaccel_session_has_resource(sess, res);
}

EXPORT int vaccel_resource_register(struct vaccel_resource *res, struct vaccel_session *sess)
{
    if (res == NULL || res->priv == NULL || sess == NULL || sess->priv == NULL)
        return VACCEL_EINVAL;
    struct vsess *v = sess->priv;
    struct vres *r = res->priv;
    int rc = VACCEL_OK;
    pthread_mutex_lock(&v->lock);
    if (reg_index(v, res) >= 0) {
        rc = VACCEL_EEXIST;
        goto out;
    }
    if (v->n_res == v->cap_res) {
        size_t cap = v->cap_res ? v->cap_res * 2 : 8;
        struct vaccel_resource **n = realloc(v->res, cap * sizeof(*n));
        if (n == NULL) {
            rc = VACCEL_ENOMEM;
            goto out;
        }
        v->res = n;
        v->cap_res = cap;
    }
    for (size_t i = 0; i < r->n; i++) {
        int frc = funk_accel_session_register(v->s, r->blobs[i]);
        if (frc < 0) {
            while (i-- > 0)
                funk_accel_session_unregister(v->s, r->blobs[i]);
            rc = vaccel_funk_err(frc);
            goto out;
        }
    }
    v->res[v->n_res++] = res;
    __atomic_add_fetch(&r->sessions, 1, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&v->lock);
    return rc;
}

EXPORT int vaccel_resource_unregister(struct vaccel_resource *res, struct vaccel_session *sess)
{
    if (res == NULL || res->priv == NULL || sess == NULL || sess->priv == NULL)
        return VACCEL_EINVAL;
    struct vsess *v = sess->priv;
    struct vres *r = res->priv;
    pthread_mutex_lock(&v->lock);
    ssize_t i = reg_index(v, res);
    if (i >= 0) {
        for (size_t b = 0; b < r->n; b++)
            funk_accel_session_unregister(v->s, r->blobs[b]);
        v->res[i] = v->res[--v->n_res];
        __atomic_sub_fetch(&r->sessions, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&v->lock);
    return i >= 0 ? VACCEL_OK : VACCEL_EPERM;
}

EXPORT int vaccel_resource_sync(struct vaccel_resource *res, struct vaccel_session *sess)
{
    /* funk resources are immutable content: nothing on the far side can change them */
    return vaccel_session_has_resource(sess, res) ? VACCEL_OK : VACCEL_EPERM;
}

static struct vsess *vs_of(struct vaccel_session *sess)
{
    return sess && sess->id > 0 ? sess->priv : NULL;
}

/* The first funk blob of the first resource of this type registered to the session, or NULL. */
static funk_accel_resource *first_of_type(struct vsess *v, vaccel_resource_type_t type)
{
    funk_accel_resource *r = NULL;
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < v->n_res && r == NULL; i++)
        if (v->res[i]->type == type && ((struct vres *)v->res[i]->priv)->n)
            r = ((struct vres *)v->res[i]->priv)->blobs[0];
    pthread_mutex_unlock(&v->lock);
    return r;
}

int vaccel_funk_model(struct vaccel_session *sess, struct vaccel_resource *model,
                      funk_accel_session **s, funk_accel_resource **m)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || model == NULL || model->priv == NULL || model->type != VACCEL_RESOURCE_MODEL)
        return VACCEL_EINVAL;
    pthread_mutex_lock(&v->lock);
    bool has = reg_index(v, model) >= 0;
    pthread_mutex_unlock(&v->lock);
    struct vres *r = model->priv;
    if (!has)
        return VACCEL_EPERM;
    if (r->n != 1) /* a directory or several files: which one is the model is not ours to guess */
        return VACCEL_EINVAL;
    *s = v->s;
    *m = r->blobs[0];
    return VACCEL_OK;
}

/* ---- operations ----------------------------------------------------------------------------- */

EXPORT int vaccel_noop(struct vaccel_session *sess)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL)
        return VACCEL_EINVAL;
    return vaccel_funk_err(funk_accel_noop(v->s));
}

EXPORT int vaccel_sgemm(struct vaccel_session *sess, int64_t m, int64_t n, int64_t k, float alpha,
                        float *a, int64_t lda, float *b, int64_t ldb, float beta, float *c,
                        int64_t ldc)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || m <= 0 || n <= 0 || k <= 0 || m > INT_MAX || n > INT_MAX || k > INT_MAX ||
        lda <= 0 || lda > INT_MAX || ldb <= 0 || ldb > INT_MAX || ldc <= 0 || ldc > INT_MAX)
        return VACCEL_EINVAL;
    return vaccel_funk_err(funk_accel_sgemm(v->s, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                                            (int)ldb, beta, c, (int)ldc));
}

#define CLASSIFY_TOP 5

EXPORT int vaccel_image_classification(struct vaccel_session *sess, const void *img,
                                       unsigned char *out_text, unsigned char *out_imgname,
                                       size_t len_img, size_t len_out_text, size_t len_out_imgname)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || img == NULL || len_img == 0)
        return VACCEL_EINVAL;
    funk_accel_label top[CLASSIFY_TOP];
    int n = funk_accel_image_classify(v->s, first_of_type(v, VACCEL_RESOURCE_MODEL), img, len_img,
                                      top, CLASSIFY_TOP);
    if (n < 0)
        return vaccel_funk_err(n);
    /* out_text: "label score, label score, ..." best first; out_imgname: the best label */
    if (out_text && len_out_text) {
        size_t used = 0;
        out_text[0] = '\0';
        for (int i = 0; i < n && used < len_out_text; i++) {
            int w = snprintf((char *)out_text + used, len_out_text - used, "%s%s %.3f",
                             i ? ", " : "", top[i].label, (double)top[i].score);
            if (w < 0)
                break;
            used += (size_t)w;
        }
    }
    if (out_imgname && len_out_imgname)
        snprintf((char *)out_imgname, len_out_imgname, "%s", n > 0 ? top[0].label : "");
    return VACCEL_OK;
}

#define DETECT_MAX 32

EXPORT int vaccel_image_detection(struct vaccel_session *sess, const void *img,
                                  unsigned char *out_imgname, size_t len_img,
                                  size_t len_out_imgname)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || img == NULL || len_img == 0)
        return VACCEL_EINVAL;
    funk_accel_detection d[DETECT_MAX];
    int n = funk_accel_image_detect(v->s, first_of_type(v, VACCEL_RESOURCE_MODEL), img, len_img, 0,
                                    d, DETECT_MAX);
    if (n < 0)
        return vaccel_funk_err(n);
    /* vAccel's plugins write a picture with boxes and name it here; funk returns the boxes:
     * "label score x y w h; ..." (fractions of the image, top-left origin) */
    if (out_imgname && len_out_imgname) {
        size_t used = 0;
        out_imgname[0] = '\0';
        for (int i = 0; i < n && used < len_out_imgname; i++) {
            int w = snprintf((char *)out_imgname + used, len_out_imgname - used,
                             "%s%s %.3f %.3f %.3f %.3f %.3f", i ? "; " : "", d[i].label.label,
                             (double)d[i].label.score, (double)d[i].x, (double)d[i].y,
                             (double)d[i].w, (double)d[i].h);
            if (w < 0)
                break;
            used += (size_t)w;
        }
    }
    return VACCEL_OK;
}

static int no_backend(struct vaccel_session *sess, const char *what)
{
    if (vs_of(sess) == NULL)
        return VACCEL_EINVAL;
    funk_accel_log(FUNK_LOG_INFO, LOG, "%s: no funk plugin offers it", what);
    return VACCEL_ENOTSUP;
}

/* vAccel's plugins write a picture and name it in out_imgname; funk answers with the result
 * itself. Segmentation: "person COVER% box X Y W H" (the mask's share of pixels at >= 50%
 * person, and the box around them, fractions of the image), or "person 0%" when none. */
#define SEG_GRID 256

EXPORT int vaccel_image_segmentation(struct vaccel_session *sess, const void *img,
                                     unsigned char *out_imgname, size_t len_img,
                                     size_t len_out_imgname)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || img == NULL || len_img == 0)
        return VACCEL_EINVAL;
    uint8_t *mask = malloc((size_t)SEG_GRID * SEG_GRID);
    if (mask == NULL)
        return VACCEL_ENOMEM;
    uint32_t w = SEG_GRID, h = SEG_GRID;
    int rc =
        funk_accel_image_segment(v->s, img, len_img, mask, (size_t)SEG_GRID * SEG_GRID, &w, &h);
    if (rc < 0) {
        free(mask);
        return vaccel_funk_err(rc);
    }
    size_t on = 0;
    uint32_t x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            if (mask[(size_t)y * w + x] >= 128) {
                on++;
                x0 = x < x0 ? x : x0;
                y0 = y < y0 ? y : y0;
                x1 = x > x1 ? x : x1;
                y1 = y > y1 ? y : y1;
            }
    free(mask);
    if (out_imgname && len_out_imgname) {
        if (on == 0)
            snprintf((char *)out_imgname, len_out_imgname, "person 0%%");
        else
            snprintf((char *)out_imgname, len_out_imgname,
                     "person %.1f%% box %.3f %.3f %.3f %.3f", 100.0 * (double)on / ((double)w * h),
                     (double)x0 / w, (double)y0 / h, (double)(x1 + 1 - x0) / w,
                     (double)(y1 + 1 - y0) / h);
    }
    return VACCEL_OK;
}

/* Pose: "name x y score; ..." for the 17 COCO keypoints (fractions of the image). */
EXPORT int vaccel_image_pose(struct vaccel_session *sess, const void *img,
                             unsigned char *out_imgname, size_t len_img, size_t len_out_imgname)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || img == NULL || len_img == 0)
        return VACCEL_EINVAL;
    funk_accel_keypoint k[FUNK_ACCEL_POSE_KEYPOINTS];
    int n = funk_accel_image_pose(v->s, img, len_img, k, FUNK_ACCEL_POSE_KEYPOINTS);
    if (n < 0)
        return vaccel_funk_err(n);
    if (out_imgname && len_out_imgname) {
        size_t used = 0;
        out_imgname[0] = '\0';
        for (int i = 0; i < n && used < len_out_imgname; i++) {
            int wr = snprintf((char *)out_imgname + used, len_out_imgname - used,
                              "%s%s %.3f %.3f %.2f", i ? "; " : "", k[i].name, (double)k[i].x,
                              (double)k[i].y, (double)k[i].score);
            if (wr < 0)
                break;
            used += (size_t)wr;
        }
    }
    return VACCEL_OK;
}

/* Depth: no funk plugin has a depth model. */
EXPORT int vaccel_image_depth(struct vaccel_session *sess, const void *img,
                              unsigned char *out_imgname, size_t len_img, size_t len_out_imgname)
{
    (void)img, (void)out_imgname, (void)len_img, (void)len_out_imgname;
    return no_backend(sess, "image depth");
}

/* ---- exec ----------------------------------------------------------------------------------- */

static int exists(const char *p)
{
    return access(p, R_OK) == 0;
}

/* Where the adapter is: FUNK_ACCEL_EXEC_DIR, else the exec dir beside this library
 * (<libdir>/funk/exec), else this library's own directory (the build tree). */
static int adapter_path(char *out, size_t cap)
{
    const char *env = getenv("FUNK_ACCEL_EXEC_DIR");
    if (env && *env) {
        int w = snprintf(out, cap, "%s/%s", env, VACCEL_FUNK_EXEC_LIB);
        return (w > 0 && (size_t)w < cap && exists(out)) ? 0 : VACCEL_ENOENT;
    }
    Dl_info di;
    if (dladdr((void *)vaccel_noop, &di) == 0 || di.dli_fname == NULL)
        return VACCEL_ENOENT;
    char self[PATH_MAX];
    int w = snprintf(self, sizeof(self), "%s", di.dli_fname);
    if (w < 0 || (size_t)w >= sizeof(self))
        return VACCEL_ENAMETOOLONG;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(self, sizeof(self), ".");
    w = snprintf(out, cap, "%s/funk/exec/%s", self, VACCEL_FUNK_EXEC_LIB);
    if (w > 0 && (size_t)w < cap && exists(out))
        return 0;
    w = snprintf(out, cap, "%s/%s", self, VACCEL_FUNK_EXEC_LIB);
    return (w > 0 && (size_t)w < cap && exists(out)) ? 0 : VACCEL_ENOENT;
}

/* Registers the adapter with the session once. Caller holds v->lock. */
static int adapter_locked(struct vsess *v)
{
    if (v->adapter)
        return VACCEL_OK;
    char p[PATH_MAX];
    int rc = adapter_path(p, sizeof(p));
    if (rc) {
        funk_accel_log(FUNK_LOG_ERROR, LOG,
                       "exec: %s not found (FUNK_ACCEL_EXEC_DIR or "
                       "<libdir>/funk/exec)",
                       VACCEL_FUNK_EXEC_LIB);
        return rc;
    }
    funk_accel_resource *r;
    int frc = funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_LIBRARY, p);
    if (frc < 0)
        return vaccel_funk_err(frc);
    frc = funk_accel_session_register(v->s, r);
    if (frc < 0) {
        funk_accel_resource_release(r);
        return vaccel_funk_err(frc);
    }
    v->adapter = r;
    return VACCEL_OK;
}

static int exec_hashed(struct vsess *v, const uint8_t hash[FUNK_ACCEL_HASH_SIZE],
                       const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
                       struct vaccel_arg *write, size_t nr_write)
{
    if (fn_symbol == NULL || (nr_read && read == NULL) || (nr_write && write == NULL) ||
        nr_read > UINT32_MAX - VACCEL_FUNK_EXEC_FIXED_IN || nr_write > UINT32_MAX ||
        nr_read + nr_write > (SIZE_MAX - 8) / 8)
        return VACCEL_EINVAL;
    pthread_mutex_lock(&v->lock);
    int rc = adapter_locked(v);
    funk_accel_resource *adapter = v->adapter;
    pthread_mutex_unlock(&v->lock);
    if (rc)
        return rc;
    size_t n_in = VACCEL_FUNK_EXEC_FIXED_IN + nr_read;
    size_t hdr_len = 8 + 8 * (nr_read + nr_write);
    funk_accel_arg in_stack[16], out_stack[16];
    uint32_t hdr_stack[2 + 2 * 16];
    funk_accel_arg *in = n_in <= 16 ? in_stack : calloc(n_in, sizeof(*in));
    funk_accel_arg *out = nr_write <= 16 ? out_stack : calloc(nr_write, sizeof(*out));
    uint32_t *hdr = hdr_len <= sizeof(hdr_stack) ? hdr_stack : malloc(hdr_len);
    if (in == NULL || out == NULL || hdr == NULL) {
        rc = VACCEL_ENOMEM;
        goto out;
    }
    hdr[0] = (uint32_t)nr_read;
    hdr[1] = (uint32_t)nr_write;
    in[0] = FUNK_ACCEL_ARG_BYTES_OF(hash, FUNK_ACCEL_HASH_SIZE);
    in[1] = FUNK_ACCEL_ARG_STRING_OF(fn_symbol);
    in[2] = FUNK_ACCEL_ARG_BYTES_OF(hdr, hdr_len);
    for (size_t i = 0; i < nr_read; i++) {
        if (read[i].buf == NULL || read[i].size == 0) {
            rc = VACCEL_EINVAL; /* funk arguments carry at least one byte */
            goto out;
        }
        hdr[2 + 2 * i] = (uint32_t)read[i].type;
        hdr[3 + 2 * i] = read[i].custom_type_id;
        in[VACCEL_FUNK_EXEC_FIXED_IN + i] = FUNK_ACCEL_ARG_BYTES_OF(read[i].buf, read[i].size);
    }
    for (size_t i = 0; i < nr_write; i++) {
        if (write[i].buf == NULL || write[i].size == 0) {
            rc = VACCEL_EINVAL;
            goto out;
        }
        hdr[2 + 2 * (nr_read + i)] = (uint32_t)write[i].type;
        hdr[3 + 2 * (nr_read + i)] = write[i].custom_type_id;
        out[i] = FUNK_ACCEL_ARG_BYTES_OF(write[i].buf, write[i].size);
    }
    int frc = funk_accel_exec(v->s, adapter, VACCEL_FUNK_EXEC_SYMBOL, in, n_in, out, nr_write);
    rc = frc < 0 ? -frc : frc; /* the adapter returns vAccel codes negated */
out:
    if (in != in_stack)
        free(in);
    if (out != out_stack)
        free(out);
    if (hdr != hdr_stack)
        free(hdr);
    return rc;
}

EXPORT int vaccel_exec(struct vaccel_session *sess, const char *library, const char *fn_symbol,
                       struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
                       size_t nr_write)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || library == NULL)
        return VACCEL_EINVAL;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    bool found = false;
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < v->n_libs && !found; i++)
        if (strcmp(v->libs[i].path, library) == 0) {
            memcpy(hash, v->libs[i].hash, sizeof(hash));
            found = true;
        }
    pthread_mutex_unlock(&v->lock);
    if (!found) { /* hash the file once per session: the adapter finds the library by content */
        funk_accel_resource *r;
        int frc = funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_LIBRARY, library);
        if (frc < 0)
            return vaccel_funk_err(frc);
        funk_accel_resource_hash(r, hash);
        funk_accel_resource_release(r);
        char *p = strdup(library);
        pthread_mutex_lock(&v->lock);
        struct lib_hash *n = p ? realloc(v->libs, (v->n_libs + 1) * sizeof(*n)) : NULL;
        if (n) {
            v->libs = n;
            v->libs[v->n_libs].path = p;
            memcpy(v->libs[v->n_libs++].hash, hash, sizeof(hash));
        } else {
            free(p);
        }
        pthread_mutex_unlock(&v->lock);
    }
    return exec_hashed(v, hash, fn_symbol, read, nr_read, write, nr_write);
}

EXPORT int vaccel_exec_with_resource(struct vaccel_session *sess, struct vaccel_resource *resource,
                                     const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
                                     struct vaccel_arg *write, size_t nr_write)
{
    struct vsess *v = vs_of(sess);
    if (v == NULL || resource == NULL || resource->priv == NULL ||
        resource->type != VACCEL_RESOURCE_LIB)
        return VACCEL_EINVAL;
    if (!vaccel_session_has_resource(sess, resource))
        return VACCEL_EPERM;
    struct vres *r = resource->priv;
    if (r->n == 0)
        return VACCEL_EINVAL;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    int frc = funk_accel_resource_hash(r->blobs[0], hash);
    if (frc < 0)
        return vaccel_funk_err(frc);
    return exec_hashed(v, hash, fn_symbol, read, nr_read, write, nr_write);
}

/* ---- utils/fs.h ------------------------------------------------------------------------------ */

EXPORT int fs_file_read(const char *path, void **data, size_t *size)
{
    if (path == NULL || data == NULL || size == NULL)
        return VACCEL_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    int rc = VACCEL_OK;
    char *buf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        rc = VACCEL_EINVAL;
        goto out;
    }
    size_t len = (size_t)st.st_size;
    if ((buf = malloc(len)) == NULL) {
        rc = VACCEL_ENOMEM;
        goto out;
    }
    for (size_t got = 0; got < len;) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r <= 0) {
            rc = VACCEL_EIO;
            goto out;
        }
        got += (size_t)r;
    }
    *data = buf;
    *size = len;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}
