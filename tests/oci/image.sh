#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# funk-image build: a valid OCI image layout and oci-archive (digests, sizes, annotations,
# reproducible), and clear refusals of bad input that leave nothing behind.
# --ambient-sde: run everything with SOURCE_DATE_EPOCH already set in the environment (as many
# build systems do); the checks must hold either way.
set -u
. "$(dirname "$0")/lib.sh"
if [ "${1:-}" = --ambient-sde ]; then
    export SOURCE_DATE_EPOCH=1234567890
    echo "note: running with SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH in the environment"
fi
need_bin "$IMAGE" "$HELLO"
need_cmd python3
T=$(mktemp -d /tmp/funk-oci-img.XXXXXX)
trap 'rm -rf "$T"' EXIT

out=$("$IMAGE" build "$HELLO" -t funk-hello --cmdline "a b" --memory 16M --isolation process --net net0 -o "$T/layout" --archive "$T/hello.tar")
check "build exits 0" 0 $?
contains "build prints the name and manifest digest" "funk-hello:latest sha256:" "$out"

# Layout: every blob matches its digest and size; the layer holds the ELF and /funk.json.
python3 - "$T/layout" "$HELLO" <<'EOP'
import hashlib, io, json, os, sys, tarfile
root, elf = sys.argv[1], sys.argv[2]
def blob(d):
    algo, hexd = d.split(":")
    data = open(os.path.join(root, "blobs", algo, hexd), "rb").read()
    assert hashlib.sha256(data).hexdigest() == hexd, "digest mismatch " + d
    return data
