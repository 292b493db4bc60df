/* SPDX-License-Identifier: Apache-2.0 */
/* funkd state in SQLite (WAL): functions, secrets and the async job queue survive a kill -9. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "gw.h"

static sqlite3 *db;
int gw_secrets_gen;
static pthread_mutex_t db_mu = PTHREAD_MUTEX_INITIALIZER;

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS functions(name TEXT NOT NULL, namespace TEXT NOT NULL,"
    " spec TEXT NOT NULL, created_at TEXT NOT NULL, replicas INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(name, namespace));"
    "CREATE TABLE IF NOT EXISTS secrets(name TEXT NOT NULL, namespace TEXT NOT NULL,"
    " value BLOB NOT NULL, PRIMARY KEY(name, namespace));"
    /* state: 0 to run, 1 running, 2 result to deliver, 3 delivering, 4 given up */
    "CREATE TABLE IF NOT EXISTS jobs(id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL,"
    " fn TEXT NOT NULL, method TEXT, path TEXT, query TEXT, headers TEXT, body BLOB,"
    " callback TEXT, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at REAL NOT NULL DEFAULT 0, status INTEGER, rheaders TEXT, rbody BLOB,"
    " duration REAL);"
    "CREATE INDEX IF NOT EXISTS jobs_due ON jobs(state, next_at);";

int gw_store_open(const char *dir)
{
    char path[4096];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        gw_err("state dir '%s': %s", dir, strerror(errno));
        return -errno;
    }
    snprintf(path, sizeof path, "%s/funkd.db", dir);
    if (sqlite3_open_v2(path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        gw_err("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        gw_err("cannot initialise %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        return -EIO;
    }
    /* jobs that were running when funkd died run again (at least once) */
    sqlite3_exec(db,
                 "UPDATE jobs SET state=0 WHERE state=1; UPDATE jobs SET state=2 WHERE state=3;",
                 NULL, NULL, NULL);
    return 0;
}

void gw_store_close(void)
{
    pthread_mutex_lock(&db_mu);
    if (db)
        sqlite3_close(db);
    db = NULL;
    pthread_mutex_unlock(&db_mu);
}

/* Prepares sql and binds text arguments in order (NULL binds NULL). Caller holds db_mu. */
static sqlite3_stmt *prep(const char *sql, int n, const char *const *args)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        gw_err("sqlite: %s: %s", sql, sqlite3_errmsg(db));
        return NULL;
    }
    for (int i = 0; i < n; i++)
        sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
    return st;
}

/* Runs a statement without results; returns changed rows or -EIO. */
static int exec_args(const char *sql, int n, const char *const *args)
{
    pthread_mutex_lock(&db_mu);
    sqlite3_stmt *st = prep(sql, n, args);
    int rc = -EIO;
    if (st) {
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = sqlite3_changes(db);
        else
            gw_err("sqlite: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db_mu);
    return rc;
}

int gw_store_fn_put(const char *name, const char *ns, const char *spec, const char *created)
{
    const char *a[] = {name, ns, spec, created};
    int rc = exec_args("INSERT INTO functions(name,namespace,spec,created_at) VALUES(?,?,?,?)"
                       " ON CONFLICT(name,namespace) DO UPDATE SET spec=excluded.spec",
                       4, a);
    return rc < 0 ? rc : 0;
}

int gw_store_fn_del(const char *name, const char *ns)
{
    const char *a[] = {name, ns};
    int rc = exec_args("DELETE FROM functions WHERE name=? AND namespace=?", 2, a);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int gw_store_fn_scale(const char *name, const char *ns, int replicas)
{
    char r[16];
    snprintf(r, sizeof r, "%d", replicas);
    const char *a[] = {r, name, ns};
    int rc = exec_args(
        "UPDATE functions SET replicas=CAST(? AS INTEGER) WHERE name=? AND namespace=?", 3, a);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int gw_store_fn_each(gw_store_fn_cb cb, void *opaque)
{
    pthread_mutex_lock(&db_mu);
    sqlite3_stmt *st =
        prep("SELECT spec, created_at, replicas FROM functions ORDER BY name", 0, NULL);
    if (!st) {
        pthread_mutex_unlock(&db_mu);
        return -EIO;
    }
    /* copy out first: the callback may call back into the store */
    struct row {
        char *spec, *created;
        int replicas;
    } *rows = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct row *nr = realloc(rows, cap * sizeof *rows);
            if (!nr)
                break;
            rows = nr;
        }
        rows[n].spec = strdup((const char *)sqlite3_column_text(st, 0));
        rows[n].created = strdup((const char *)sqlite3_column_text(st, 1));
        rows[n].replicas = sqlite3_column_int(st, 2);
        n++;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_mu);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].spec && rows[i].created)
            cb(rows[i].spec, rows[i].created, rows[i].replicas, opaque);
        free(rows[i].spec);
        free(rows[i].created);
    }
    free(rows);
    return 0;
}

