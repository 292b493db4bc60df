/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel-agent content cache: blobs stored once by SHA-256. Who may name a blob is decided
 * per connection (conn.c): only a client that sent its bytes. */
#include "agent.h"
#include "sha256.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A variant: the blob with one resource type and attribute set (attributes freeze at the first
 * registration, so differing attributes need their own resource). Plugins keep what they derive
 * (a loaded network) in the resource, so reusing variants across connections keeps it warm. */
struct cache_var {
    struct cache_blob *blob;
    uint32_t type;
    char *attrs; /* "k\0v\0k\0v\0" */
    size_t attrs_len;
    funk_accel_resource *res;
    unsigned users;
    struct cache_var *next;
};

struct cache_blob {
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    funk_accel_resource *base; /* type as first put; owns the bytes */
    uint32_t type;
    size_t len;
    unsigned users; /* registrations through any variant */
    uint64_t last_use;
    struct cache_var *vars;
    struct cache_blob *next;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_blob *blobs;
static uint64_t cache_bytes, cache_entries, cache_clock;

static struct cache_blob *find(const uint8_t hash[FUNK_ACCEL_HASH_SIZE])
{
    for (struct cache_blob *b = blobs; b; b = b->next)
        if (!memcmp(b->hash, hash, FUNK_ACCEL_HASH_SIZE))
            return b;
    return NULL;
}

static void blob_free(struct cache_blob *b)
{
    for (struct cache_var *v = b->vars, *n; v; v = n) {
        n = v->next;
        funk_accel_resource_release(v->res);
        free(v->attrs);
        free(v);
    }
    funk_accel_resource_release(b->base);
    free(b);
}

/* Drops unused blobs, least recently used first, until need more bytes fit. Locked. */
static void evict_for(size_t need)
{
    while (cache_bytes + need > agent_limits.cache_max) {
        struct cache_blob **victim = NULL;
        for (struct cache_blob **pb = &blobs; *pb; pb = &(*pb)->next)
            if ((*pb)->users == 0 && (victim == NULL || (*pb)->last_use < (*victim)->last_use))
                victim = pb;
        if (victim == NULL)
            return;
        struct cache_blob *b = *victim;
        *victim = b->next;
        cache_bytes -= b->len;
        cache_entries--;
        agent_info("cache: evicted %zu bytes", b->len);
        blob_free(b);
    }
}

bool cache_have(const uint8_t hash[FUNK_ACCEL_HASH_SIZE])
{
    pthread_mutex_lock(&cache_lock);
    struct cache_blob *b = find(hash);
    if (b)
        b->last_use = ++cache_clock;
    pthread_mutex_unlock(&cache_lock);
    return b != NULL;
}

int cache_put(uint32_t type, const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const void *data, size_t len)
{
    if (len > agent_limits.cache_max)
        return -ENOSPC;
    /* The bytes are always checked, also when the blob is cached already: a put is the client's
     * proof that it holds the content, and it is what lets it name the hash afterwards. Hashing
     * and copying happen outside the lock: models can be large. */
    uint8_t got[FUNK_ACCEL_HASH_SIZE];
    accel_sha256_digest(data, len, got);
    if (memcmp(got, hash, sizeof(got)) != 0)
        return -EBADMSG;
    if (cache_have(hash))
        return 0;
    funk_accel_resource *r;
    int rc = funk_accel_resource_new_buffer(&r, (funk_accel_resource_type)type, data, len);
    if (rc < 0)
        return rc;
    struct cache_blob *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        funk_accel_resource_release(r);
        return -ENOMEM;
    }
    memcpy(b->hash, hash, FUNK_ACCEL_HASH_SIZE);
    b->base = r;
    b->type = type;
    b->len = len;
    pthread_mutex_lock(&cache_lock);
    if (find(hash) != NULL) { /* another connection won the race */
        pthread_mutex_unlock(&cache_lock);
        blob_free(b);
        return 0;
    }
    evict_for(len);
    if (cache_bytes + len > agent_limits.cache_max) {
        pthread_mutex_unlock(&cache_lock);
        blob_free(b);
        return -ENOSPC;
    }
    b->last_use = ++cache_clock;
    b->next = blobs;
    blobs = b;
    cache_bytes += len;
    cache_entries++;
    pthread_mutex_unlock(&cache_lock);
    agent_debug("cache: stored %zu bytes", len);
    return 0;
}

