#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The image funk-image pushes to a registry runs under podman too: docker-registry on a free
# loopback port (own storage; never the Debian package's systemd service), funk-image push,
# podman pull --tls-verify=false, podman run --runtime funk-runtime.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_bin "$RUNTIME" "$IMAGE" "$ECHO" "$MONITOR"
need_cmd docker-registry python3 curl
need_kvm
podman_setup
T=$(mktemp -d /tmp/funk-oci-reg.XXXXXX)
REGPID=
cleanup() {
    [ -n "$REGPID" ] && kill "$REGPID" 2>/dev/null && wait "$REGPID" 2>/dev/null
    podman_cleanup
    rm -rf "$T"
}
trap cleanup EXIT

# a free port from the kernel; started again on a new one when another process took it first
for attempt in 1 2 3 4 5; do
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$T/registry.yml" <<EOC
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $T/storage
http:
  addr: 127.0.0.1:$PORT
EOC
    docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
    REGPID=$!
    up=0
    for _ in $(seq 400); do
        kill -0 "$REGPID" 2>/dev/null || break
        curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && { up=1; break; }
        sleep 0.05
    done
    [ $up = 1 ] && break
    kill "$REGPID" 2>/dev/null; wait "$REGPID" 2>/dev/null; REGPID=
    grep -q "address already in use" "$T/registry.log" || { cat "$T/registry.log"; fail "docker-registry did not start"; finish; }
done
[ -n "$REGPID" ] || { fail "no free port for docker-registry"; finish; }
REF=localhost:$PORT/funk-test/echo:reg

"$IMAGE" build "$ECHO" -t funk-test-echo --mode fn -o "$T/layout" >/dev/null 2>"$T/err"
checkrc "funk-image build" 0 $? "$T/err"
digest=$("$IMAGE" push "$T/layout" "$REF" 2>"$T/err")
checkrc "funk-image push to the registry" 0 $? "$T/err"
podman pull -q --tls-verify=false "$REF" >/dev/null 2>"$T/err"
checkrc "podman pull --tls-verify=false of the pushed image" 0 $? "$T/err"
check "podman sees the pushed digest" "$digest" "$(podman image inspect -f '{{.Digest}}' "$REF" 2>/dev/null)"
out=$(echo "through the registry" | $PODMAN_RUN --rm -i "$REF" 2>"$T/err")
checkrc "podman run --runtime funk-runtime of the pulled image" 0 $? "$T/err"
check "its output" "through the registry" "$out"
finish
