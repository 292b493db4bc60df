#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# funk template "c": builds every .c file of the handler folder (the working directory) into the
# unikernel $FUNK_OUT with the installed guest SDK (pkg-config funk-guest). Extra compiler flags
# come from the function's build_args: FUNK_CFLAGS, FUNK_LIBS.
set -eu
CC=${CC:-cc}
if ! pkg-config --exists funk-guest; then
  echo "template c: pkg-config finds no funk-guest (the guest SDK: make install, or the" \
       "funk-dev package; PKG_CONFIG_PATH=${PKG_CONFIG_PATH:-})" >&2
  exit 1
fi
set -- ./*.c
[ -e "$1" ] || { echo "template c: no .c file in $FUNK_HANDLER" >&2; exit 1; }
# shellcheck disable=SC2046,SC2086
"$CC" $(pkg-config --cflags funk-guest) -O2 -Wall ${FUNK_CFLAGS:-} -o "$FUNK_OUT" "$@" \
  $(pkg-config --libs funk-guest) ${FUNK_LIBS:-}
