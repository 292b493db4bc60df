#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end checks of the funk-monitor command line: usage errors, load refusals, exit codes.
set -u
MON=${1:?usage: cli.sh PATH/TO/funk-monitor}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

# expect CODE PATTERN -- ARGS...: runs the monitor, checks exit code and that stderr+stdout match.
expect() {
    local code=$1 pat=$2
    shift 3
    "$MON" "$@" >"$T/out" 2>&1 </dev/null
    local rc=$?
    if [ "$rc" -ne "$code" ] || ! grep -qE -- "$pat" "$T/out"; then
        echo "FAIL: funk-monitor $* -> rc=$rc (want $code), output:"; sed 's/^/  | /' "$T/out"
        echo "  (wanted /$pat/)"
        fails=$((fails + 1))
    else
        echo "ok: funk-monitor $* -> $rc"
    fi
}

expect 0 "usage: funk-monitor" -- --help
expect 64 "no KERNEL.elf given" --
expect 64 "unknown option '--bogus'" -- --bogus x.elf
expect 64 "even number of MiB" -- --mem=3 x.elf
expect 64 "even number of MiB" -- --mem=abc x.elf
expect 64 "not a number of seconds" -- --timeout=-1 x.elf
expect 64 "expected --block:NAME=PATH" -- --block:disk x.elf
expect 64 "is not kvm, process or auto" -- --isolation=xen x.elf
expect 64 "is not 'Name: value'" -- --fn-header=nocolon x.elf
expect 64 "must start with '/'" -- --fn-path=abc x.elf
expect 66 "cannot open '/nonexistent/disk'" -- --block:disk=/nonexistent/disk x.elf
expect 65 "cannot read '/nonexistent.elf'" -- /nonexistent.elf
printf 'definitely not an ELF file, but longer than sixty-four bytes of header ....\n' >"$T/junk.elf"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    expect 65 "not an ELF file: bad magic" -- "$T/junk.elf"
    head -c 10 "$T/junk.elf" >"$T/short.elf"
    expect 65 "shorter than an ELF header" -- "$T/short.elf"
    # A real host binary: dynamic, PIE.
    expect 65 "ET_DYN|PT_DYNAMIC|not an executable" -- /bin/true
    # Unikernels from the guest helper's build, when this build has them.
    U="${FUNK_BUILD_ROOT:-}/functions"
    if [ -f "$U/hello.elf" ]; then
        expect 0 "Hello" -- --isolation=kvm "$U/hello.elf"
        expect 0 "Hello" -- --isolation=process "$U/hello.elf"
        expect 0 "isolation: (kvm|process) \(auto" -- --verbose "$U/hello.elf"
        expect 65 "declared in the manifest is not attached" -- "$U/test_block.elf"
        expect 65 "declared in the manifest is not attached" -- --isolation=process "$U/test_block.elf"
    else
        echo "note: $U/hello.elf not built here: unikernel runs left to tests/unikernels"
    fi
else
    echo "SKIP (partly): /dev/kvm not usable: load/run checks NOT RUN"
fi
[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all CLI checks passed"
