#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/oci: the hello unikernel image through funk-runtime vs the same static hello as an
# ordinary container with runc and crun, under podman run, ctr run (private containerd) and the
# bare runtime CLI, all measured in this run and interleaved per iteration (interleave.py):
# min/median/p99 wall time of the successful runs, their N, the failed runs, ratio to funk.
# Exits 77 (skipped) where it cannot run.
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
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
    exit 77
fi
DRIVER=$(dirname "$SELF")/interleave.py
# crun 1.8 refuses cgroup "hybrid" mode: run everything in a private mount namespace without
# the cgroup2 mount at /sys/fs/cgroup/unified (crun refuses the hybrid cgroup layout of such hosts).
if [ -z "${FUNK_BENCH_OCI_NS:-}" ]; then
    exec unshare -m --propagation private env FUNK_BENCH_OCI_NS=1 "$SELF" "$@"
fi
umount /sys/fs/cgroup/unified 2>/dev/null || true

T=$(mktemp -d /tmp/funk-bench-oci.XXXXXX)
CPID=
cleanup() {
    for p in ${WDPIDS:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ -n "$CPID" ] && kill "$CPID" 2>/dev/null; then
        for _ in $(seq 100); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.05; done
    fi
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

# group NAME ARGV... [-- NAME ARGV...]...: one group of cases timed interleaved; the first case
# is funk's, the others its baselines.
group() {
    python3 - "$T/spec.json" "$@" <<'EOP'
import json, sys
cases, cur = [], None
for a in sys.argv[2:]:
    if a == "--":
        cur = None
    elif cur is None:
        cur = {"name": a, "cmd": []}
        cases.append(cur)
    else:
        cur["cmd"].append(a)
json.dump({"cases": cases}, open(sys.argv[1], "w"))
EOP
    python3 "$DRIVER" "$RES" "$N" "$T/spec.json" || echo "bench/oci: the driver failed" >&2
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
args=("runtime-cli:funk-runtime(unikernel)" "$RUNTIME" --root "$T/rt" run -b "$T/ubundle" b-funk)
have runc && args+=(-- "runtime-cli:runc(static)" runc --root "$T/runc" run -b "$T/probe" b-runc)
[ $crun_ok = 1 ] && args+=(-- "runtime-cli:crun(static)" crun --root "$T/crun" run -b "$T/probe" b-crun)
group "${args[@]}"

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
    args=("podman-run:funk-runtime(unikernel)" $P --runtime "$RUNTIME" funk-bench-hello)
    have runc && args+=(-- "podman-run:runc(static)" $P --runtime "$(command -v runc)" funk-bench-static /hello)
    [ $crun_ok = 1 ] && args+=(-- "podman-run:crun(static)" $P --runtime "$(command -v crun)" funk-bench-static /hello)
    group "${args[@]}"
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
    # a namespace of its own and the shim's runtime state under $T, not /run/containerd/runc
    C="ctr -a $D/c.sock -n funk-bench-$$"
    $C images import "$T/hello-uk.tar" >/dev/null
    $C images import --index-name funk-bench-static:latest "$T/static-oci.tar" >/dev/null 2>&1 ||
        $C images import "$T/static-oci.tar" >/dev/null
    SREF=$($C images ls -q | grep funk-bench-static | head -1)
    R="$C run --rm --runtime io.containerd.runc.v2 --runc-root $T/ctr-runc"
    args=("ctr-run:funk-runtime(unikernel)" $R --runc-binary "$RUNTIME" funk-bench-hello:latest c-funk)
    have runc && args+=(-- "ctr-run:runc(static)" $R --runc-binary "$(command -v runc)" "$SREF" c-runc /hello)
    [ $crun_ok = 1 ] && args+=(-- "ctr-run:crun(static)" $R --runc-binary "$(command -v crun)" "$SREF" c-crun /hello)
    group "${args[@]}"
else
    echo "note: containerd/ctr missing: ctr rows left out" >&2
fi

# ---- funk-watchdog (serializing): one unikernel per request vs one native process per request ----
WATCHDOG=$(pick "$FUNK_PREFIX/bin/funk-watchdog" "$FUNK_MESON_DIR/oci/funk-watchdog")
MONITOR=$(pick "$FUNK_PREFIX/bin/funk-monitor" "$FUNK_MESON_DIR/monitor/funk-monitor")
ECHO=$(pick "$FUNK_PREFIX/unikernels/echo.elf" "$FUNK_MESON_DIR/functions/echo.elf")
NATIVE=$(pick "$FUNK_PREFIX/bin/funk-echo-native" "$FUNK_MESON_DIR/functions/funk-echo-native")
# start_wd VAR FPROCESS: a serializing watchdog on a kernel-picked port, stored in VAR ("" when
# it did not start)
WDPIDS=
start_wd() {
    local dir port=
    dir=$(mktemp -d "$T/wd.XXXXXX")
    env TMPDIR="$dir" port=0 mode=serializing fprocess="$2" "$WATCHDOG" >/dev/null 2>"$dir/log" &
    WDPIDS="$WDPIDS $!"
    for _ in $(seq 200); do
        port=$(sed -n 's/^funk-watchdog: listening on :\([0-9]*\),.*/\1/p' "$dir/log")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || echo "bench/oci: the watchdog for '$2' did not start: $(tail -2 "$dir/log")" >&2
    printf -v "$1" '%s' "$port"
}
if [ -x "$WATCHDOG" ] && [ -x "$MONITOR" ] && [ -e "$ECHO" ] && [ -x "$NATIVE" ]; then
    # both watchdogs run side by side; requests alternate between them
    start_wd up "$MONITOR $ECHO"
    start_wd np "$NATIVE"
    if [ -n "$up" ] && [ -n "$np" ]; then
        printf '{"cases": [{"name": "watchdog:funk-monitor(unikernel)", "http": %s}, {"name": "watchdog:native-process", "http": %s}]}\n' \
            "$up" "$np" >"$T/spec.json"
        python3 "$DRIVER" "$RES" "$((N * 5))" "$T/spec.json" || echo "bench/oci: the driver failed" >&2
    fi
else
    echo "note: funk-watchdog, funk-monitor, echo.elf or funk-echo-native missing: watchdog rows left out" >&2
fi

echo "bench/oci: $(nproc) CPUs, $(uname -r), N=$N runs per case (watchdog: $((N * 5)) requests), cases of a group interleaved"
python3 - "$RES" <<'EOP'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def p99(xs): return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
print("%-38s %5s %6s %9s %9s %9s %14s" % ("case", "N", "errors", "min", "median", "p99", "ratio-to-funk"))
print("(ms; watchdog rows: one HTTP request each, serializing mode, echo; others: one whole client command;")
print(" N counts successful runs; failed runs are counted in errors and not timed)")
errors = 0
for r in rows:
    xs = sorted(r["xs"])
    errors += r["errors"]
    group = r["name"].split(":")[0]
    funk = sorted(next(q for q in rows if q["name"].split(":")[0] == group)["xs"])  # the group's first: funk
    if not xs:
        print("%-38s %5d %6d %9s %9s %9s %14s" % (r["name"], 0, r["errors"], "-", "-", "-", "-"))
        continue
    ratio = "%13.2fx" % (statistics.median(xs) / statistics.median(funk)) if funk else "%14s" % "-"
    print("%-38s %5d %6d %9.2f %9.2f %9.2f %s" % (r["name"], len(xs), r["errors"], xs[0],
                                                 statistics.median(xs), p99(xs), ratio))
if errors:
    print("bench/oci: %d failed run(s) in total (the first error of each case is on stderr)" % errors)
    sys.exit(1)
EOP
