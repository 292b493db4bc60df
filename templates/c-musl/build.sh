#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# funk template "c-musl": builds every .c file of the handler folder (the working directory) with
# `funk-cc --linux` into $FUNK_OUT: a funk function on musl (a real libc, floating point, libm)
# whose function I/O goes through the monitor's Linux personality (docs/guest.md). funk build sets
# FUNK_CC to the funk-cc of its own prefix; else the one on PATH. Extra compiler flags come from
# the function's build_args: FUNK_CFLAGS, FUNK_LIBS.
set -eu
FUNK_CC=${FUNK_CC:-funk-cc}
if ! command -v "$FUNK_CC" >/dev/null 2>&1; then
  echo "template c-musl: no funk-cc ($FUNK_CC): the guest SDK's compiler driver comes with" \
       "make install or the funk-dev package" >&2
  exit 1
fi
set -- ./*.c
[ -e "$1" ] || { echo "template c-musl: no .c file in $FUNK_HANDLER" >&2; exit 1; }
# shellcheck disable=SC2086
"$FUNK_CC" --linux -O2 -Wall ${FUNK_CFLAGS:-} -o "$FUNK_OUT" "$@" -lm ${FUNK_LIBS:-}
