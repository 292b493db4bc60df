#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One command-line style for every funk binary (docs/cli.md): -h and --help print a usage on
# stdout and exit 0; --version prints "NAME VERSION" and exits 0; an unknown option is an error
# that names it and exits 64 (EX_USAGE); every long option the --help text lists is recognised,
# both as "--opt VALUE" and "--opt=VALUE" (checked as "BIN --opt x --help": a known option then
# reaches --help and exits 0 or refuses the dummy value x by name, an unknown one stops at itself
# as an unknown option).
# Usage: cli_style.sh BIN[:CMD,CMD...]...   With commands listed, an option the help lists may
# belong to one of them: it is recognised when "BIN CMD --opt x --help" is, for some CMD, and
# "BIN CMD --help" must answer like "BIN --help".
set -uo pipefail
fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# whatever a binary may create from the dummy values lands here, not in the caller's folder
specs=()
for spec in "$@"; do
  b=${spec%%:*}
  specs+=("$(realpath "$b")${spec#"$b"}")
done
cd "$tmp" || exit 1

run() { # run BIN ARGS...: rc in $rc, stdout in $tmp/out, stderr in $tmp/err; never a daemon
  timeout 10 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

for spec in "${specs[@]}"; do
  bin=${spec%%:*}
  cmds=""
  [ "$spec" != "$bin" ] && cmds=$(tr ',' ' ' <<<"${spec#*:}")
  name=$(basename "$bin")
  for c in $cmds; do
    run "$bin" "$c" --help
    [ $rc -eq 0 ] && grep -qi "^usage: *$name\b" "$tmp/out" && ok "$name $c --help" ||
      bad "$name $c --help: exit $rc, '$(head -c 120 "$tmp/out")$(head -c 120 "$tmp/err")'"
  done
  for h in -h --help; do
    run "$bin" "$h"
    [ $rc -eq 0 ] && grep -qi "^usage: *$name\b" "$tmp/out" && ok "$name $h: usage on stdout, exit 0" ||
      bad "$name $h: exit $rc, stdout '$(head -c 120 "$tmp/out")', stderr '$(head -c 120 "$tmp/err")'"
  done
  run "$bin" --version
  [ $rc -eq 0 ] && grep -Eq "^$name [0-9]+\.[0-9]+\.[0-9]+" "$tmp/out" && ok "$name --version: $(head -1 "$tmp/out")" ||
    bad "$name --version: exit $rc, '$(head -c 120 "$tmp/out")$(head -c 120 "$tmp/err")'"
  run "$bin" --no-such-option-at-all
  [ $rc -eq 64 ] && grep -q -- "--no-such-option-at-all" "$tmp/err" && ok "$name: unknown option -> 64, named" ||
    bad "$name --no-such-option-at-all: exit $rc, stderr '$(head -c 160 "$tmp/err")'"
  # every long option the help lists (not --help/--version themselves)
  run "$bin" --help
  cp "$tmp/out" "$tmp/help"
  # (Solo5's "--block:NAME=PATH" style options, followed by ':', are not getopt options)
  opts=$(grep -oE -- '(^|[[:space:][,])--[a-z][a-z0-9-]*:?' "$tmp/help" | sed 's/^[^-]*//' | grep -v ':$' | sort -u |
         grep -vx -- '--help\|--version')
  n=0
  for o in $opts; do
    n=$((n + 1))
    # a bare flag in the help ("[--debug]", "--auth  text") is tried as "--flag --help" too:
    # with a runc-style command line, a dummy value after a flag would be taken as the command
    forms=("$o x" "$o=x")
    grep -Eq -- "$o( [A-Z<]|=[A-Z<]| [a-z]+\|)" "$tmp/help" || forms=("$o" "$o=x")
    for form in "${forms[@]}"; do
      known=0
      for c in "" $cmds; do
        # shellcheck disable=SC2086  # "$c" may be empty, "$form" is two words on purpose
        run "$bin" $c $form --help
        # recognised: it reached --help (0), or it refused the dummy value by name (64, not as
        # an unknown option; a flag taking no value refuses "=x" that way too)
        if [ $rc -eq 0 ] || { [ $rc -eq 64 ] && ! grep -qiE "unknown option|unrecognized option|invalid option" "$tmp/err"; }; then
          known=1
          break
        fi
      done
      [ $known -eq 1 ] || bad "$name: documented $o not accepted as '$form' (exit $rc: $(head -c 160 "$tmp/err"))"
    done
  done
  ok "$name: $n documented long options checked"
done
exit $((fails > 0))
