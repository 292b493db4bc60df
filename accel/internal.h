/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-accel internals shared by the runtime's files: handles, sessions, resources, plugins. */
#ifndef FUNK_ACCEL_INTERNAL_H
#define FUNK_ACCEL_INTERNAL_H

#include <funk/accel.h>
#include <funk/accel_plugin.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define FUNK_API __attribute__((visibility("default")))
#define ACCEL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ACCEL_LOG "accel"

/* ---- Handles (handle.c) ---------------------------------------------------------------------
 * Public handles are not pointers: they encode (kind, generation, slot) so that a handle whose
 * object died can never be mistaken for a live one, even when the memory is reused. Each entry
 * holds the object's pins (table presence + users in flight) next to its generation, so that
 * lookup-and-pin is one compare-and-swap. */
enum accel_handle_kind { ACCEL_H_SESSION = 0x5e, ACCEL_H_RESOURCE = 0x7e };

#define ACCEL_HSEG0 64u
#define ACCEL_HNSEG 26u /* 64 * (2^26 - 1) slots: the 32-bit index, not a practical cap */

struct accel_hentry {
    _Atomic uint64_t st; /* generation << 32 | pins */
    void *_Atomic obj;
    uint32_t next_free; /* free list link (index + 1, 0 = end), under the table lock */
};

struct accel_htable {
    pthread_mutex_t lock; /* adding entries and the free list */
    struct accel_hentry *_Atomic seg[ACCEL_HNSEG];
    _Atomic uint32_t cap;
    unsigned nseg;
    uint32_t free_head; /* index + 1, 0 = none */
    uint8_t kind;
    void (*destroy)(void *obj); /* runs when the last pin of a removed entry goes */
};

#define ACCEL_HTABLE_INIT(k, d)                                                                    \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER, .kind = (k), .destroy = (d)                             \
    }

/* Adds obj live with one pin (the table's); returns its handle. */
int accel_htable_add(struct accel_htable *t, void *obj, uintptr_t *handle);
/* The live object named by handle, pinned (NULL: not live). Lock-free. */
void *accel_htable_acquire(const struct accel_htable *t, uintptr_t handle);
/* The live object at slot idx, pinned, with its handle; for walks up to accel_htable_cap(). */
void *accel_htable_acquire_at(const struct accel_htable *t, uint32_t idx, uintptr_t *handle);
uint32_t accel_htable_cap(const struct accel_htable *t);
/* Makes the handle dead (no new acquires); the table's pin passes to the caller, who puts it. */
void *accel_htable_remove(struct accel_htable *t, uintptr_t handle);
/* Drops one pin; the last one destroys the object and frees the slot. */
void accel_htable_put(struct accel_htable *t, uintptr_t handle);

/* ---- Plugins (plugin.c) ------------------------------------------------------------------- */
struct accel_plugin {
    funk_accel_plugin desc; /* copied from the shared object, zero-extended to our size */
    void *state;            /* from desc.init */
    void *dl;               /* dlopen handle */
    char *path;
    uint32_t index; /* stable for the plugin's life; indexes per-session state */
    bool available; /* false: init() said -ENODEV */
    uint32_t ops;   /* FUNK_ACCEL_OP_* bit mask */
};

/* An immutable snapshot of the loaded plugins, rebuilt on every load (copy on write) so that
 * dispatch reads it without locking. Old snapshots are kept until fini. */
struct accel_dtable {
    struct accel_dtable *prev;
    size_t n_plugins;
    struct accel_plugin **plugins; /* every loaded plugin, by priority */
    struct accel_plugin **by_op[FUNK_ACCEL_OP_COUNT];
    size_t n_by_op[FUNK_ACCEL_OP_COUNT];
};

extern _Atomic(struct accel_dtable *) accel_dt;
extern atomic_bool accel_profile_on;
int accel_init_lazy(struct accel_dtable **out);

/* The current table, initialising the runtime from the environment on first use. */
static inline struct accel_dtable *accel_table(int *rc)
{
    struct accel_dtable *dt = atomic_load_explicit(&accel_dt, memory_order_acquire);
    if (ACCEL_UNLIKELY(dt == NULL))
        *rc = accel_init_lazy(&dt);
    return dt;
}

void accel_plugins_unload_all(void);
extern pthread_mutex_t accel_plugin_lock;

/* What a plugin operation receives; slot_get/slot_set find the plugin through it. */
#define ACCEL_CALL_MAGIC 0x66756e6b63616c6cULL
struct accel_call {
    funk_accel_call pub;
    uint64_t magic;
    struct accel_plugin *plugin;
};

/* ---- Sessions (session.c) ----------------------------------------------------------------- */
struct accel_sstate_vec {
    struct accel_sstate_vec *prev;
    uint32_t n;
    struct {
        void *state;
        struct accel_plugin *plugin; /* non-NULL once opened */
    } v[];
};

struct accel_resource;

struct accel_session {
    uintptr_t handle; /* pins live in the handle table entry */
    pthread_mutex_t lock;
    _Atomic(struct accel_sstate_vec *) states;
    struct accel_resource **regs; /* registered resources */
    size_t n_regs, cap_regs;
};

