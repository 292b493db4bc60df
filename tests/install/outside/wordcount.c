/* SPDX-License-Identifier: Apache-2.0 */
/* A funk function built outside the tree with the installed funk-cc: answers the number of words
 * in the request body; an empty body is a 400 that names EBADMSG (a code the guest errno.h must
 * have for portable C to compile). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <funk/fn.h>

int main(void)
{
    struct funk_fn_req req;
    while (funk_fn_recv(&req) == 0) {
        char out[96];
        if (req.body_len == 0) {
            int n = snprintf(out, sizeof out, "empty body (errno %d)\n", EBADMSG);
            funk_fn_send(400, "Content-Type: text/plain\n", out, (size_t)n);
            continue;
        }
        const unsigned char *b = (const unsigned char *)req.body;
        size_t words = 0;
        int in_word = 0;
        for (size_t i = 0; i < req.body_len; i++) {
            int space = isspace(b[i]);
            words += !space && !in_word;
            in_word = !space;
        }
        int n = snprintf(out, sizeof out, "words=%zu\n", words);
        funk_fn_send(200, "Content-Type: text/plain\n", out, (size_t)n);
    }
    return 0;
}
