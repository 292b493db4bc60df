#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guest benchmark: one echo request per process, as a fresh unikernel under funk-monitor (process
# and KVM backends) versus the same echo source built natively (funk-echo-native, forked per
# request), interleaved in one run; then the guest-side cost of SDK primitives next to their
# naive baselines (guestops unikernel).
set -euo pipefail
PREFIX=${FUNK_PREFIX:-$(cd "$(dirname "$0")/../.." && pwd)/build}
N=${N:-300}
KVM=1
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ] ||
    ! "$PREFIX/bin/funk-monitor" --isolation=kvm "$PREFIX/unikernels/hello.elf" >/dev/null 2>&1; then
    KVM=0
    echo "bench/guest: WARNING: KVM does not run hello here: KVM rows NOT MEASURED" >&2
fi
python3 - "$PREFIX" "$N" "$KVM" <<'PY'
import os, statistics, sys, tempfile, time

prefix, n, kvm = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
monitor = os.path.join(prefix, "bin", "funk-monitor")
native = os.path.join(prefix, "bin", "funk-echo-native")
echo = os.path.join(prefix, "unikernels", "echo.elf")
hello = os.path.join(prefix, "unikernels", "hello.elf")
for p in (monitor, native, echo, hello):
    if not os.path.exists(p):
        print("bench/guest: missing %s (build and install first)" % p)
        sys.exit(1)

body = tempfile.NamedTemporaryFile(prefix="funk-bench-", delete=False)
body.write(b"x" * 1024)
body.close()
devnull = os.open(os.devnull, os.O_RDWR)
# Output goes to a regular file, not /dev/null: funk-monitor's seccomp filter currently kills it
# when stdout is a character device (glibc's isatty ioctl on first write).
sink = tempfile.TemporaryFile(prefix="funk-bench-out-")

def spawn(argv, stdin_path=None):
    """Wall time of posix_spawn -> exit of one process in microseconds; None if it failed."""
    fin = os.open(stdin_path, os.O_RDONLY) if stdin_path else devnull
    acts = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, sink.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, sink.fileno(), 2)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=acts)
    _, st = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    if stdin_path:
        os.close(fin)
    return (t1 - t0) / 1000.0 if os.waitstatus_to_exitcode(st) == 0 else None

NATIVE = "echo native (fork+exec per request)"
cases = [(NATIVE, lambda: spawn([native], body.name))]
for iso in ["process"] + (["kvm"] if kvm else []):
    cases += [
        ("echo unikernel (funk-monitor, %s)" % iso,
         lambda iso=iso: spawn([monitor, "--isolation=" + iso, "--fn-input=" + body.name, echo])),
        ("hello unikernel (funk-monitor, %s)" % iso,
         lambda iso=iso: spawn([monitor, "--isolation=" + iso, hello])),
    ]
samples = {name: [] for name, _ in cases}
errors = {name: 0 for name, _ in cases}
for name, f in cases:  # warm-up
    f()
for r in range(n):  # interleaved round robin, the order rotating, so drift hits every case alike
    for j in range(len(cases)):
        name, f = cases[(r + j) % len(cases)]
        t = f()
        if t is None:
            errors[name] += 1
        else:
            samples[name].append(t)
os.unlink(body.name)

def stats(v):
    v = sorted(v)
    return v[0], statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))]

print("guest: one request per process, 1 KiB body, interleaved round robin over %d rounds (us);"
      % n)
print("failed runs are counted as errors and left out of the times")
print("%-40s %6s %9s %9s %9s %6s" % ("case", "N", "min", "median", "p99", "errors"))
base = stats(samples[NATIVE])[1] if samples[NATIVE] else None
for name, _ in cases:
    if not samples[name]:
        print("%-40s %6d  (every run failed: %d errors)" % (name, 0, errors[name]))
        continue
    mn, md, p99 = stats(samples[name])
    ratio = "   x%.2f of native echo" % (md / base) if base else ""
    print("%-40s %6d %9.0f %9.0f %9.0f %6d%s" % (name, len(samples[name]), mn, md, p99,
                                                 errors[name], ratio))
if not kvm:
    print("%-40s %6s  (not measured: no usable KVM)" % ("echo/hello unikernel (funk-monitor, kvm)",
                                                        "-"))
if sum(errors.values()):
    print("bench/guest: %d failed run(s), see the errors column" % sum(errors.values()))
    sys.exit(1)
PY

for ISO in process $([ $KVM = 1 ] && echo kvm); do
    echo
    echo "guest: SDK primitives timed inside one guest ($ISO backend, TSC clock); baselines: byte/word loops"
    "$PREFIX/bin/funk-monitor" --isolation=$ISO "$PREFIX/unikernels/bench_guestops.elf" 2>&1 |
        sed -n 's/^guestop /  /p'
done
