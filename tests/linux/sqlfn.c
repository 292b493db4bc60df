// SPDX-License-Identifier: Apache-2.0
/* An SQL function: SQL on stdin, rows on stdout ("a|b", NULL as empty, like sqlite3's list
 * mode), errors on stderr and exit 1. argv[1]: the database (an SQLite URI such as
 * "file:/data/shop.db?immutable=1", opened read-only; argv[2] "rw": read-write, created if
 * missing, for making it natively); none: a fresh in-memory database.
 * Linked against the SQLite amalgamation by the test that builds it (tests/gateway/test_sqlite.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

static int row(void *unused, int n, char **val, char **col)
{
    (void)unused;
    (void)col;
    for (int i = 0; i < n; i++) {
        if (i)
            putchar('|');
        if (val[i])
            fputs(val[i], stdout);
    }
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    size_t cap = 1 << 16, len = 0;
    char *sql = malloc(cap);
    size_t r;
    while (sql && (r = fread(sql + len, 1, cap - len - 1, stdin)) > 0) {
        len += r;
        if (cap - len < 2) {
            if (cap > (64u << 20)) {
                fprintf(stderr, "error: SQL longer than 64 MiB\n");
                return 1;
            }
            char *n = realloc(sql, cap * 2);
            if (!n)
                break;
            sql = n;
            cap *= 2;
        }
    }
    if (!sql) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    sql[len] = '\0';
    sqlite3 *db;
    int flags = argc > 2 && strcmp(argv[2], "rw") == 0
                    ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI
                : argc > 1 ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
                           : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY;
    if (sqlite3_open_v2(argc > 1 ? argv[1] : ":memory:", &db, flags, NULL) != SQLITE_OK) {
        fprintf(stderr, "error: open %s: %s\n", argc > 1 ? argv[1] : ":memory:", sqlite3_errmsg(db));
        return 1;
    }
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, row, NULL, &err);
    fflush(stdout);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "error: %s\n", err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
    }
    sqlite3_close(db);
    free(sql);
    return rc == SQLITE_OK ? 0 : 1;
}
