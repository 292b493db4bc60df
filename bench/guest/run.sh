#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guest benchmark: one echo request per process, as a fresh unikernel under funk-monitor versus the
# same echo source built natively (funk-echo-native, forked per request), measured side by side;
# then the guest-side cost of SDK primitives next to their naive baselines (guestops unikernel).
set -euo pipefail
PREFIX=${FUNK_PREFIX:-$(cd "$(dirname "$0")/../.." && pwd)/build/release}
N=${N:-300}
python3 - "$PREFIX" "$N" <<'PY'
import os, statistics, sys, tempfile, time

prefix, n = sys.argv[1], int(sys.argv[2])
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
    """Wall time of posix_spawn -> exit of one process, in microseconds."""
    fin = os.open(stdin_path, os.O_RDONLY) if stdin_path else devnull
    acts = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, sink.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, sink.fileno(), 2)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=acts)
    _, st = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    if stdin_path:
        os.close(fin)
    if os.waitstatus_to_exitcode(st) != 0:
        print("bench/guest: %s exited %d" % (" ".join(argv), os.waitstatus_to_exitcode(st)))
        sys.exit(1)
    return (t1 - t0) / 1000.0

cases = [
    ("echo unikernel (funk-monitor, KVM)",
     lambda: spawn([monitor, "--isolation=kvm", "--fn-input=" + body.name, echo])),
    ("echo native (fork+exec per request)",
     lambda: spawn([native], body.name)),
    ("hello unikernel (funk-monitor, KVM)",
     lambda: spawn([monitor, "--isolation=kvm", hello])),
]
samples = {name: [] for name, _ in cases}
for name, f in cases:  # warm-up
    f()
for _ in range(n):  # interleaved so drift hits every case alike
    for name, f in cases:
        samples[name].append(f())
os.unlink(body.name)

def stats(v):
    v = sorted(v)
    return v[0], statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))]

print("guest: one request per process, 1 KiB body, N=%d each (us)" % n)
print("%-40s %9s %9s %9s" % ("case", "min", "median", "p99"))
base = stats(samples[cases[1][0]])[1]
for name, _ in cases:
    mn, md, p99 = stats(samples[name])
    print("%-40s %9.0f %9.0f %9.0f   x%.2f of native echo" % (name, mn, md, p99, md / base))
PY

echo
echo "guest: SDK primitives timed inside one KVM guest (TSC clock); baselines: byte/word loops"
"$PREFIX/bin/funk-monitor" --isolation=kvm "$PREFIX/unikernels/bench_guestops.elf" 2>&1 |
  sed -n 's/^guestop /  /p'
