/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile unikernel: hands ACCEL buffers outside guest memory, unterminated strings, bad handles;
 * every call must come back as an error (-EFAULT, -EINVAL, -EBADF), never touch host memory, and
 * the guest keeps running. Prints one line per check and "hostile: N/N refused". */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <funk/accel.h>

/* Far beyond any guest's memory but below 4 GiB, and addresses that wrap around. */
#define FAR ((void *)(uintptr_t)0xfff00000u)
#define HIGH ((void *)(uintptr_t)0x7ffffffff000ull)

static int checks, good;

/* Floats only through movaps (see functions/sgemm): the rest of the file is integer-only. */
static const float one4[4] __attribute__((aligned(16))) = {1.0f},
                           zero4[4] __attribute__((aligned(16)));
__attribute__((target("sse2"))) static int sg(funk_accel_session *s, int m, const float *a, int lda,
                                              const float *b, float *c)
{
    float one, zero;
    __asm__("movaps %1, %0" : "=x"(one) : "m"(one4));
    __asm__("movaps %1, %0" : "=x"(zero) : "m"(zero4));
    return funk_accel_sgemm(s, m, 2, 2, one, a, lda, b, 2, zero, c, 2);
}

static void expect(const char *what, int got, int want)
{
    checks++;
    if (got == want)
        good++;
    printf("%s %s: %d (want %d)\n", got == want ? "ok  " : "FAIL", what, got, want);
}

int main(void)
{
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    expect("session", rc, 0);
    static char img[64] = "not really an image";
    funk_accel_label out[4];

    expect("classify: image far outside", funk_accel_image_classify(s, NULL, FAR, 4096, out, 4),
           -EFAULT);
    expect("classify: image at high address", funk_accel_image_classify(s, NULL, HIGH, 16, out, 4),
           -EFAULT);
    expect("classify: image length wraps",
           funk_accel_image_classify(s, NULL, img, (size_t)-16, out, 4), -EFAULT);
    expect("classify: output far outside",
           funk_accel_image_classify(s, NULL, img, sizeof(img), FAR, 4), -EFAULT);
    expect("classify: output in the zero page",
           funk_accel_image_classify(s, NULL, img, sizeof(img), (void *)(uintptr_t)0x100, 1),
           -EFAULT);
    expect("classify: max too large for the output",
           funk_accel_image_classify(s, NULL, img, sizeof(img), out, 1u << 30), -EINVAL);
    expect("detect: output far outside",
           funk_accel_image_detect(s, NULL, img, sizeof(img), 0, FAR, 4), -EFAULT);

    static float a[4], b[4], c[4];
    expect("sgemm: C far outside", sg(s, 2, a, 2, b, FAR), -EFAULT);
    expect("sgemm: A runs past memory end", sg(s, 1 << 28, a, 2, b, c), -EFAULT);
    expect("sgemm: lda < k", sg(s, 2, a, 1, b, c), -EINVAL);
    expect("sgemm: negative m", sg(s, -2, a, 2, b, c), -EINVAL);

    funk_accel_arg in[1] = {FUNK_ACCEL_ARG_BYTES_OF(FAR, 8)};
    char o[8];
    funk_accel_arg outa[1] = {FUNK_ACCEL_ARG_BYTES_OF(o, sizeof(o))};
    expect("op: input data far outside", funk_accel_op(s, "echo", in, 1, outa, 1), -EFAULT);
    in[0] = FUNK_ACCEL_ARG_BYTES_OF(img, 8);
    expect("op: output array far outside", funk_accel_op(s, "echo", in, 1, FAR, 1), -EFAULT);
    expect("op: name far outside", funk_accel_op(s, FAR, in, 1, outa, 1), -EFAULT);
    expect("op: 100000 arguments", funk_accel_op(s, "echo", in, 100000, outa, 1), -EINVAL);

    funk_accel_resource *r;
    expect("resource: data far outside",
           funk_accel_resource_new_buffer(&r, FUNK_ACCEL_RES_DATA, FAR, 100), -EFAULT);
    expect("noop: session that does not exist",
           funk_accel_noop((funk_accel_session *)(uintptr_t)999), -EBADF);
    expect("session delete: twice", funk_accel_session_delete((funk_accel_session *)(uintptr_t)77),
           -EBADF);

    /* Still alive and served. */
    expect("noop after all that", funk_accel_noop(s), 0);
    expect("op echo still works", funk_accel_op(s, "echo", in, 1, outa, 1), 1);
    expect("echo copied the bytes", memcmp(o, img, 8), 0);
    /* The guest's own bytes as a LIBRARY, then exec: reported, not counted, because the answer
     * depends on the host's plugins. uk.sh loads the exec plugin and wants -EPERM: code a guest
     * sends never runs on the host (a shared object or not, it is never dlopened). */
    static const char lib[] = "\177ELF guest code that must never run on the host";
    funk_accel_resource *gl = NULL;
    int32_t x = 1, y = 2, z = 0;
    funk_accel_arg ein[2] = {FUNK_ACCEL_ARG_I32_OF(&x), FUNK_ACCEL_ARG_I32_OF(&y)};
    funk_accel_arg eout[1] = {FUNK_ACCEL_ARG_I32_OF(&z)};
    rc = funk_accel_resource_new_buffer(&gl, FUNK_ACCEL_RES_LIBRARY, lib, sizeof(lib));
    if (rc == 0)
        rc = funk_accel_session_register(s, gl);
    if (rc == 0)
        rc = funk_accel_exec(s, gl, "add_i32", ein, 2, eout, 1);
    printf("guest library exec: %d\n", rc);

    funk_accel_session_delete(s);
    printf("hostile: %d/%d refused as expected\n", good, checks);
    return good == checks ? 0 : 1;
}
