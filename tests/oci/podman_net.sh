#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podman run --runtime funk-runtime with podman's own bridge network: the guest's frame leaves by
# the container's eth0 (tap funk0 + tc redirect inside the pod's netns) and the reply from the
# host comes back the same way. Any failure of that path is a failure; the host preconditions
# (a bridge network, tc) are checked before anything runs and skip (77) loudly when missing.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_bin "$RUNTIME" "$IMAGE" "$MONITOR" "$B/functions/test_net.elf"
need_kvm
need_cmd podman conmon runc tc ip python3
podman_setup
T=$(mktemp -d /tmp/funk-oci-pmnet.XXXXXX)
resp=
trap '[ -n "$resp" ] && kill "$resp" 2>/dev/null; podman_cleanup; rm -rf "$T"' EXIT

# Preconditions, before running anything: podman's default network is a bridge with a name.
podman network inspect podman >"$T/net.json" 2>"$T/net.err" ||
    skip "podman has no default network 'podman' here: $(cat "$T/net.err")"
read -r DRIVER BR < <(python3 -c '
import json, sys
n = json.load(open(sys.argv[1]))[0]
print(n.get("driver", "") or "-", n.get("network_interface", "") or "-")' "$T/net.json")
[ "$DRIVER" = bridge ] && [ "$BR" != - ] ||
    skip "podman's default network is not a named bridge (driver '$DRIVER', interface '$BR')"

"$IMAGE" build "$B/functions/test_net.elf" -t funk-test-net --net net0 --archive "$T/net.tar" >/dev/null &&
    podman load -q -i "$T/net.tar" >/dev/null 2>"$T/err"
checkrc "network image loaded" 0 $? "$T/err"

# The responder listens on every interface from before the container exists (the bridge may only
# appear with it), answers each ping on the interface it came in by, and runs until killed: no
# window in which the guest's single frame could be missed.
cat >"$T/resp.py" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
open(sys.argv[1], "w").close()
while True:
    f, addr = s.recvfrom(2000)
    if addr[2] == socket.PACKET_OUTGOING or f[14:27] != b"funk-net-ping":
        continue
    s.sendto(f[6:12] + f[6:12] + f[12:14] + b"funk-net-pong" + bytes(33), (addr[0], 0x88b5))
    print("replied on", addr[0], flush=True)
EOP
python3 "$T/resp.py" "$T/resp.ready" >"$T/resp.log" 2>&1 &
resp=$!
for _ in $(seq 200); do [ -e "$T/resp.ready" ] && break; kill -0 $resp 2>/dev/null || break; sleep 0.05; done
[ -e "$T/resp.ready" ] || { fail "the frame responder did not start: $(cat "$T/resp.log")"; finish; }

out=$(timeout 60 podman run --rm --ulimit nofile=20000:20000 --ulimit nproc=1024:1024 \
    --runtime "$(realpath "$RUNTIME")" funk-test-net 2>&1)
rc=$?
check "podman bridge network: guest exits 0" 0 $rc
[ $rc -eq 0 ] || printf -- '--- output of the failed run:\n%s\n--- responder:\n%s\n' "$out" "$(cat "$T/resp.log")"
contains "podman bridge network: the guest's frame got its reply" "net: OK" "$out"
contains "podman bridge network: the frame reached the host" "replied on" "$(cat "$T/resp.log")"
check "no containers left" "" "$(podman ps -aq)"
finish
