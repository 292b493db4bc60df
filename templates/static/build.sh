#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# funk template "static": a static Linux x86-64 program for stdio mode. With a Makefile in the
# handler folder, `make OUT=$FUNK_OUT`; else every .c file, linked statically with musl-gcc when
# installed (smaller), else cc -static.
set -eu
if [ -f Makefile ]; then
  exec make OUT="$FUNK_OUT"
fi
CC=${CC:-$(command -v musl-gcc || echo cc)}
set -- ./*.c
[ -e "$1" ] || { echo "template static: no .c file and no Makefile in $FUNK_HANDLER" >&2; exit 1; }
# shellcheck disable=SC2086
"$CC" -static -O2 -Wall ${FUNK_CFLAGS:-} -o "$FUNK_OUT" "$@" ${FUNK_LIBS:-}