/* Serialises validated attributes as "k\0v\0..." for comparison. */
static char *attrs_key(const struct fkp_list *attrs, size_t *len)
{
    struct fkp_iter it;
    const char *k, *v;
    size_t n = 0;
    fkp_iter_init(&it, attrs);
    while (fkp_next_attr(&it, &k, &v))
        n += strlen(k) + strlen(v) + 2;
    char *s = malloc(n ? n : 1);
    if (s == NULL)
        return NULL;
    size_t at = 0;
    fkp_iter_init(&it, attrs);
    while (fkp_next_attr(&it, &k, &v)) {
        size_t a = strlen(k) + 1, b = strlen(v) + 1;
        memcpy(s + at, k, a);
        memcpy(s + at + a, v, b);
        at += a + b;
    }
    *len = n;
    return s;
}

static int var_new(struct cache_blob *b, uint32_t type, const struct fkp_list *attrs, char *key,
                   size_t key_len, struct cache_var **out)
{
    funk_accel_resource *r = NULL;
    int rc;
    if (attrs->n == 0 && type == b->type) {
        r = b->base;
        rc = funk_accel_resource_ref(r);
    } else {
        const void *data;
        size_t len;
        funk_accel_resource_data(b->base, &data, &len);
        rc = funk_accel_resource_new_buffer(&r, (funk_accel_resource_type)type, data, len);
        struct fkp_iter it;
        const char *k, *v;
        fkp_iter_init(&it, attrs);
        while (rc == 0 && fkp_next_attr(&it, &k, &v))
            rc = funk_accel_resource_set_attr(r, k, v);
        if (rc < 0 && r != NULL)
            funk_accel_resource_release(r);
    }
    if (rc < 0)
        return rc;
    struct cache_var *cv = calloc(1, sizeof(*cv));
    if (cv == NULL) {
        funk_accel_resource_release(r);
        return -ENOMEM;
    }
    cv->blob = b;
    cv->type = type;
    cv->attrs = key;
    cv->attrs_len = key_len;
    cv->res = r;
    cv->next = b->vars;
    b->vars = cv;
    *out = cv;
    return 0;
}

int cache_get(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], uint32_t type, const struct fkp_list *attrs,
              struct cache_var **out, funk_accel_resource **res)
{
    size_t key_len = 0;
    char *key = attrs_key(attrs, &key_len);
    if (key == NULL)
        return -ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&cache_lock);
    struct cache_blob *b = find(hash);
    struct cache_var *v = NULL;
    if (b == NULL) {
        rc = -ENOENT;
        goto out;
    }
    for (v = b->vars; v; v = v->next)
        if (v->type == type && v->attrs_len == key_len && !memcmp(v->attrs, key, key_len))
            break;
    if (v == NULL) {
        rc = var_new(b, type, attrs, key, key_len, &v);
        if (rc < 0)
            goto out;
        key = NULL; /* owned by the variant */
    }
    v->users++;
    b->users++;
    b->last_use = ++cache_clock;
    *out = v;
    *res = v->res;
out:
    pthread_mutex_unlock(&cache_lock);
    free(key);
    return rc;
}

void cache_release(struct cache_var *v)
{
    pthread_mutex_lock(&cache_lock);
    v->users--;
    v->blob->users--;
    pthread_mutex_unlock(&cache_lock);
}

void cache_stats(uint64_t *entries, uint64_t *bytes)
{
    pthread_mutex_lock(&cache_lock);
    *entries = cache_entries;
    *bytes = cache_bytes;
    pthread_mutex_unlock(&cache_lock);
}

void cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    while (blobs) {
        struct cache_blob *b = blobs;
        blobs = b->next;
        blob_free(b);
    }
    cache_bytes = cache_entries = 0;
    pthread_mutex_unlock(&cache_lock);
}