struct accel_session *accel_session_acquire(funk_accel_session *h);
void accel_session_put(struct accel_session *s);
int accel_session_state_slow(struct accel_session *s, struct accel_plugin *p, void **state);
bool accel_session_has(struct accel_session *s, struct accel_resource *r);
void accel_sessions_delete_all(void);

static inline int accel_session_state(struct accel_session *s, struct accel_plugin *p, void **state)
{
    struct accel_sstate_vec *v = atomic_load_explicit(&s->states, memory_order_acquire);
    if (v != NULL && p->index < v->n && v->v[p->index].plugin == p) {
        *state = v->v[p->index].state;
        return 0;
    }
    return accel_session_state_slow(s, p, state);
}

/* ---- Resources (resource.c) --------------------------------------------------------------- */
struct accel_attr {
    char *key, *value;
};

struct accel_rslot {
    struct accel_plugin *plugin;
    void *value;
};

struct accel_resource {
    uintptr_t handle; /* pins live in the handle table entry */
    /* Guarded by res_lock (resource.c): */
    unsigned ext_refs; /* the caller's references (new/ref/release) */
    unsigned regs;     /* session registrations */
    bool sealed;       /* registered once: attributes are frozen */
    bool published;    /* its handle is live */

    funk_accel_resource_type type;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    void *data;
    size_t len;
    char *path; /* file resources: absolute path; buffers: memfd path once asked for */
    int memfd;
    int exec_fd;     /* LIBRARY: the allowlisted file with these bytes, once looked up */
    char *exec_path; /* /proc/self/fd/<exec_fd> */

    pthread_mutex_t lock; /* attributes, slots, memfd */
    struct accel_attr *attrs;
    size_t n_attrs;
    struct accel_rslot *slots;
    size_t n_slots;
};

struct accel_resource *accel_resource_acquire(const funk_accel_resource *h);
void accel_resource_put(struct accel_resource *r);
/* Registration bookkeeping for session.c. */
int accel_resource_reg_add(struct accel_resource *r);
void accel_resource_reg_drop(struct accel_resource *r);
/* Frees the slots of plugin p in every live resource (before p is unloaded). */
void accel_resources_drop_slots(struct accel_plugin *p);

/* ---- Tensors (tensor.c) --------------------------------------------------------------------- */
/* Element count of a shape, its bytes in *bytes; -EINVAL (unknown dtype, rank over the cap, a
 * dimension < 1) or -E2BIG (product overflows or passes FUNK_ACCEL_TENSOR_MAX_BYTES). */
int64_t accel_tensor_shape_bytes(uint32_t dtype, uint32_t rank, const int64_t *shape,
                                 uint64_t *bytes);
/* Checks a model run's tensors as funk_accel_model_run documents them. */
int accel_tensor_check(const funk_accel_tensor *in, size_t n_in, const funk_accel_tensor *out,
                       size_t n_out);
/* The generic operation FUNK_ACCEL_TENSOR_OP ("model_run"), decoded and run. */
int accel_tensor_op(funk_accel_session *h, const funk_accel_arg *in, size_t n_in,
                    funk_accel_arg *out, size_t n_out);
/* The handle of the MODEL resource with this hash registered to session h (-ENOENT: none). */
int accel_session_find_model(funk_accel_session *h, const uint8_t hash[FUNK_ACCEL_HASH_SIZE],
                             funk_accel_resource **model);

/* ---- The exec allowlist (exec_allow.c) ------------------------------------------------------ */
/* The operator's exec directory: FUNK_ACCEL_EXEC_DIR, else <dir of libfunk-accel>/funk/exec. */
int accel_exec_dir(char *buf, size_t len);
/* An fd of the allowlisted library whose bytes hash to hash (verified on that fd); -EPERM: none. */
int accel_exec_open(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], int *fd);
/* Logs why a library with these bytes is not loaded; `what` names where they came from. */
void accel_exec_refused(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const char *what);
void accel_exec_forget(void);
/* The directory holding libfunk-accel.so, plus "/funk" (plugin.c). */
int accel_self_plugin_dir(char *buf, size_t len);

/* ---- Logging (log.c) ------------------------------------------------------------------------ */
void accel_log_reload(void);
#define accel_err(...) funk_accel_log(FUNK_LOG_ERROR, ACCEL_LOG, __VA_ARGS__)
#define accel_warn(...) funk_accel_log(FUNK_LOG_WARN, ACCEL_LOG, __VA_ARGS__)
#define accel_info(...) funk_accel_log(FUNK_LOG_INFO, ACCEL_LOG, __VA_ARGS__)
#define accel_debug(...) funk_accel_log(FUNK_LOG_DEBUG, ACCEL_LOG, __VA_ARGS__)

/* ---- Profiling (dispatch.c) ----------------------------------------------------------------- */
void accel_profile_setup(void);

#endif /* FUNK_ACCEL_INTERNAL_H */
