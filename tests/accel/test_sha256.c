/* SPDX-License-Identifier: Apache-2.0 */
/* Known-answer tests for the runtime's SHA-256 (FIPS 180-4 examples), one-shot and streamed. */
#include "sha256.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    char h[65];
    accel_sha256_digest(data, len, d);
    hex(d, h);
    assert_string_equal(h, want);
    /* The same bytes fed in uneven pieces give the same digest. */
    static const size_t steps[] = {1, 3, 63, 64, 65, 127};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        accel_sha256 c;
        accel_sha256_init(&c);
        for (size_t off = 0; off < len; off += steps[s]) {
            size_t n = len - off < steps[s] ? len - off : steps[s];
            accel_sha256_update(&c, (const uint8_t *)data + off, n);
        }
        accel_sha256_final(&c, d);
        hex(d, h);
        assert_string_equal(h, want);
    }
}

static void test_empty(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_abc(void **state)
{
    (void)state;
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_two_blocks(void **state)
{
    (void)state;
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_padding_edges(void **state)
{
    (void)state;
    /* 55, 56 and 64 bytes: the length field fits, just misses, and a whole block. */
    char buf[64];
    memset(buf, 'a', sizeof(buf));
    check(buf, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    check(buf, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    check(buf, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void test_million_a(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *m = malloc(n);
    assert_non_null(m);
    memset(m, 'a', n);
    check(m, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),      cmocka_unit_test(test_abc),
        cmocka_unit_test(test_two_blocks), cmocka_unit_test(test_padding_edges),
        cmocka_unit_test(test_million_a),
    };
    return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
