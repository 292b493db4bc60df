/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP library comparison: a minimal echo server on libmicrohttpd (mode given on the command
 * line: "thread" = thread per connection as funkd uses, "pool" = epoll with a thread pool). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

struct body {
    char *p;
    size_t n;
    int started;
};

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *up, size_t *upsz,
                              void **cc)
{
    (void)cls, (void)url, (void)method, (void)version;
    struct body *b = *cc;
    if (!b) {
        *cc = calloc(1, sizeof *b);
        return MHD_YES;
    }
    if (*upsz) {
        b->p = realloc(b->p, b->n + *upsz);
        memcpy(b->p + b->n, up, *upsz);
        b->n += *upsz;
        *upsz = 0;
        return MHD_YES;
    }
    struct MHD_Response *r =
        b->n ? MHD_create_response_from_buffer(b->n, b->p, MHD_RESPMEM_MUST_COPY)
             : MHD_create_response_from_buffer(6, (void *)"hello\n", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "text/plain");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **cc,
                    enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    struct body *b = *cc;
    if (b)
        free(b->p);
    free(b);
    *cc = NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 18091;
    int pool = argc > 2 && strcmp(argv[2], "pool") == 0;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(0x7f000001)};
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | (pool ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION);
    struct MHD_Daemon *d =
        pool ? MHD_start_daemon(flags, 0, NULL, NULL, on_req, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                                MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2, MHD_OPTION_END)
             : MHD_start_daemon(flags, 0, NULL, NULL, on_req, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_echo: cannot listen\n");
        return 1;
    }
    pause();
    return 0;
}
