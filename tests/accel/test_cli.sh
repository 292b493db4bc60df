#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end test of the funk-accel binary against the noop plugin: output formats, determinism,
# and a clear error with a non-zero exit code for every kind of bad input.
set -uo pipefail
BIN=${1:?usage: test_cli.sh PATH/TO/funk-accel}
export FUNK_ACCEL_PLUGINS=noop
unset FUNK_ACCEL_PROFILE FUNK_ACCEL_LOG_LEVEL
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE DESCRIPTION -- ARGS...: runs funk-accel, checks the exit code, keeps out/err.
expect() {
  local want=$1 what=$2
  shift 3
  "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$what: exit $rc, expected $want (funk-accel $*)"
    sed 's/^/  stderr: /' "$tmp/err"
    return 1
  fi
  if [ "$want" -ne 0 ] && ! grep -q 'funk-accel: ' "$tmp/err"; then
    fail "$what: no error message on stderr"
    return 1
  fi
  return 0
}

head -c 3000 /dev/urandom >"$tmp/a.jpg"
printf 'other image bytes' >"$tmp/b.jpg"

# plugins: lists noop with its operations.
if expect 0 "plugins" -- plugins; then
  grep -Eq '^noop +0\.1\.0 +0 +available +noop,exec,sgemm,image_classify,image_detect,op,model_run ' \
    "$tmp/out" || fail "plugins: noop line missing: $(cat "$tmp/out")"
fi

# classify: "LABEL SCORE" lines, best first, deterministic for the same bytes.
if expect 0 "classify" -- classify "$tmp/a.jpg"; then
  cp "$tmp/out" "$tmp/c1"
  [ "$(wc -l <"$tmp/c1")" -eq 5 ] || fail "classify: expected 5 lines, got $(wc -l <"$tmp/c1")"
  grep -Evq '^noop[0-9]{3} (0|1)\.[0-9]{3}$' "$tmp/c1" && fail "classify: bad line format"
  sort -k2 -r -n -c "$tmp/c1" 2>/dev/null || fail "classify: scores not in descending order"
  expect 0 "classify again" -- classify "$tmp/a.jpg" && { cmp -s "$tmp/c1" "$tmp/out" || fail "classify: not deterministic"; }
  expect 0 "classify other" -- classify "$tmp/b.jpg" && { cmp -s "$tmp/c1" "$tmp/out" && fail "classify: different images, same labels"; }