assert json.load(open(os.path.join(root, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
idx = json.load(open(os.path.join(root, "index.json")))
m = idx["manifests"][0]
assert m["annotations"]["org.opencontainers.image.ref.name"] == "funk-hello:latest"
man_raw = blob(m["digest"]); assert len(man_raw) == m["size"]
man = json.loads(man_raw)
assert man["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
ann = man["annotations"]
assert ann["org.funk.unikernel.binary"] == "/funk-hello.elf", ann
assert ann["org.funk.unikernel.cmdline"] == "a b" and ann["org.funk.unikernel.memory"] == "16M"
assert ann["org.funk.unikernel.isolation"] == "process" and ann["org.funk.unikernel.net"] == "net0"
cfg_raw = blob(man["config"]["digest"]); assert len(cfg_raw) == man["config"]["size"]
cfg = json.loads(cfg_raw)
assert cfg["config"]["Entrypoint"] == ["/funk-hello.elf"] and cfg["config"]["Cmd"] == ["a", "b"]
assert cfg["os"] == "linux" and cfg["architecture"] == "amd64"
layer = man["layers"][0]
data = blob(layer["digest"]); assert len(data) == layer["size"]
assert cfg["rootfs"]["diff_ids"] == [layer["digest"]]
t = tarfile.open(fileobj=io.BytesIO(data))
assert t.extractfile("funk-hello.elf").read() == open(elf, "rb").read()
assert t.getmember("funk-hello.elf").mode & 0o111
fj = json.loads(t.extractfile("funk.json").read())
assert fj["binary"] == "/funk-hello.elf" and fj["memory"] == "16M"
print("layout ok")
EOP
check "layout: digests, sizes, annotations, layer content" 0 $?

mkdir -p "$T/unpacked" && tar -xf "$T/hello.tar" -C "$T/unpacked"
check "archive is a tar" 0 $?
diff -r "$T/layout" "$T/unpacked" >/dev/null
check "archive holds the same layout" 0 $?
# Reproducible: two builds with the same SOURCE_DATE_EPOCH in different wall-clock seconds
# (waited for: the second starts once the clock has moved on) give the same bytes.
SOURCE_DATE_EPOCH=1700000000 "$IMAGE" build "$HELLO" -t funk-hello --archive "$T/r1.tar" >/dev/null
s0=$(date +%s)
for _ in $(seq 300); do [ "$(date +%s)" != "$s0" ] && break; sleep 0.01; done
SOURCE_DATE_EPOCH=1700000000 "$IMAGE" build "$HELLO" -t funk-hello --archive "$T/r2.tar" >/dev/null
cmp -s "$T/r1.tar" "$T/r2.tar"
check "SOURCE_DATE_EPOCH builds are reproducible (same bytes)" 0 $?
layer_of() { python3 -c 'import json,sys,tarfile; t=tarfile.open(sys.argv[1]); i=json.load(t.extractfile("index.json")); m=json.load(t.extractfile("blobs/sha256/"+i["manifests"][0]["digest"][7:])); c=json.load(t.extractfile("blobs/sha256/"+m["config"]["digest"][7:])); print(m["layers"][0]["digest"], c["created"])' "$1"; }
check "the config date follows SOURCE_DATE_EPOCH" "2023-11-14T22:13:20Z" "$(layer_of "$T/r1.tar" | cut -d' ' -f2)"
# Without SOURCE_DATE_EPOCH (unset even when the caller's environment has it): the build time,
# checked as lying between the seconds just before and just after the build (no date
# comparison that midnight could break).
before=$(date -u +%s)
env -u SOURCE_DATE_EPOCH "$IMAGE" build "$HELLO" -t funk-hello --archive "$T/now.tar" >/dev/null
after=$(date -u +%s)
check "same ELF, same layer digest whatever the date" "$(layer_of "$T/r1.tar" | cut -d' ' -f1)" "$(layer_of "$T/now.tar" | cut -d' ' -f1)"
created=$(layer_of "$T/now.tar" | cut -d' ' -f2)
cs=$(date -u -d "$created" +%s 2>/dev/null)
[ -n "$cs" ] && [ "$cs" -ge "$before" ] && [ "$cs" -le "$after" ] && ok "without SOURCE_DATE_EPOCH the date is the build time ($created)" ||
    fail "without SOURCE_DATE_EPOCH: created '$created' is not between $(date -u -d "@$before" +%FT%TZ) and $(date -u -d "@$after" +%FT%TZ)"

bad() { # RC NAME TEXT ARGS...: refused with exit RC (64: a usage error, docs/cli.md; 1: failed)
    local want=$1 name=$2 text=$3
    shift 3
    "$IMAGE" "$@" >"$T/bad.out" 2>&1
    local rc=$?
    [ $rc -eq "$want" ] && ok "$name: refused (exit $rc)" || fail "$name: exit $rc, not $want"
    contains "$name: message" "$text" "$(cat "$T/bad.out")"
    [ -e "$T/bad.tar" ] && fail "$name: left $T/bad.tar" || ok "$name: nothing written"
}
echo "not an elf" >"$T/notelf"
bad 1 "not an ELF" "not an x86_64 ELF64" build "$T/notelf" -t x --archive "$T/bad.tar"
bad 1 "missing ELF" "cannot read" build "$T/nosuch.elf" -t x --archive "$T/bad.tar"
bad 64 "no tag" "-t NAME" build "$HELLO" --archive "$T/bad.tar"
bad 64 "bad name" "not an image name" build "$HELLO" -t "Bad Name" --archive "$T/bad.tar"
bad 64 "bad memory" "not a size" build "$HELLO" -t x --memory lots --archive "$T/bad.tar"
bad 64 "bad mode" "not console or fn" build "$HELLO" -t x --mode batch --archive "$T/bad.tar"
bad 64 "bad isolation" "not kvm, process or auto" build "$HELLO" -t x --isolation vm --archive "$T/bad.tar"
bad 64 "bad net device" "not a manifest device name" build "$HELLO" -t x --net "a b" --archive "$T/bad.tar"
bad 64 "no output" "-o DIR and/or --archive" build "$HELLO" -t x
bad 64 "unknown option" "unknown option" build "$HELLO" -t x --frobnicate --archive "$T/bad.tar"
bad 64 "unknown command" "unknown command 'frobnicate'" frobnicate x
bad 64 "option after a bad one" "unknown option '--bogus'" build --bogus x --help
bad 1 "archive in a missing dir" "cannot write" build "$HELLO" -t x --archive "$T/no/such/dir.tar"
finish
