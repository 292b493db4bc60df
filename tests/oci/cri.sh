#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes path: containerd's CRI plugin (a private daemon started here) with a runtime
# handler "funk" whose runc binary is funk-runtime, driven by our CRI client (cri_client.py,
# our own subset of the CRI proto) as kubelet drives it. A pod sandbox (a static pause image,
# delegated to runc by funk-runtime) holds funk unikernel images, a urunc-style image of a plain
# Solo5 hvt guest, an image described by pod annotations, a refused urunc qemu image and a
# long-running unikernel stopped by StopContainer; nothing is left behind.
set -u
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
need_root
need_bin "$RUNTIME" "$IMAGE" "$MONITOR" "$HELLO" "$ABORT" "$LOOP" "$B/functions/test_globals.elf" "$S5HELLO"
need_kvm
need_cmd containerd ctr runc cc
PY=/usr/bin/python3
[ -x $PY ] && $PY -c 'import grpc, grpc_tools.protoc' 2>/dev/null ||
    skip "Debian's python3-grpcio and python3-grpc-tools are not installed (scripts/deps.d/oci.txt; run make deps)"
D=$(mktemp -d /tmp/funk-oci-cri.XXXXXX)
FUNK_ROOT=$D/funk-root # the handler's Root; the runc shim adds /k8s.io
cleanup() {
    [ -n "$REGPID" ] && kill "$REGPID" 2>/dev/null && wait "$REGPID" 2>/dev/null
    # a failed run may leave pod containers (the pause process among them): end them through
    # containerd while it still runs, so no process of this test outlives it
    if [ -S "$D/c.sock" ]; then
        for t in $(ctr -a "$D/c.sock" -n k8s.io tasks ls -q 2>/dev/null); do
            timeout 20 ctr -a "$D/c.sock" -n k8s.io tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1
            timeout 20 ctr -a "$D/c.sock" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1
        done
    fi
    if [ -f "$D/pid" ]; then
        pid=$(cat "$D/pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    # shims of a failed run: only those started for this daemon's state dir
    for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $D/c.sock" 2>/dev/null); do kill "$p" 2>/dev/null; done
    grep " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$D"
}
trap cleanup EXIT
mkdir -p "$D/cni-conf" "$D/cni-bin" "$D/logs"

# PullImage: a loopback docker-registry (own storage, a free port from the kernel, retried when
# taken meanwhile) holding the hello image pushed by funk-image; the CRI pulls it over http.
REGPID= PORT=
start_registry() {
    for _ in 1 2 3 4 5; do
        PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
            "$D/reg" "$PORT" >"$D/registry.yml"
        docker-registry serve "$D/registry.yml" >"$D/registry.log" 2>&1 &
        REGPID=$!
        for _ in $(seq 400); do
            kill -0 "$REGPID" 2>/dev/null || break
            curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && return 0
            sleep 0.05
        done
        kill "$REGPID" 2>/dev/null; wait "$REGPID" 2>/dev/null; REGPID=
        grep -q "address already in use" "$D/registry.log" || break
    done
    cat "$D/registry.log"; fail "docker-registry did not start"; PORT=
}
if command -v docker-registry >/dev/null && command -v curl >/dev/null; then
    start_registry
else
    echo "note: docker-registry or curl not installed (scripts/deps.d/oci.txt): PullImage not checked"
fi
PULLREF=
if [ -n "$PORT" ]; then
    PULLREF=localhost:$PORT/funk-test/hello:cri
    "$IMAGE" build "$HELLO" -t funk-test-hello -o "$D/hlayout" >/dev/null 2>"$D/err" &&
        "$IMAGE" push "$D/hlayout" "$PULLREF" >/dev/null 2>>"$D/err"
    checkrc "funk-image push of hello to the loopback registry" 0 $? "$D/err"
fi
cat >"$D/config.toml" <<EOC
version = 2
root = "$D/root"
state = "$D/state"
[grpc]
  address = "$D/c.sock"
[ttrpc]
  address = "$D/c-ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/funk-test-pause:1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$D/cni-bin"
  conf_dir = "$D/cni-conf"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
EOC
[ -n "$PORT" ] && cat >>"$D/config.toml" <<EOC
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost:$PORT"]
  endpoint = ["http://127.0.0.1:$PORT"]
EOC
# The "funk" handler is deploy/containerd-funk.toml itself (what docs/kubernetes.md tells nodes
# to add), with this tree's funk-runtime and a private state root.
S=${FUNK_SOURCE_ROOT:-$HERE/../..}
sed -e '/^version *=/d' -e "s|\"/usr/local/bin/funk-runtime\"|\"$(realpath "$RUNTIME")\"|" \
    -e "s|\"/run/funk-runtime\"|\"$FUNK_ROOT\"|" "$S/deploy/containerd-funk.toml" >>"$D/config.toml"
grep -q "BinaryName = \"$(realpath "$RUNTIME")\"" "$D/config.toml" && grep -q "Root = \"$FUNK_ROOT\"" "$D/config.toml"
check "deploy/containerd-funk.toml: BinaryName and Root substituted" 0 $?
containerd --config "$D/config.toml" >"$D/log" 2>&1 &
echo $! >"$D/pid"
for _ in $(seq 200); do [ -S "$D/c.sock" ] && break; kill -0 "$(cat "$D/pid")" 2>/dev/null || break; sleep 0.05; done
[ -S "$D/c.sock" ] || { tail -20 "$D/log"; skip "the private containerd did not start"; }
CTR="timeout 60 ctr -a $D/c.sock -n k8s.io"
# Is the CRI plugin up? ctr plugins ls lists it as ok or error (with the reason in the log).
crist=$($CTR plugins ls 2>/dev/null | awk '$2 == "cri" {print $NF}')
[ "$crist" = ok ] || { grep -i cri "$D/log" | tail -10; skip "containerd's CRI plugin did not start here (status '$crist')"; }

# Images, imported into the CRI's namespace as kind and air-gapped nodes do.
cc -static -O2 -o "$D/pause" "$HERE/pause.c" 2>"$D/err" || { show_err "$D/err"; skip "cc -static cannot build the pause program (libc6-dev static libc)"; }
mkdir -p "$D/pause-root"
cp "$D/pause" "$D/pause-root/pause"
$PY "$HERE/mkimage.py" "$D/pause-root" localhost/funk-test-pause:1 "$D/pause.tar" --cmd '["/pause"]'
"$IMAGE" build "$HELLO" -t localhost/funk-test-hello --archive "$D/hello.tar" >/dev/null &&
    "$IMAGE" build "$ABORT" -t localhost/funk-test-abort --archive "$D/abort.tar" >/dev/null &&
    "$IMAGE" build "$LOOP" -t localhost/funk-test-loop --archive "$D/loop.tar" >/dev/null
check "funk images built" 0 $?
# urunc-style: the unikernel under /unikernel/, bunny's base64 /urunc.json, labels as bunny sets
mkdir -p "$D/urunc-root/unikernel"
cp "$S5HELLO" "$D/urunc-root/unikernel/app.hvt" # a plain Solo5 hvt guest
b64() { printf %s "$1" | base64 -w0; }
cat >"$D/urunc-root/urunc.json" <<EOJ
{"com.urunc.unikernel.unikernelType":"b64:$(b64 solo5)","com.urunc.unikernel.hypervisor":"b64:$(b64 hvt)",
 "com.urunc.unikernel.binary":"b64:$(b64 /unikernel/app.hvt)","com.urunc.unikernel.cmdline":"b64:$(b64 "from urunc")"}
EOJ
$PY "$HERE/mkimage.py" "$D/urunc-root" localhost/funk-test-urunc:1 "$D/urunc.tar" --cmd '["/unikernel/app.hvt"]' \
    --label com.urunc.unikernel.binary=/unikernel/app.hvt --label com.urunc.unikernel.hypervisor=hvt \
    --label com.urunc.unikernel.unikernelType=solo5 --label "com.urunc.unikernel.cmdline=from urunc"
# a plain image with only the ELF: the pod's annotations describe the unikernel (the handler's
# pod_annotations/container_annotations let org.funk.unikernel.* through to config.json)
mkdir -p "$D/plain-root"
cp "$B/functions/test_globals.elf" "$D/plain-root/app.elf"
$PY "$HERE/mkimage.py" "$D/plain-root" localhost/funk-test-plain:1 "$D/plain.tar" --cmd '["/app.elf"]'
# the same urunc image for qemu: funk-runtime refuses it, the reason reaches the CRI caller
mkdir -p "$D/uq-root/unikernel"
cp "$HELLO" "$D/uq-root/unikernel/kernel"
printf '{"com.urunc.unikernel.unikernelType":"b64:%s","com.urunc.unikernel.hypervisor":"b64:%s","com.urunc.unikernel.binary":"b64:%s"}' \
    "$(b64 unikraft)" "$(b64 qemu)" "$(b64 /unikernel/kernel)" >"$D/uq-root/urunc.json"
$PY "$HERE/mkimage.py" "$D/uq-root" localhost/funk-test-urunc-qemu:1 "$D/urunc-qemu.tar" --cmd '["/unikernel/kernel"]'
for i in pause hello abort loop urunc urunc-qemu plain; do
    $CTR images import "$D/$i.tar" >/dev/null 2>"$D/err" || { fail "ctr -n k8s.io images import $i"; show_err "$D/err"; }
done

PULLED=
[ -n "$PULLREF" ] && PULLED='{"name": "pulled", "image": "'$PULLREF'", "pull": true, "exit": 0, "log": ["stdout F Hello from a funk unikernel!"]},'
cat >"$D/spec.json" <<EOJ
{"pod": "funk-pod-$$",
 "containers": [
  {"name": "hello", "image": "localhost/funk-test-hello:latest", "exit": 0,
   "log": ["stdout F Hello from a funk unikernel!"]},
  $PULLED
  {"name": "abort", "image": "localhost/funk-test-abort:latest", "exit": 255,
   "log": ["abort: calling abort()"]},
  {"name": "urunc", "image": "localhost/funk-test-urunc:1", "exit": 0,
   "log": ["Command line is: 'from urunc'", "SUCCESS"]},
  {"name": "annotated", "image": "localhost/funk-test-plain:1", "exit": 0,
   "annotations": {"org.funk.unikernel.binary": "/app.elf", "org.funk.unikernel.cmdline": "from pod annotations"},
   "log": ["[from] [pod] [annotations]", "GREETING=from-cri"]},
  {"name": "urunc-qemu", "image": "localhost/funk-test-urunc-qemu:1", "start_error": "run this image with urunc"},
  {"name": "loop", "image": "localhost/funk-test-loop:latest", "exit": null, "stop_exit": 143}
 ]}
EOJ
FUNK_CRI_STATE_ROOT=$FUNK_ROOT/k8s.io $PY "$HERE/cri_client.py" "$D/c.sock" funk "$D/logs" "$D/spec.json" >"$D/client.out" 2>&1
rc=$?
cat "$D/client.out"
[ $rc -eq 77 ] && skip "$(grep SKIP "$D/client.out")"
check "CRI client: every check passed" 0 $rc

# Nothing left behind: no task in containerd, no funk-runtime or runc state for the pod.
check "no containers left in containerd (k8s.io)" "" "$($CTR containers ls -q)"
check "no tasks left" "" "$($CTR tasks ls -q 2>/dev/null)"
check "no funk-runtime state left" "" "$(ls -A "$FUNK_ROOT/k8s.io" 2>/dev/null)"
[ "$FAILS" -eq 0 ] || { echo "--- containerd log (tail):"; tail -40 "$D/log"; }
finish