int gw_secret_set(const char *name, const char *ns, const void *val, size_t len, int create)
{
    pthread_mutex_lock(&db_mu);
    const char *a[] = {name, ns};
    sqlite3_stmt *st = prep(create ? "INSERT INTO secrets(name,namespace,value) VALUES(?,?,?)"
                                   : "UPDATE secrets SET value=?3 WHERE name=?1 AND namespace=?2",
                            2, a);
    int rc = -EIO;
    if (st) {
        sqlite3_bind_blob(st, 3, val, (int)len, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE)
            rc = sqlite3_changes(db) ? 0 : -ENOENT;
        if (rc == 0)
            __atomic_add_fetch(&gw_secrets_gen, 1, __ATOMIC_SEQ_CST);
        else if (s == SQLITE_CONSTRAINT)
            rc = -EEXIST;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db_mu);
    return rc;
}

int gw_secret_del(const char *name, const char *ns)
{
    const char *a[] = {name, ns};
    int rc = exec_args("DELETE FROM secrets WHERE name=? AND namespace=?", 2, a);
    if (rc > 0)
        __atomic_add_fetch(&gw_secrets_gen, 1, __ATOMIC_SEQ_CST);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

char *gw_secret_get(const char *name, const char *ns)
{
    pthread_mutex_lock(&db_mu);
    const char *a[] = {name, ns};
    sqlite3_stmt *st = prep("SELECT value FROM secrets WHERE name=? AND namespace=?", 2, a);
    char *v = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        v = malloc((size_t)n + 1);
        if (v) {
            if (n)
                memcpy(v, sqlite3_column_blob(st, 0), (size_t)n);
            v[n] = '\0';
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_mu);
    return v;
}

json_t *gw_secret_list(const char *ns)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&db_mu);
    sqlite3_stmt *st =
        prep("SELECT name, namespace FROM secrets WHERE namespace=? ORDER BY name", 1, &ns);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:s,s:s}", "name", sqlite3_column_text(st, 0),
                                             "namespace", sqlite3_column_text(st, 1)));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_mu);
    return arr;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

