#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deploy/: every YAML and TOML file parses, and the pieces agree (RuntimeClass handler = the
# containerd runtime name; the stack's function uses the funk profile; the Job its RuntimeClass).
set -u
. "$(dirname "$0")/lib.sh"
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"
S=${FUNK_SOURCE_ROOT:-$(dirname "$0")/../..}
python3 - "$S/deploy" <<'EOP'
import glob, os, sys, yaml
try:
    import tomllib
except ImportError:
    tomllib = None
d = sys.argv[1]
docs = {}
for p in sorted(glob.glob(os.path.join(d, "*.yaml")) + glob.glob(os.path.join(d, "*.yml"))):
    with open(p) as f:
        docs[os.path.basename(p)] = list(yaml.safe_load_all(f))
    print("ok: parses:", os.path.basename(p))
assert len(docs) >= 4, "expected the RuntimeClass, Job, Profile and stack files"
rc = docs["runtimeclass.yaml"][0]
assert rc["kind"] == "RuntimeClass" and rc["apiVersion"] == "node.k8s.io/v1", rc
job = docs["hello-job.yaml"][0]
assert job["spec"]["template"]["spec"]["runtimeClassName"] == rc["metadata"]["name"]
prof = docs["openfaas-profile.yaml"][0]
assert prof["spec"]["runtimeClassName"] == rc["metadata"]["name"]
stack = docs["stack.yml"][0]
for name, fn in stack["functions"].items():
    assert fn["annotations"]["com.openfaas.profile"] == prof["metadata"]["name"], name
    assert "funk-monitor" in fn["environment"]["fprocess"], name
print("ok: RuntimeClass, Job, Profile and stack agree")
if tomllib:
    with open(os.path.join(d, "containerd-funk.toml"), "rb") as f:
        t = tomllib.load(f)
    rts = t["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    assert rc["handler"] in rts, "no containerd runtime named " + rc["handler"]
    assert rts[rc["handler"]]["runtime_type"] == "io.containerd.runc.v2"
    assert rts[rc["handler"]]["options"]["BinaryName"].endswith("funk-runtime")
    print("ok: containerd-funk.toml parses and names the RuntimeClass handler")
else:
    print("note: no tomllib (python < 3.11): containerd-funk.toml not parsed")
EOP
check "deploy files" 0 $?
finish
