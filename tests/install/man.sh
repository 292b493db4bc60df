#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Each generated man page renders with groff without warnings, has NAME and DESCRIPTION, and its
# DESCRIPTION is not empty and is not an option error (help2man got --help output).
set -uo pipefail
command -v groff >/dev/null || { echo "SKIP: groff not installed (man-db/groff-base)"; exit 77; }
fails=0
for page in "$@"; do
  name=$(basename "$page" .1)
  out=$(groff -man -Tutf8 -ww "$page" 2>&1 >/dev/null)
  if [ -n "$out" ]; then echo "FAIL: $name: groff warnings: $out"; fails=$((fails + 1)); continue; fi
  text=$(groff -man -Tutf8 "$page" 2>/dev/null | col -bx)
  for sec in NAME DESCRIPTION; do
    grep -q "^$sec" <<<"$text" || { echo "FAIL: $name: no $sec section"; fails=$((fails + 1)); }
  done
  body=$(sed -n '/^DESCRIPTION/,$p' <<<"$text" | tail -n +2 | grep -c '[[:alnum:]]')
  [ "$body" -gt 0 ] || { echo "FAIL: $name: empty DESCRIPTION (no --help output)"; fails=$((fails + 1)); }
  # Help text quality is the CLI's business (one style for every binary); say it, do not fail.
  grep -qi "usage:.*$name\|$name \[" <<<"$text" || echo "note: $name: --help shows no usage line"
  if grep -qiE "cannot read|unknown option|unrecognized option|invalid option" <<<"$text"; then
    echo "FAIL: $name: --help printed an error, not help"; fails=$((fails + 1))
  fi
  echo "ok: $name.1 ($(wc -l <"$page") lines)"
done
exit $((fails > 0))
