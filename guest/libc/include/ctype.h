/* SPDX-License-Identifier: Apache-2.0 */
/* ctype.h of the guest libc: ASCII-only character classes (the guest has no locales). */
#ifndef FUNK_GUEST_CTYPE_H
#define FUNK_GUEST_CTYPE_H

int isalnum(int c);
int isalpha(int c);
int isdigit(int c);
int isxdigit(int c);
int islower(int c);
int isupper(int c);
int isspace(int c);
int isprint(int c);
int isgraph(int c);
int ispunct(int c);
int iscntrl(int c);
int tolower(int c);
int toupper(int c);

#endif
