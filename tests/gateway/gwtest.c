/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel for funkd: behaves by request path (count, sleep, hold, spin, crash, exit
 * without answer, log, env, big headers); anything else is echoed. */
#include <stdint.h>
#include <string.h>

#include <funk/fn.h>
#include <funk/guest.h>

/* "ms=123" in the query -> 123 */
static uint64_t query_num(const char *q, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = q; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            uint64_t v = 0;
            for (p += kl + 1; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (uint64_t)(*p - '0');
            return v;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return 0;
}

int main(void)
{
    struct funk_fn_req req;
    static const char hello[] = "gwtest: ready\n";
    funk_console_write(hello, sizeof hello - 1);
    unsigned calls = 0;
    while (funk_fn_recv(&req) == 0) {
        calls++;
        if (strcmp(req.path, "/count") == 0) {
            /* how many calls this guest has served: 1 every time for per-request functions */
            char num[12];
            int n = 0;
            unsigned v = calls;
            char tmp[12];
            do {
                tmp[n++] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            for (int i = 0; i < n; i++)
                num[i] = tmp[n - 1 - i];
            funk_fn_send(200, NULL, num, (size_t)n);
        } else if (strcmp(req.path, "/sleep") == 0) {
            funk_time_t end = funk_clock_monotonic() + query_num(req.query, "ms") * 1000000ull;
            while (funk_clock_monotonic() < end)
                funk_yield(end, NULL);
            funk_fn_send(200, "Content-Type: text/plain\n", "slept\n", 6);
        } else if (strcmp(req.path, "/hold") == 0) {
            /* like /sleep, but first says on the console that the call has arrived ("gwtest:
             * holding " + query), so a test can wait for that event instead of guessing */
            static const char pre[] = "gwtest: holding ";
            funk_console_write(pre, sizeof pre - 1);
            funk_console_write(req.query, strlen(req.query));
            funk_console_write("\n", 1);
            funk_time_t end = funk_clock_monotonic() + query_num(req.query, "ms") * 1000000ull;
            while (funk_clock_monotonic() < end)
                funk_yield(end, NULL);
            funk_fn_send(200, "Content-Type: text/plain\n", "held\n", 5);
        } else if (strcmp(req.path, "/spin") == 0) {
            for (;;)
                __asm__ __volatile__("" ::: "memory");
        } else if (strcmp(req.path, "/crash") == 0) {
            uintptr_t a = 8; /* hidden from the compiler: a NULL-page write on purpose */
            __asm__ __volatile__("" : "+r"(a));
            *(volatile int *)a = 1;
        } else if (strcmp(req.path, "/exit") == 0) {
            return 3;
        } else if (strcmp(req.path, "/log") == 0) {
            funk_console_write(req.body, req.body_len);
            funk_fn_send(200, NULL, "logged\n", 7);
        } else if (strcmp(req.path, "/headers") == 0) {
            /* one header "X-Big: aaa...\n" of bytes=N bytes in all (at most 128 KiB) */
            static char big[128 * 1024 + 1];
            uint64_t n = query_num(req.query, "bytes");
            if (n < 8)
                n = 8;
            if (n > sizeof big - 1)
                n = sizeof big - 1;
            memcpy(big, "X-Big: ", 7);
            memset(big + 7, 'a', (size_t)n - 8);
            big[n - 1] = '\n';
            big[n] = '\0';
            funk_fn_send(200, big, "big\n", 4);
        } else if (strcmp(req.path, "/env") == 0) {
            const char *v = funk_getenv(req.query);
            if (v)
                funk_fn_send(200, "Content-Type: text/plain\n", v, strlen(v));
            else
                funk_fn_send(404, "Content-Type: text/plain\n", "unset\n", 6);
        } else {
            funk_fn_send(200, "X-Gwtest: 1\n", req.body, req.body_len);
        }
    }
    return 0;
}