int gw_queue_put(const struct gw_job *j)
{
    pthread_mutex_lock(&db_mu);
    const char *a[] = {j->call_id, j->fn, j->method, j->path, j->query, j->headers};
    sqlite3_stmt *st = prep("INSERT INTO jobs(call_id,fn,method,path,query,headers,body,callback)"
                            " VALUES(?,?,?,?,?,?,?,?)",
                            6, a);
    int rc = -EIO;
    if (st) {
        sqlite3_bind_blob(st, 7, j->body_len ? j->body : "", (int)j->body_len, SQLITE_TRANSIENT);
        if (j->callback)
            sqlite3_bind_text(st, 8, j->callback, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = 0;
        else
            gw_err("sqlite: enqueue: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db_mu);
    return rc;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

int gw_store_job_claim(double now, struct gw_job *j, int *state, struct gw_call *res)
{
    pthread_mutex_lock(&db_mu);
    sqlite3_stmt *st = prep("SELECT id, call_id, fn, method, path, query, headers, body, callback,"
                            " state, status, rheaders, rbody, duration FROM jobs"
                            " WHERE state IN (0,2) AND next_at<=? ORDER BY id LIMIT 1",
                            0, NULL);
    int rc = 0;
    if (!st) {
        pthread_mutex_unlock(&db_mu);
        return -EIO;
    }
    sqlite3_bind_double(st, 1, now);
    if (sqlite3_step(st) == SQLITE_ROW) {
        memset(j, 0, sizeof *j);
        j->id = sqlite3_column_int64(st, 0);
        snprintf(j->call_id, sizeof j->call_id, "%s", sqlite3_column_text(st, 1));
        snprintf(j->fn, sizeof j->fn, "%s", sqlite3_column_text(st, 2));
        j->method = col_dup(st, 3);
        j->path = col_dup(st, 4);
        j->query = col_dup(st, 5);
        j->headers = col_dup(st, 6);
        j->body_len = (size_t)sqlite3_column_bytes(st, 7);
        j->body = malloc(j->body_len + 1);
        if (j->body && j->body_len)
            memcpy(j->body, sqlite3_column_blob(st, 7), j->body_len);
        j->callback = col_dup(st, 8);
        *state = sqlite3_column_int(st, 9);
        if (*state == 2) {
            res->status = (unsigned)sqlite3_column_int(st, 10);
            res->resp_headers = col_dup(st, 11);
            res->resp_headers_len = res->resp_headers ? strlen(res->resp_headers) : 0;
            res->resp_body_len = (size_t)sqlite3_column_bytes(st, 12);
            res->resp_body = malloc(res->resp_body_len + 1);
            if (res->resp_body && res->resp_body_len)
                memcpy(res->resp_body, sqlite3_column_blob(st, 12), res->resp_body_len);
            res->duration = sqlite3_column_double(st, 13);
        }
        rc = 1;
    }
    sqlite3_finalize(st);
    if (rc == 1) {
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE jobs SET state=%d WHERE id=%lld", *state == 0 ? 1 : 3,
                 (long long)j->id);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&db_mu);
    return rc;
}

int gw_store_job_result(int64_t id, const struct gw_call *c)
{
    pthread_mutex_lock(&db_mu);
    sqlite3_stmt *st = prep("UPDATE jobs SET state=3, status=?, rheaders=?, rbody=?, duration=?"
                            " WHERE id=?",
                            0, NULL);
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int(st, 1, (int)c->status);
        sqlite3_bind_text(st, 2, c->resp_headers ? c->resp_headers : "", (int)c->resp_headers_len,
                          SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 3, c->resp_body ? c->resp_body : "", (int)c->resp_body_len,
                          SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 4, c->duration);
        sqlite3_bind_int64(st, 5, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db_mu);
    return rc;
}

int gw_store_job_finish(int64_t id, int delivered, double retry_at)
{
    char sql[160];
    if (delivered)
        snprintf(sql, sizeof sql, "DELETE FROM jobs WHERE id=%lld", (long long)id);
    else if (retry_at > 0)
        snprintf(sql, sizeof sql,
                 "UPDATE jobs SET state=2, attempts=attempts+1, next_at=%.6f WHERE id=%lld",
                 retry_at, (long long)id);
    else
        snprintf(sql, sizeof sql, "UPDATE jobs SET state=4, attempts=attempts+1 WHERE id=%lld",
                 (long long)id);
    pthread_mutex_lock(&db_mu);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
    pthread_mutex_unlock(&db_mu);
    return rc;
}

int gw_store_job_attempts(int64_t id)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT attempts FROM jobs WHERE id=%lld", (long long)id);
    pthread_mutex_lock(&db_mu);
    sqlite3_stmt *st = prep(sql, 0, NULL);
    int n = 0;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_mu);
    return n;
}

int gw_queue_pending(void)
{
    pthread_mutex_lock(&db_mu);
    sqlite3_stmt *st = prep("SELECT count(*) FROM jobs WHERE state<4", 0, NULL);
    int n = 0;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_mu);
    return n;
}
