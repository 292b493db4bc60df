#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/oci: the hello unikernel image through funk-runtime vs the same static hello as an
# ordinary container with runc and crun, under podman run, ctr run (private containerd) and the
# bare runtime CLI, all measured in this run: min/median/p99 wall time, N, ratio to funk.
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build/release}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
N=${BENCH_OCI_N:-40}
pick() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; echo "$1"; }
RUNTIME=$(pick "$FUNK_PREFIX/bin/funk-runtime" "$FUNK_MESON_DIR/oci/funk-runtime")
IMAGE=$(pick "$FUNK_PREFIX/bin/funk-image" "$FUNK_MESON_DIR/oci/funk-image")
HELLO=$(pick "$FUNK_PREFIX/unikernels/hello.elf" "$FUNK_MESON_DIR/functions/hello.elf")
for f in "$RUNTIME" "$IMAGE" "$HELLO"; do
    [ -e "$f" ] || { echo "bench/oci: $f missing (make bench builds it)" >&2; exit 1; }
done
if [ "$(id -u)" -ne 0 ] || ! [ -w /dev/kvm ]; then
    echo "bench/oci: needs root and /dev/kvm: SKIPPED" >&2
    exit 0
fi
# crun 1.8 refuses cgroup "hybrid" mode: run everything in a private mount namespace without
# the cgroup2 mount at /sys/fs/cgroup/unified (shared/notes/machine.md).
if [ -z "${FUNK_BENCH_OCI_NS:-}" ]; then
    exec unshare -m --propagation private env FUNK_BENCH_OCI_NS=1 "$SELF" "$@"
fi
umount /sys/fs/cgroup/unified 2>/dev/null || true

T=$(mktemp -d /tmp/funk-bench-oci.XXXXXX)
CPID=
cleanup() {
    [ -n "$CPID" ] && kill "$CPID" 2>/dev/null && sleep 0.5
    podman rm -af >/dev/null 2>&1 || true
    podman rmi -af >/dev/null 2>&1 || true
    { grep " $T/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$T"
    return 0
}
trap cleanup EXIT
RUNTIME=$(realpath "$RUNTIME")
RES=$T/results
: >"$RES"

# The same static hello for the containers: a tiny static program.
cat >"$T/hello.c" <<'EOC'
#include <unistd.h>
int main(void) { static const char m[] = "Hello from a static container!\n"; return write(1, m, sizeof m - 1) < 0; }
EOC
cc -static -Os -o "$T/static-hello" "$T/hello.c"
mkdir -p "$T/rootfs" && cp "$T/static-hello" "$T/rootfs/hello"

# timeit NAME CMD...: N runs after 3 warm-ups, one line of milliseconds per run into RES
timeit() {
    local name=$1
    shift
    python3 - "$name" "$N" "$@" >>"$RES" <<'EOP' || echo "bench/oci: $1 failed" >&2
import subprocess, sys, time
name, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for _ in range(3):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=True)
xs = []
for _ in range(n):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    xs.append((time.perf_counter() - t) * 1e3)
    if r.returncode != 0:
        sys.exit(name + ": " + r.stderr.decode()[-300:])
print(name, " ".join("%.3f" % x for x in xs))
EOP
}

have() { command -v "$1" >/dev/null; }
crun_ok=0
have crun && have runc && (cd "$T" && mkdir -p probe/rootfs && cp "$T/static-hello" probe/rootfs/hello &&
    cd probe && runc spec && sed -i 's/"terminal": true/"terminal": false/; s|"sh"|"/hello"|' config.json &&
    crun run probe-crun >/dev/null 2>&1) && crun_ok=1
[ $crun_ok = 1 ] || echo "note: crun cannot run here; its rows are left out" >&2

# ---- bare runtime CLI: `RUNTIME run` of a bundle ----
mkdir -p "$T/ubundle/rootfs" && cp "$HELLO" "$T/ubundle/rootfs/hello.elf"
cp "$T/probe/config.json" "$T/ubundle/config.json" 2>/dev/null || (cd "$T/ubundle" && runc spec)
python3 - "$T/ubundle/config.json" <<'EOP'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["args"] = ["/hello.elf"]; c["process"]["terminal"] = False
c.setdefault("annotations", {})["org.funk.unikernel.binary"] = "/hello.elf"
json.dump(c, open(p, "w"))
EOP
timeit "runtime-cli:funk-runtime(unikernel)" "$RUNTIME" --root "$T/rt" run -b "$T/ubundle" b-funk
have runc && timeit "runtime-cli:runc(static)" runc --root "$T/runc" run -b "$T/probe" b-runc
[ $crun_ok = 1 ] && timeit "runtime-cli:crun(static)" crun --root "$T/crun" run -b "$T/probe" b-crun

# ---- podman run ----
if have podman && have conmon; then
    cat >"$T/storage.conf" <<EOC
