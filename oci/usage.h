/* SPDX-License-Identifier: Apache-2.0 */
/* Usage errors in the one command-line style (docs/cli.md): one line naming the problem on
 * stderr, a hint, exit 64 (EX_USAGE). Shared by funk-image, `funk image` and the funk CLI. */
#ifndef FUNK_OCI_USAGE_H
#define FUNK_OCI_USAGE_H

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FUNK_EXIT_USAGE 64 /* sysexits EX_USAGE: a usage error in every funk binary */

/* Prints "PROG: what is wrong" and "Try 'PROG --help'."; returns FUNK_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) static inline int funk_usage_error(const char *prog,
                                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    va_end(ap);
    return FUNK_EXIT_USAGE;
}

/* Prints a usage text for -h/--help on stdout; returns 0, the exit status of --help. */
static inline int funk_help(const char *text)
{
    fputs(text, stdout);
    return 0;
}

/* Reports a getopt_long failure (c is ':' or '?', the optstring started with ':' and opterr is
 * 0) by naming the option; returns FUNK_EXIT_USAGE. */
static inline int funk_getopt_error(const char *prog, int c, char **argv)
{
    const char *a = argv[optind - 1];
    int is_long = strncmp(a, "--", 2) == 0;
    if (c == ':')
        return is_long ? funk_usage_error(prog, "option '%s' needs a value", a)
                       : funk_usage_error(prog, "option '-%c' needs a value", optopt);
    if (!is_long)
        return funk_usage_error(prog, "unknown option '-%c'", optopt);
    /* glibc sets optopt to a known long option's value when it got "=VALUE" it takes none */
    if (optopt != 0 && strchr(a, '='))
        return funk_usage_error(prog, "option '%s' takes no value", a);
    return funk_usage_error(prog, "unknown option '%s'", a);
}

#endif /* FUNK_OCI_USAGE_H */
