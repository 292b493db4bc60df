/* SPDX-License-Identifier: Apache-2.0 */
/* Compiled twice by the funk-cc test: by the host cc against glibc's <errno.h> (the values are
 * Linux's) and by funk-cc against the guest's (it has every POSIX code with the same value). */
#include <errno.h>

_Static_assert(EPERM == 1, "EPERM");
_Static_assert(ENOENT == 2, "ENOENT");
_Static_assert(ESRCH == 3, "ESRCH");
_Static_assert(EINTR == 4, "EINTR");
_Static_assert(EIO == 5, "EIO");
_Static_assert(ENXIO == 6, "ENXIO");
_Static_assert(E2BIG == 7, "E2BIG");
_Static_assert(ENOEXEC == 8, "ENOEXEC");
_Static_assert(EBADF == 9, "EBADF");
_Static_assert(ECHILD == 10, "ECHILD");
_Static_assert(EAGAIN == 11, "EAGAIN");
_Static_assert(ENOMEM == 12, "ENOMEM");
_Static_assert(EACCES == 13, "EACCES");
_Static_assert(EFAULT == 14, "EFAULT");
_Static_assert(EBUSY == 16, "EBUSY");
_Static_assert(EEXIST == 17, "EEXIST");
_Static_assert(EXDEV == 18, "EXDEV");
_Static_assert(ENODEV == 19, "ENODEV");
_Static_assert(ENOTDIR == 20, "ENOTDIR");
_Static_assert(EISDIR == 21, "EISDIR");
_Static_assert(EINVAL == 22, "EINVAL");
_Static_assert(ENFILE == 23, "ENFILE");
_Static_assert(EMFILE == 24, "EMFILE");
_Static_assert(ENOTTY == 25, "ENOTTY");
_Static_assert(ETXTBSY == 26, "ETXTBSY");
_Static_assert(EFBIG == 27, "EFBIG");
_Static_assert(ENOSPC == 28, "ENOSPC");
_Static_assert(ESPIPE == 29, "ESPIPE");
_Static_assert(EROFS == 30, "EROFS");
_Static_assert(EMLINK == 31, "EMLINK");
_Static_assert(EPIPE == 32, "EPIPE");
_Static_assert(EDOM == 33, "EDOM");
_Static_assert(ERANGE == 34, "ERANGE");
_Static_assert(EDEADLK == 35, "EDEADLK");
_Static_assert(ENAMETOOLONG == 36, "ENAMETOOLONG");
_Static_assert(ENOLCK == 37, "ENOLCK");
_Static_assert(ENOSYS == 38, "ENOSYS");
_Static_assert(ENOTEMPTY == 39, "ENOTEMPTY");
_Static_assert(ELOOP == 40, "ELOOP");
_Static_assert(ENOMSG == 42, "ENOMSG");
_Static_assert(EIDRM == 43, "EIDRM");
_Static_assert(ENOSTR == 60, "ENOSTR");
_Static_assert(ENODATA == 61, "ENODATA");
_Static_assert(ETIME == 62, "ETIME");
_Static_assert(ENOSR == 63, "ENOSR");
_Static_assert(ENOLINK == 67, "ENOLINK");
_Static_assert(EPROTO == 71, "EPROTO");
_Static_assert(EMULTIHOP == 72, "EMULTIHOP");
_Static_assert(EBADMSG == 74, "EBADMSG");
_Static_assert(EOVERFLOW == 75, "EOVERFLOW");
_Static_assert(EILSEQ == 84, "EILSEQ");
_Static_assert(ENOTSOCK == 88, "ENOTSOCK");
_Static_assert(EDESTADDRREQ == 89, "EDESTADDRREQ");
_Static_assert(EMSGSIZE == 90, "EMSGSIZE");
_Static_assert(EPROTOTYPE == 91, "EPROTOTYPE");
_Static_assert(ENOPROTOOPT == 92, "ENOPROTOOPT");
_Static_assert(EPROTONOSUPPORT == 93, "EPROTONOSUPPORT");
_Static_assert(ENOTSUP == 95, "ENOTSUP");
_Static_assert(EAFNOSUPPORT == 97, "EAFNOSUPPORT");
_Static_assert(EADDRINUSE == 98, "EADDRINUSE");
_Static_assert(EADDRNOTAVAIL == 99, "EADDRNOTAVAIL");
_Static_assert(ENETDOWN == 100, "ENETDOWN");
_Static_assert(ENETUNREACH == 101, "ENETUNREACH");
_Static_assert(ENETRESET == 102, "ENETRESET");
_Static_assert(ECONNABORTED == 103, "ECONNABORTED");
_Static_assert(ECONNRESET == 104, "ECONNRESET");
_Static_assert(ENOBUFS == 105, "ENOBUFS");
_Static_assert(EISCONN == 106, "EISCONN");
_Static_assert(ENOTCONN == 107, "ENOTCONN");
_Static_assert(ETIMEDOUT == 110, "ETIMEDOUT");
_Static_assert(ECONNREFUSED == 111, "ECONNREFUSED");
_Static_assert(EHOSTUNREACH == 113, "EHOSTUNREACH");
_Static_assert(EALREADY == 114, "EALREADY");
_Static_assert(EINPROGRESS == 115, "EINPROGRESS");
_Static_assert(ESTALE == 116, "ESTALE");
_Static_assert(EDQUOT == 122, "EDQUOT");
_Static_assert(ECANCELED == 125, "ECANCELED");
_Static_assert(EOWNERDEAD == 130, "EOWNERDEAD");
_Static_assert(ENOTRECOVERABLE == 131, "ENOTRECOVERABLE");
_Static_assert(EWOULDBLOCK == 11, "EWOULDBLOCK");
_Static_assert(EOPNOTSUPP == 95, "EOPNOTSUPP");
_Static_assert(EDEADLOCK == 35, "EDEADLOCK");

int errno_check_count(void);
int errno_check_count(void)
{
    return 82;
}
