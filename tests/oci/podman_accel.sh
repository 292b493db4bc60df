#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Accelerator functions in containers: the sgemm unikernel image run by podman through
# funk-runtime reaches funk-accel-agent (annotation org.funk.accel.agent, or the node's
# FUNK_RUNTIME_ACCEL_AGENT) and answers what the native program answers; without an agent, or
# with a request the function refuses, the container exits non-zero (it used to exit 0 with
# "no ACCEL hypercall" as its output).
set -u
. "$(dirname "$0")/lib.sh"
AGENT=$B/accel/agent/funk-accel-agent
SGEMM=$B/functions/sgemm.elf
NATIVE=$B/functions/funk-sgemm-native
need_root
need_bin "$RUNTIME" "$IMAGE" "$MONITOR" "$HELLO" "$AGENT" "$NATIVE"
[ -r "$SGEMM" ] || skip "$SGEMM is not built"
need_kvm
need_cmd podman conmon runc python3
podman_setup
T=$(mktemp -d /tmp/funk-oci-pa.XXXXXX)
AP=
trap '[ -n "$AP" ] && kill "$AP" 2>/dev/null; podman_cleanup; rm -rf "$T"' EXIT

SOCK=$T/accel.sock
FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "unix://$SOCK" --plugins cpu 2>"$T/agent.log" &
AP=$!
for _ in $(seq 200); do [ -S "$SOCK" ] && break; kill -0 "$AP" 2>/dev/null || break; sleep 0.05; done
[ -S "$SOCK" ] || { fail "funk-accel-agent did not start: $(tail -3 "$T/agent.log")"; finish; }

# A fixed 37x29x23 product (the same input as tests/transport/uk.sh); the reference is the native
# program on the cpu plugin.
python3 - "$T/sg.bin" "$T/bad.bin" <<'PY'
import struct, sys
m, n, k = 37, 29, 23
a = [((i * 7) % 19 - 9) / 8.0 for i in range(m * k)]
b = [((i * 5) % 23 - 11) / 16.0 for i in range(k * n)]
open(sys.argv[1], "wb").write(struct.pack("<III", m, n, k) + struct.pack("<%df" % (m * k), *a) + struct.pack("<%df" % (k * n), *b))
open(sys.argv[2], "wb").write(struct.pack("<III", 0, 1, 1))
PY
FUNK_ACCEL_PLUGINS=cpu "$NATIVE" <"$T/sg.bin" >"$T/ref" 2>"$T/ref.err"
checkrc "native sgemm (reference)" 0 $? "$T/ref.err"
check "reference is 37*29 floats" $((37 * 29 * 4)) "$(stat -c %s "$T/ref")"

"$IMAGE" build "$SGEMM" -t funk-test-sgemm --mode fn --memory 64M --archive "$T/sgemm.tar" >/dev/null 2>"$T/err" &&
    podman load -q -i "$T/sgemm.tar" >/dev/null 2>>"$T/err"
checkrc "sgemm image built and loaded" 0 $? "$T/err"

$PODMAN_RUN --rm -i --annotation "org.funk.accel.agent=unix://$SOCK" funk-test-sgemm <"$T/sg.bin" >"$T/out" 2>"$T/err"
checkrc "podman run sgemm with the agent annotation exits 0" 0 $? "$T/err"
cmp -s "$T/ref" "$T/out" && ok "sgemm through podman + agent == native" ||
    fail "sgemm through podman + agent differs from native: $(head -c 200 "$T/out")"

podman --runtime-flag "accel-agent=unix://$SOCK" ${PODMAN_RUN#podman } --rm -i funk-test-sgemm <"$T/sg.bin" >"$T/out" 2>"$T/err"
checkrc "podman --runtime-flag accel-agent=ADDR: sgemm exits 0" 0 $? "$T/err"
cmp -s "$T/ref" "$T/out" && ok "sgemm via funk-runtime --accel-agent == native" ||
    fail "sgemm via funk-runtime --accel-agent differs from native: $(head -c 200 "$T/out")"

# Failures: no agent (ACCEL answers -ENOSYS, the function 502), a request the function refuses
# (400), an agent address that is not one (refused at create, nothing runs).
$PODMAN_RUN --rm -i funk-test-sgemm <"$T/sg.bin" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && ok "no agent: the container exits non-zero ($rc)" || fail "no agent: exit 0, output: $(head -c 200 "$T/out")"
contains "no agent: the function's reason on stdout" "sgemm: no accelerator session" "$(cat "$T/out")"
$PODMAN_RUN --rm -i --annotation "org.funk.accel.agent=unix://$SOCK" funk-test-sgemm <"$T/bad.bin" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && ok "a refused request: non-zero exit ($rc)" || fail "a refused request: exit 0"
contains "a refused request: the function's reason on stdout" "M, N, K must be" "$(cat "$T/out")"
contains "a refused request: funk-runtime says the function failed" "answered status 400" "$(cat "$T/err")"
$PODMAN_RUN --rm -i --annotation "org.funk.accel.agent=ftp://nowhere" funk-test-sgemm <"$T/sg.bin" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && ok "a bad agent address: refused ($rc)" || fail "a bad agent address accepted"
contains "a bad agent address: the message names it" "is not an agent address" "$(cat "$T/err")"
kill "$AP" 2>/dev/null
wait "$AP" 2>/dev/null
AP=
$PODMAN_RUN --rm -i --annotation "org.funk.accel.agent=unix://$SOCK" funk-test-sgemm <"$T/sg.bin" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && ok "agent gone: non-zero exit ($rc)" || fail "agent gone: exit 0"
check "no containers left" "" "$(podman ps -aq)"
finish
