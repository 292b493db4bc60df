/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel argument containers: vaccel_arg and the typed add/get/set helpers of vaccel_arg_array. */
#include <vaccel.h>

#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int vaccel_arg_init_from_buf(struct vaccel_arg *arg, void *buf, size_t size,
                                    vaccel_arg_type_t type, uint32_t custom_id)
{
    if (arg == NULL || (unsigned)type >= VACCEL_ARG_MAX)
        return VACCEL_EINVAL;
    *arg = (struct vaccel_arg){buf, size, type, custom_id, false};
    return VACCEL_OK;
}

EXPORT int vaccel_arg_init(struct vaccel_arg *arg, const void *buf, size_t size,
                           vaccel_arg_type_t type, uint32_t custom_id)
{
    if (arg == NULL || size == 0 || (unsigned)type >= VACCEL_ARG_MAX)
        return VACCEL_EINVAL;
    void *copy = malloc(size);
    if (copy == NULL)
        return VACCEL_ENOMEM;
    if (buf != NULL)
        memcpy(copy, buf, size);
    else
        memset(copy, 0, size);
    *arg = (struct vaccel_arg){copy, size, type, custom_id, true};
    return VACCEL_OK;
}

EXPORT int vaccel_arg_release(struct vaccel_arg *arg)
{
    if (arg == NULL)
        return VACCEL_EINVAL;
    if (arg->owned)
        free(arg->buf);
    *arg = (struct vaccel_arg){0};
    return VACCEL_OK;
}

