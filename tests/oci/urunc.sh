#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Images laid out for urunc (com.urunc.unikernel.* annotations in config.json, or bunny's
# base64 /urunc.json in the rootfs, the unikernel under /unikernel/) run unchanged through
# funk-runtime, directly and with podman: plain Solo5 hvt guests (hello, blk with urunc's .block
# disk) and a funk guest; urunc hypervisors funk does not run are refused.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_bin "$RUNTIME" "$MONITOR" "$HELLO" "$B/functions/test_globals.elf" "$S5HELLO" "$S5BLK"
need_kvm
GLOBALS=$B/functions/test_globals.elf
T=$(mktemp -d /tmp/funk-oci-urunc.XXXXXX)
ROOT=$T/root
trap 'podman_cleanup; rm -rf "$T"' EXIT
RT() { "$RUNTIME" --root "$ROOT" "$@"; }
b64() { printf %s "$1" | base64 -w0; }

# urunc_rootfs DIR ELF NAME HYPERVISOR CMDLINE: a rootfs as bunny builds it for urunc: the
# unikernel at /unikernel/NAME and /urunc.json with base64 values ("b64:" prefix, and one raw
# value as older bunny wrote them).
urunc_rootfs() {
    mkdir -p "$1/unikernel"
    cp "$2" "$1/unikernel/$3"
    cat >"$1/urunc.json" <<EOJ
{"com.urunc.unikernel.unikernelType":"b64:$(b64 mirage)",
 "com.urunc.unikernel.hypervisor":"$(b64 "$4")",
 "com.urunc.unikernel.binary":"b64:$(b64 "/unikernel/$3")",
 "com.urunc.unikernel.cmdline":"b64:$(b64 "$5")",
 "com.urunc.unikernel.initrd":"","com.urunc.unikernel.block":"","com.urunc.unikernel.blkMntPoint":""}
EOJ
}