fi
expect 0 "classify --top" -- classify "$tmp/a.jpg" --top 2 && \
  { [ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "classify --top 2: $(wc -l <"$tmp/out") lines"; }

# detect: "LABEL SCORE x y w h", scores above --min.
if expect 0 "detect" -- detect "$tmp/a.jpg" --min 50; then
  [ -s "$tmp/out" ] || fail "detect: no detections"
  grep -Evq '^noop[0-9]{3}( [0-9]+\.[0-9]{3}){5}$' "$tmp/out" && fail "detect: bad line format: $(cat "$tmp/out")"
  awk '$2 < 0.5 { exit 1 }' "$tmp/out" || fail "detect: a score below --min 50"
fi

# sgemm: checked against the naive product (odd sizes).
if expect 0 "sgemm --check" -- sgemm 33 17 9 --check; then
  grep -q '^sgemm 33x17x9: .* checksum ' "$tmp/out" || fail "sgemm: no timing/checksum line"
  grep -q '^check: .*: ok$' "$tmp/out" || fail "sgemm: check not ok"
fi

# noop and profile output.
expect 0 "noop" -- noop 1000 && { grep -Eq '^noop: 1000 calls, [0-9.]+ ns/op$' "$tmp/out" || fail "noop: output $(cat "$tmp/out")"; }
FUNK_ACCEL_PROFILE=1 "$BIN" noop 10 >/dev/null 2>"$tmp/err" || fail "noop with profile failed"
grep -Eq '^\[accel\] profile: noop +10 ' "$tmp/err" || fail "FUNK_ACCEL_PROFILE=1: no per-op line: $(cat "$tmp/err")"
expect 0 "--plugins" -- --plugins noop plugins

# Log levels: info shows plugin loading with the component prefix; error hides warnings.
FUNK_ACCEL_LOG_LEVEL=info "$BIN" plugins >/dev/null 2>"$tmp/err" || fail "plugins at info failed"
grep -q '^\[accel\] loaded plugin noop ' "$tmp/err" || fail "LOG_LEVEL=info: no load line: $(cat "$tmp/err")"
FUNK_ACCEL_LOG_LEVEL=warn "$BIN" plugins >/dev/null 2>"$tmp/err" || fail "plugins at warn failed"
[ -s "$tmp/err" ] && fail "LOG_LEVEL=warn: unexpected output: $(cat "$tmp/err")"
FUNK_ACCEL_PLUGINS=noop:no-such-plugin FUNK_ACCEL_LOG_LEVEL=error "$BIN" plugins >/dev/null 2>"$tmp/err"
grep -q '^\[accel\] error: plugin .no-such-plugin. not found' "$tmp/err" || fail "LOG_LEVEL=error: missing error line"
FUNK_ACCEL_LOG_LEVEL=loud "$BIN" plugins >/dev/null 2>"$tmp/err"
grep -q 'FUNK_ACCEL_LOG_LEVEL=loud is not one of' "$tmp/err" || fail "bad LOG_LEVEL: no warning"

# Bad input: usage errors exit 64 (EX_USAGE, as every funk binary), failures exit 1, each with a message.
expect 64 "no command" --
expect 64 "unknown command" -- frobnicate
expect 64 "unknown option" -- --bogus plugins
expect 64 "classify without image" -- classify
expect 64 "classify unknown option" -- classify "$tmp/a.jpg" --bogus 1
expect 64 "classify option without value" -- classify "$tmp/a.jpg" --top
expect 64 "classify --top 0" -- classify "$tmp/a.jpg" --top 0
expect 64 "classify --top word" -- classify "$tmp/a.jpg" --top many
expect 64 "classify --labels without --model" -- classify "$tmp/a.jpg" --labels "$tmp/b.jpg"
expect 64 "detect --min 101" -- detect "$tmp/a.jpg" --min 101
expect 64 "classify: more model options than it keeps" -- classify "$tmp/a.jpg" --model "$tmp/b.jpg" \
  --kind classifier --input 8x8 --mean 0 --scale 1 --channels rgb --layout nchw --kind classifier \
  --input 8x8 --mean 0
expect 64 "sgemm missing sizes" -- sgemm 3 3
expect 64 "sgemm zero size" -- sgemm 0 3 3
expect 64 "sgemm negative size" -- sgemm 3 -3 3
expect 64 "sgemm not a number" -- sgemm a b c
expect 64 "noop not a number" -- noop x
expect 64 "plugins extra argument" -- plugins extra
expect 64 "classify --min (detect only)" -- classify "$tmp/a.jpg" --min 5
expect 64 "unknown short option" -- -x plugins
expect 64 "--plugins without value" -- --plugins
expect 64 "sgemm unknown option" -- sgemm 3 3 3 --fast
expect 64 "sgemm too many sizes" -- sgemm 3 3 3 3

# One option style: --opt VALUE and --opt=VALUE alike; -h/--help and --version answer on stdout.
expect 0 "classify --top=2" -- classify "$tmp/a.jpg" --top=2 && \
  { [ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "classify --top=2: $(wc -l <"$tmp/out") lines"; }
expect 0 "--plugins=noop" -- --plugins=noop plugins
expect 0 "sgemm --repeat=2" -- sgemm 4 4 4 --repeat=2
for h in -h --help; do
  expect 0 "$h" -- $h && { grep -q '^usage: funk-accel ' "$tmp/out" || fail "$h: no usage on stdout"; }
done
expect 0 "--version" -- --version && { grep -Eq '^funk-accel [0-9]+\.[0-9]+\.[0-9]+' "$tmp/out" || fail "--version: $(cat "$tmp/out")"; }

# --draw: a PNG of the same size with the boxes drawn (noop detects on any bytes; the input
# must decode). The same image with no detections gives different pixels than with boxes.
python3 - "$tmp" <<'PY'
import struct, sys, zlib
def png(path, w, h, rows=None):
    raw = b"".join(b"\0" + bytes([(x * 7 + y * 3) % 256 for x in range(w) for _ in range(3)]) for y in range(h)) if rows is None else rows
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(sys.argv[1] + "/in.png", 320, 200)
# hostile: a header that claims 100000x100000 pixels
png(sys.argv[1] + "/huge.png", 100000, 100000, rows=b"")
PY
pngdims() { python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); assert d[:8]==b"\x89PNG\r\n\x1a\n"; print("%dx%d" % struct.unpack(">II", d[16:24]))' "$1"; }
pixels() { python3 -c '
import struct, sys, zlib
d = open(sys.argv[1], "rb").read(); i = 8; idat = b""
while i < len(d):
    n, = struct.unpack(">I", d[i:i+4]); t = d[i+4:i+8]
    if t == b"IDAT": idat += d[i+8:i+8+n]
    i += 12 + n
print(zlib.crc32(zlib.decompress(idat)))' "$1"; }
if expect 0 "detect --draw" -- detect "$tmp/in.png" --min 0 --draw "$tmp/boxes.png"; then
  [ "$(pngdims "$tmp/boxes.png")" = 320x200 ] || fail "detect --draw: output is not a 320x200 PNG"
  grep -q "wrote $tmp/boxes.png" "$tmp/err" || fail "detect --draw: no 'wrote' line on stderr"
  [ -s "$tmp/out" ] || fail "detect --draw: the result lines must still go to stdout"
  expect 0 "detect --draw, nothing found" -- detect "$tmp/in.png" --min 100 --top 1 --draw "$tmp/none.png"
  [ "$(pixels "$tmp/boxes.png")" != "$(pixels "$tmp/none.png")" ] || fail "detect --draw: no boxes drawn"
fi
expect 0 "classify --draw" -- classify "$tmp/in.png" --draw "$tmp/caption.png" && \
  { [ "$(pngdims "$tmp/caption.png")" = 320x200 ] || fail "classify --draw: not a 320x200 PNG"; }
expect 1 "--draw on bytes that are no image" -- detect "$tmp/a.jpg" --draw "$tmp/x.png" && \
  { grep -q 'neither JPEG nor PNG' "$tmp/err" || fail "--draw junk: $(cat "$tmp/err")"; }
printf '\xff\xd8\xff\xe0 truncated jpeg' >"$tmp/trunc.jpg"
expect 1 "--draw on a truncated JPEG" -- detect "$tmp/trunc.jpg" --draw "$tmp/x.png"
expect 1 "--draw on a PNG claiming 100000x100000" -- detect "$tmp/huge.png" --draw "$tmp/x.png" && \
  { grep -q 'too large' "$tmp/err" || fail "--draw huge: $(cat "$tmp/err")"; }
[ -e "$tmp/x.png" ] && fail "--draw wrote an output for a refused input"
expect 1 "classify missing image" -- classify "$tmp/missing.jpg"
: >"$tmp/empty.jpg"
expect 1 "classify empty image" -- classify "$tmp/empty.jpg"
expect 1 "classify missing model" -- classify "$tmp/a.jpg" --model "$tmp/missing.onnx"
expect 1 "classify missing labels" -- classify "$tmp/a.jpg" --model "$tmp/b.jpg" --labels "$tmp/missing.txt"
FUNK_ACCEL_PLUGINS=no-such-plugin expect 1 "unknown plugin" -- plugins && \
  { grep -q 'loading plugins' "$tmp/err" || fail "unknown plugin: message $(cat "$tmp/err")"; }

if [ "$fails" -ne 0 ]; then
  echo "test_cli: $fails failure(s)"
  exit 1
fi
echo "test_cli: all checks passed"