EXPORT int vaccel_arg_new(struct vaccel_arg **arg, const void *buf, size_t size,
                          vaccel_arg_type_t type, uint32_t custom_id)
{
    if (arg == NULL)
        return VACCEL_EINVAL;
    struct vaccel_arg *a = malloc(sizeof(*a));
    if (a == NULL)
        return VACCEL_ENOMEM;
    int rc = vaccel_arg_init(a, buf, size, type, custom_id);
    if (rc) {
        free(a);
        return rc;
    }
    *arg = a;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_from_buf(struct vaccel_arg **arg, void *buf, size_t size,
                               vaccel_arg_type_t type, uint32_t custom_id)
{
    if (arg == NULL)
        return VACCEL_EINVAL;
    struct vaccel_arg *a = malloc(sizeof(*a));
    if (a == NULL)
        return VACCEL_ENOMEM;
    int rc = vaccel_arg_init_from_buf(a, buf, size, type, custom_id);
    if (rc) {
        free(a);
        return rc;
    }
    *arg = a;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_delete(struct vaccel_arg *arg)
{
    int rc = vaccel_arg_release(arg);
    if (rc == VACCEL_OK)
        free(arg);
    return rc;
}

/* ---- arrays ---------------------------------------------------------------------------------- */

EXPORT int vaccel_arg_array_init(struct vaccel_arg_array *array, size_t initial_capacity)
{
    if (array == NULL)
        return VACCEL_EINVAL;
    size_t cap = initial_capacity ? initial_capacity : 4;
    struct vaccel_arg *args = calloc(cap, sizeof(*args));
    if (args == NULL)
        return VACCEL_ENOMEM;
    *array = (struct vaccel_arg_array){args, 0, cap, 0, true};
    return VACCEL_OK;
}

EXPORT void vaccel_arg_array_clear(struct vaccel_arg_array *array)
{
    if (array == NULL || array->args == NULL)
        return;
    for (size_t i = 0; i < array->count; i++)
        vaccel_arg_release(&array->args[i]);
    array->count = 0;
    array->position = 0;
}

EXPORT int vaccel_arg_array_release(struct vaccel_arg_array *array)
{
    if (array == NULL)
        return VACCEL_EINVAL;
    if (array->owned) {
        vaccel_arg_array_clear(array);
        free(array->args);
    }
    *array = (struct vaccel_arg_array){0};
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_new(struct vaccel_arg_array **array, size_t initial_capacity)
{
    if (array == NULL)
        return VACCEL_EINVAL;
    struct vaccel_arg_array *a = malloc(sizeof(*a));
    if (a == NULL)
        return VACCEL_ENOMEM;
    int rc = vaccel_arg_array_init(a, initial_capacity);
    if (rc) {
        free(a);
        return rc;
    }
    *array = a;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_delete(struct vaccel_arg_array *array)
{
    int rc = vaccel_arg_array_release(array);
    if (rc == VACCEL_OK)
        free(array);
    return rc;
}

EXPORT int vaccel_arg_array_wrap(struct vaccel_arg_array *array, struct vaccel_arg *args,
                                 size_t count)
{
    if (array == NULL || (args == NULL && count))
        return VACCEL_EINVAL;
    *array = (struct vaccel_arg_array){args, count, count, 0, false};
    return VACCEL_OK;
}

/* Appends one arg pointing at the caller's memory; grows owned arrays, wrapped ones are full. */
static int array_push(struct vaccel_arg_array *array, void *buf, size_t size,
                      vaccel_arg_type_t type, uint32_t custom_id)
{
    if (array == NULL || (buf == NULL && size))
        return VACCEL_EINVAL;
    if (array->count == array->capacity) {
        if (!array->owned)
            return VACCEL_ENOSPC;
        size_t cap = array->capacity ? array->capacity * 2 : 4;
        if (cap < array->capacity || cap > SIZE_MAX / sizeof(struct vaccel_arg))
            return VACCEL_ENOMEM;
        struct vaccel_arg *n = realloc(array->args, cap * sizeof(*n));
        if (n == NULL)
            return VACCEL_ENOMEM;
        array->args = n;
        array->capacity = cap;
    }
    array->args[array->count++] = (struct vaccel_arg){buf, size, type, custom_id, false};
    return VACCEL_OK;
}

/* The next arg for get/set, checked against the wanted type. */
static int array_next(struct vaccel_arg_array *array, vaccel_arg_type_t type,
                      struct vaccel_arg **out)
{
    if (array == NULL || out == NULL)
        return VACCEL_EINVAL;
    if (array->position >= array->count)
        return VACCEL_ERANGE;
    struct vaccel_arg *a = &array->args[array->position];
    if (a->type != type || (a->buf == NULL && a->size))
        return VACCEL_EINVAL;
    *out = a;
    return VACCEL_OK;
}

#define DEFINE_ARG_FUNCS(NAME, CT, T, TA)                                                          \
    EXPORT int vaccel_arg_array_add_##NAME(struct vaccel_arg_array *array, CT *value)              \
    {                                                                                              \
        if (value == NULL)                                                                         \
            return VACCEL_EINVAL;                                                                  \
        return array_push(array, value, sizeof(CT), T, 0);                                         \
    }                                                                                              \
    EXPORT int vaccel_arg_array_add_##NAME##_array(struct vaccel_arg_array *array, CT *values,     \
                                                   size_t count)                                   \
    {                                                                                              \
        if (values == NULL || count == 0 || count > SIZE_MAX / sizeof(CT))                         \
            return VACCEL_EINVAL;                                                                  \
        return array_push(array, values, count * sizeof(CT), TA, 0);                               \
    }                                                                                              \
    EXPORT int vaccel_arg_array_get_##NAME(struct vaccel_arg_array *array, CT *value)              \
    {                                                                                              \
        struct vaccel_arg *a;                                                                      \
        int rc = array_next(array, T, &a);                                                         \
        if (rc)                                                                                    \
            return rc;                                                                             \
        if (value == NULL || a->size != sizeof(CT))                                                \
            return VACCEL_EINVAL;                                                                  \
        memcpy(value, a->buf, sizeof(CT));                                                         \
        array->position++;                                                                         \
        return VACCEL_OK;                                                                          \
    }                                                                                              \
    EXPORT int vaccel_arg_array_get_##NAME##_array(struct vaccel_arg_array *array, CT **values,    \
                                                   size_t *count)                                  \
    {                                                                                              \
        struct vaccel_arg *a;                                                                      \
        int rc = array_next(array, TA, &a);                                                        \
        if (rc)                                                                                    \
            return rc;                                                                             \
        if (values == NULL || a->size % sizeof(CT))                                                \
            return VACCEL_EINVAL;                                                                  \
        *values = a->buf;                                                                          \
        if (count)                                                                                 \
            *count = a->size / sizeof(CT);                                                         \
        array->position++;                                                                         \
        return VACCEL_OK;                                                                          \
    }                                                                                              \
    EXPORT int vaccel_arg_array_set_##NAME(struct vaccel_arg_array *array, CT *value)              \
    {                                                                                              \
        struct vaccel_arg *a;                                                                      \
        int rc = array_next(array, T, &a);                                                         \
        if (rc)                                                                                    \
            return rc;                                                                             \
        if (value == NULL || a->size != sizeof(CT))                                                \
            return VACCEL_EINVAL;                                                                  \
        memcpy(a->buf, value, sizeof(CT));                                                         \
        array->position++;                                                                         \
        return VACCEL_OK;                                                                          \
    }                                                                                              \
    EXPORT int vaccel_arg_array_set_##NAME##_array(struct vaccel_arg_array *array, CT *values,     \
                                                   size_t count)                                   \
    {                                                                                              \
        struct vaccel_arg *a;                                                                      \
        int rc = array_next(array, TA, &a);                                                        \
        if (rc)                                                                                    \
            return rc;                                                                             \
        if (values == NULL || count > SIZE_MAX / sizeof(CT) || a->size != count * sizeof(CT))      \
            return VACCEL_EINVAL;                                                                  \
        memcpy(a->buf, values, count * sizeof(CT));                                                \
        array->position++;                                                                         \
        return VACCEL_OK;                                                                          \
    }
VACCEL_ARG_NUMERIC_TYPES(DEFINE_ARG_FUNCS)

EXPORT int vaccel_arg_array_add_raw(struct vaccel_arg_array *array, void *buf, size_t size)
{
    return array_push(array, buf, size, VACCEL_ARG_RAW, 0);
}

EXPORT int vaccel_arg_array_add_string(struct vaccel_arg_array *array, char *str)
{
    if (str == NULL)
        return VACCEL_EINVAL;
    return array_push(array, str, strlen(str) + 1, VACCEL_ARG_STRING, 0);
}

EXPORT int vaccel_arg_array_add_buffer(struct vaccel_arg_array *array, void *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return VACCEL_EINVAL;
    return array_push(array, buf, size, VACCEL_ARG_BUFFER, 0);
}

EXPORT int vaccel_arg_array_add_custom(struct vaccel_arg_array *array, uint32_t custom_id,
                                       void *buf, size_t size,
                                       vaccel_arg_type_validator_fn validator)
{
    if (buf == NULL || size == 0 || (validator && !validator(buf, size, custom_id)))
        return VACCEL_EINVAL;
    return array_push(array, buf, size, VACCEL_ARG_CUSTOM, custom_id);
}

EXPORT int vaccel_arg_array_add_serialized(struct vaccel_arg_array *array, vaccel_arg_type_t type,
                                           uint32_t custom_id, const void *data, size_t data_size,
                                           vaccel_arg_serializer_fn serializer)
{
    if (array == NULL || data == NULL || serializer == NULL || (unsigned)type >= VACCEL_ARG_MAX)
        return VACCEL_EINVAL;
    void *buf = NULL;
    size_t size = 0;
    int rc = serializer(data, data_size, custom_id, &buf, &size);
    if (rc)
        return rc;
    rc = array_push(array, buf, size, type, custom_id);
    if (rc) {
        free(buf);
        return rc;
    }
    array->args[array->count - 1].owned = true; /* the serializer's buffer is ours to free */
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_get_raw(struct vaccel_arg_array *array, void **buf, size_t *size)
{
    if (array == NULL || buf == NULL)
        return VACCEL_EINVAL;
    if (array->position >= array->count)
        return VACCEL_ERANGE;
    struct vaccel_arg *a = &array->args[array->position++];
    *buf = a->buf;
    if (size)
        *size = a->size;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_get_string(struct vaccel_arg_array *array, char **str)
{
    struct vaccel_arg *a;
    int rc = array_next(array, VACCEL_ARG_STRING, &a);
    if (rc)
        return rc;
    /* must be NUL-terminated inside its size: the bytes may come from another process */
    if (str == NULL || a->size == 0 || memchr(a->buf, 0, a->size) == NULL)
        return VACCEL_EINVAL;
    *str = a->buf;
    array->position++;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_get_buffer(struct vaccel_arg_array *array, void **buf, size_t *size)
{
    struct vaccel_arg *a;
    int rc = array_next(array, VACCEL_ARG_BUFFER, &a);
    if (rc)
        return rc;
    if (buf == NULL)
        return VACCEL_EINVAL;
    *buf = a->buf;
    if (size)
        *size = a->size;
    array->position++;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_get_custom(struct vaccel_arg_array *array, uint32_t expected_id,
                                       void **buf, size_t *size,
                                       vaccel_arg_type_validator_fn validator)
{
    struct vaccel_arg *a;
    int rc = array_next(array, VACCEL_ARG_CUSTOM, &a);
    if (rc)
        return rc;
    if (buf == NULL || a->custom_type_id != expected_id ||
        (validator && !validator(a->buf, a->size, expected_id)))
        return VACCEL_EINVAL;
    *buf = a->buf;
    if (size)
        *size = a->size;
    array->position++;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_get_serialized(struct vaccel_arg_array *array,
                                           vaccel_arg_type_t expected_type,
                                           uint32_t expected_custom_id, void *data,
                                           size_t expected_size,
                                           vaccel_arg_deserializer_fn deserializer)
{
    struct vaccel_arg *a;
    int rc = array_next(array, expected_type, &a);
    if (rc)
        return rc;
    if (data == NULL || deserializer == NULL || a->custom_type_id != expected_custom_id)
        return VACCEL_EINVAL;
    rc = deserializer(a->buf, a->size, expected_custom_id, expected_size, data);
    if (rc == VACCEL_OK)
        array->position++;
    return rc;
}

EXPORT int vaccel_arg_array_set_raw(struct vaccel_arg_array *array, void *buf, size_t size)
{
    if (array == NULL || (buf == NULL && size))
        return VACCEL_EINVAL;
    if (array->position >= array->count)
        return VACCEL_ERANGE;
    struct vaccel_arg *a = &array->args[array->position];
    if (a->size != size || (a->buf == NULL && size))
        return VACCEL_EINVAL;
    if (size)
        memcpy(a->buf, buf, size);
    array->position++;
    return VACCEL_OK;
}

static int set_bytes(struct vaccel_arg_array *array, vaccel_arg_type_t type, const void *buf,
                     size_t size)
{
    struct vaccel_arg *a;
    int rc = array_next(array, type, &a);
    if (rc)
        return rc;
    if (buf == NULL || size > a->size) /* never past the receiver's buffer */
        return VACCEL_EINVAL;
    memcpy(a->buf, buf, size);
    array->position++;
    return VACCEL_OK;
}

EXPORT int vaccel_arg_array_set_string(struct vaccel_arg_array *array, char *str)
{
    if (str == NULL)
        return VACCEL_EINVAL;
    return set_bytes(array, VACCEL_ARG_STRING, str, strlen(str) + 1);
}

EXPORT int vaccel_arg_array_set_buffer(struct vaccel_arg_array *array, void *buf, size_t size)
{
    return set_bytes(array, VACCEL_ARG_BUFFER, buf, size);
}

EXPORT int vaccel_arg_array_set_serialized(struct vaccel_arg_array *array,
                                           vaccel_arg_type_t expected_type,
                                           uint32_t expected_custom_id, void *data,
                                           size_t data_size, vaccel_arg_serializer_fn serializer)
{
    if (array == NULL || serializer == NULL || array->position >= array->count)
        return array == NULL || serializer == NULL ? VACCEL_EINVAL : VACCEL_ERANGE;
    if (array->args[array->position].custom_type_id != expected_custom_id)
        return VACCEL_EINVAL;
    void *buf = NULL;
    size_t size = 0;
    int rc = serializer(data, data_size, expected_custom_id, &buf, &size);
    if (rc)
        return rc;
    rc = set_bytes(array, expected_type, buf, size);
    free(buf);
    return rc;
}

EXPORT int vaccel_arg_array_get_remaining(struct vaccel_arg_array *array, struct vaccel_arg **args,
                                          size_t *count)
{
    if (array == NULL || args == NULL || count == NULL)
        return VACCEL_EINVAL;
    size_t left = array->position < array->count ? array->count - array->position : 0;
    *args = left ? &array->args[array->position] : NULL;
    *count = left;
    array->position += left;
    return VACCEL_OK;
}

EXPORT size_t vaccel_arg_array_remaining_count(const struct vaccel_arg_array *array)
{
    return array && array->position < array->count ? array->count - array->position : 0;
}

EXPORT size_t vaccel_arg_array_position(const struct vaccel_arg_array *array)
{
    return array ? array->position : 0;
}

EXPORT void vaccel_arg_array_set_position(struct vaccel_arg_array *array, size_t position)
{
    if (array && position <= array->count)
        array->position = position;
}

EXPORT void vaccel_arg_array_reset_position(struct vaccel_arg_array *array)
{
    if (array)
        array->position = 0;
}

EXPORT size_t vaccel_arg_array_count(const struct vaccel_arg_array *array)
{
    return array ? array->count : 0;
}

EXPORT struct vaccel_arg *vaccel_arg_array_raw(struct vaccel_arg_array *array)
{
    return array ? array->args : NULL;
}