[storage]
driver = "vfs"
graphroot = "$T/graph"
runroot = "$T/run"
EOC
    printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$T/containers.conf"
    export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf
    "$IMAGE" build "$HELLO" -t funk-bench-hello --archive "$T/hello-uk.tar" >/dev/null
    podman load -q -i "$T/hello-uk.tar" >/dev/null
    tar -C "$T/rootfs" -cf "$T/static.tar" . && podman import -q "$T/static.tar" funk-bench-static >/dev/null
    P="podman run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=1024:1024"
    timeit "podman-run:funk-runtime(unikernel)" $P --runtime "$RUNTIME" funk-bench-hello
    have runc && timeit "podman-run:runc(static)" $P --runtime "$(command -v runc)" funk-bench-static /hello
    [ $crun_ok = 1 ] && timeit "podman-run:crun(static)" $P --runtime "$(command -v crun)" funk-bench-static /hello
    podman save -q --format oci-archive -o "$T/static-oci.tar" localhost/funk-bench-static:latest
else
    echo "note: podman/conmon missing: podman rows left out" >&2
fi

# ---- ctr run (private containerd) ----
if have containerd && have ctr && [ -f "$T/static-oci.tar" ]; then
    D=$T/ctrd
    mkdir -p "$D"
    printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/c.sock"\n[ttrpc]\n  address = "%s/t.sock"\n' \
        "$D" "$D" "$D" "$D" >"$D/config.toml"
    containerd --config "$D/config.toml" >"$D/log" 2>&1 &
    CPID=$!
    for _ in $(seq 100); do [ -S "$D/c.sock" ] && break; sleep 0.1; done
    C="ctr -a $D/c.sock"
    $C images import "$T/hello-uk.tar" >/dev/null
    $C images import --index-name funk-bench-static:latest "$T/static-oci.tar" >/dev/null 2>&1 ||
        $C images import "$T/static-oci.tar" >/dev/null
    SREF=$($C images ls -q | grep funk-bench-static | head -1)
    timeit "ctr-run:funk-runtime(unikernel)" $C run --rm --runtime io.containerd.runc.v2 --runc-binary "$RUNTIME" funk-bench-hello:latest c-funk
    have runc && timeit "ctr-run:runc(static)" $C run --rm --runtime io.containerd.runc.v2 --runc-binary "$(command -v runc)" "$SREF" c-runc /hello
    [ $crun_ok = 1 ] && timeit "ctr-run:crun(static)" $C run --rm --runtime io.containerd.runc.v2 --runc-binary "$(command -v crun)" "$SREF" c-crun /hello
else
    echo "note: containerd/ctr missing: ctr rows left out" >&2
fi

# ---- funk-watchdog (serializing): one unikernel per request vs one native process per request ----
WATCHDOG=$(pick "$FUNK_PREFIX/bin/funk-watchdog" "$FUNK_MESON_DIR/oci/funk-watchdog")
MONITOR=$(pick "$FUNK_PREFIX/bin/funk-monitor" "$FUNK_MESON_DIR/monitor/funk-monitor")
ECHO=$(pick "$FUNK_PREFIX/unikernels/echo.elf" "$FUNK_MESON_DIR/functions/echo.elf")
NATIVE=$(pick "$FUNK_PREFIX/bin/funk-echo-native" "$FUNK_MESON_DIR/functions/funk-echo-native")
wd_bench() { # NAME FPROCESS
    local port=$((30000 + RANDOM % 20000))
    env TMPDIR="$T" port=$port mode=serializing fprocess="$2" "$WATCHDOG" 2>/dev/null &
    local pid=$!
    python3 - "$1" "$((N * 5))" "$port" >>"$RES" <<'EOP' || echo "bench/oci: $1 failed" >&2
import http.client, sys, time
name, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(100):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/_/health"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.05)
def one():
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("POST", "/", body=b"bench body")
    r = c.getresponse(); b = r.read()
    if r.status != 200 or b != b"bench body":
        sys.exit("%s: %d %r" % (name, r.status, b[:80]))
for _ in range(5): one()
xs = []
for _ in range(n):
    t = time.perf_counter(); one(); xs.append((time.perf_counter() - t) * 1e3)
print(name, " ".join("%.3f" % x for x in xs))
EOP
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null || true
}
if [ -x "$WATCHDOG" ] && [ -x "$MONITOR" ] && [ -e "$ECHO" ]; then
    wd_bench "watchdog:funk-monitor(unikernel)" "$MONITOR $ECHO"
    [ -x "$NATIVE" ] && wd_bench "watchdog:native-process" "$NATIVE"
fi

echo "bench/oci: $(nproc) CPUs, $(uname -r), N=$N per row, wall time of the whole client command (ms)"
python3 - "$RES" <<'EOP'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, *xs = line.split()
    rows[name] = sorted(float(x) for x in xs)
def p99(xs): return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
print("%-38s %5s %9s %9s %9s %14s" % ("case", "N", "min", "median", "p99", "ratio-to-funk"))
print("(watchdog rows: one HTTP request each, serializing mode, echo; others: one whole client command)")
for name, xs in rows.items():
    group = name.split(":")[0]
    funk = next(v for k, v in rows.items() if k.split(":")[0] == group)  # each group's first row: funk
    ratio = statistics.median(xs) / statistics.median(funk) if funk else float("nan")
    print("%-38s %5d %9.2f %9.2f %9.2f %13.2fx" % (name, len(xs), xs[0], statistics.median(xs), p99(xs), ratio))
EOP