# ---- funk-runtime directly: urunc's annotations in config.json ----
mkdir -p "$T/ann/rootfs/unikernel"
cp "$S5HELLO" "$T/ann/rootfs/unikernel/app.hvt"
cat >"$T/ann/config.json" <<EOC
{"ociVersion":"1.0.2","root":{"path":"rootfs"},
 "process":{"args":["/unikernel/app.hvt"],"env":["GREETING=hi-urunc"],"cwd":"/"},
 "annotations":{"com.urunc.unikernel.unikernelType":"mirage","com.urunc.unikernel.hypervisor":"hvt",
  "com.urunc.unikernel.binary":"/unikernel/app.hvt","com.urunc.unikernel.cmdline":"from annotations",
  "com.urunc.unikernel.blkMntPoint":"","com.urunc.unikernel.initrd":""},
 "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"network"}]}}
EOC
out=$(cd "$T/ann" && RT run u1 2>"$T/err")
checkrc "annotations: Solo5 hvt guest exits 0" 0 $? "$T/err"
contains "annotations: urunc's cmdline reaches the Solo5 guest" "Command line is: 'from annotations'" "$out"
contains "annotations: the guest ran to its end" "SUCCESS" "$out"

# ---- funk-runtime directly: only the rootfs's /urunc.json (what podman and the CRI pass) ----
mkdir -p "$T/js/rootfs"
urunc_rootfs "$T/js/rootfs" "$GLOBALS" app.hvt hvt "from urunc.json"
python3 - "$T/ann/config.json" "$T/js/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.pop("annotations", None)
json.dump(c, open(sys.argv[2], "w"))
PY
out=$(cd "$T/js" && RT run u2 2>"$T/err")
checkrc "urunc.json: a funk guest labelled hvt exits 0" 0 $? "$T/err"
contains "urunc.json: the decoded cmdline reaches the guest" "[from] [urunc.json]" "$out"
contains "urunc.json: process.env reaches a funk guest" "GREETING=hi-urunc" "$out"

# ---- urunc's .block: a disk image in the rootfs becomes the Solo5 guest's "storage" device ----
mkdir -p "$T/blk/rootfs"
urunc_rootfs "$T/blk/rootfs" "$S5BLK" blk.hvt hvt ""
truncate -s 4M "$T/blk/rootfs/disk.img"
python3 - "$T/blk/rootfs/urunc.json" <<'PY'
import base64, json, sys
j = json.load(open(sys.argv[1]))
j["com.urunc.unikernel.block"] = "b64:" + base64.b64encode(b"/disk.img").decode()
json.dump(j, open(sys.argv[1], "w"))
PY
cp "$T/js/config.json" "$T/blk/config.json"
out=$(cd "$T/blk" && RT run u4 2>"$T/err")
checkrc "block: Solo5 blk guest exits 0" 0 $? "$T/err"
contains "block: the guest sees the 4 MiB disk as 'storage'" "block size 512, capacity 4194304" "$out"
contains "block: its writes and reads succeed" "SUCCESS" "$out"
check "block: the guest's write reached the rootfs file" "ABCDEFGH" "$(head -c 8 "$T/blk/rootfs/disk.img")"

# ---- a hypervisor funk does not run: refused at create, with the reason; runc never runs it ----
mkdir -p "$T/q/rootfs"
urunc_rootfs "$T/q/rootfs" "$HELLO" kernel qemu "console=ttyS0"
cp "$T/js/config.json" "$T/q/config.json"
out=$(cd "$T/q" && RT run u3 2>&1)
check "qemu image: refused (exit 1)" 1 $?
contains "qemu image: says which hypervisor" "hypervisor 'qemu'" "$out"
contains "qemu image: points at urunc" "run this image with urunc" "$out"
check "no state left in the root" "" "$(ls -A "$ROOT" 2>/dev/null)"

# ---- podman: an image built the way bunny lays urunc images out ----
if ! command -v podman >/dev/null || ! command -v conmon >/dev/null; then
    echo "note: podman/conmon not installed: the podman part is not checked"
    finish
fi
podman_setup
for img in hello:"$S5HELLO":hvt:"via podman" args:"$GLOBALS":hvt:"via podman" qemu:"$HELLO":qemu:""; do
    IFS=: read -r name elf hv cmd <<<"$img"
    mkdir -p "$T/img-$name"
    urunc_rootfs "$T/img-$name" "$elf" "$name.hvt" "$hv" "$cmd"
    tar -C "$T/img-$name" -cf "$T/img-$name.tar" .
    podman import -q --change "CMD [\"/unikernel/$name.hvt\"]" \
        --change "LABEL com.urunc.unikernel.binary=/unikernel/$name.hvt" \
        --change "LABEL com.urunc.unikernel.hypervisor=$hv" \
        "$T/img-$name.tar" "funk-test-urunc-$name" >/dev/null 2>"$T/err" || { fail "podman import $name"; show_err "$T/err"; }
done
out=$($PODMAN_RUN --rm funk-test-urunc-hello 2>"$T/err")
checkrc "podman: urunc image of a Solo5 hvt guest exits 0" 0 $? "$T/err"
contains "podman: the Solo5 guest gets urunc.json's cmdline" "Command line is: 'via podman'" "$out"
out=$($PODMAN_RUN --rm funk-test-urunc-args 2>"$T/err")
checkrc "podman: urunc image with a cmdline exits 0" 0 $? "$T/err"
contains "podman: urunc.json's cmdline reaches the guest" "[via] [podman]" "$out"
out=$($PODMAN_RUN --rm funk-test-urunc-args /unikernel/args.hvt run args 2>"$T/err")
checkrc "podman: run arguments" 0 $? "$T/err"
contains "podman: run arguments replace urunc's cmdline" "[run] [args]" "$out"
$PODMAN_RUN --rm funk-test-urunc-qemu >"$T/out" 2>&1
rc=$?
[ $rc -ne 0 ] && ok "podman: urunc qemu image refused (exit $rc)" || fail "podman: urunc qemu image ran"
contains "podman: the refusal says why" "run this image with urunc" "$(cat "$T/out")"
check "podman: no containers left" "" "$(podman ps -aq)"
finish
