#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A minimal CRI client that drives containerd's CRI plugin the way kubelet does, for the
# oci-cri test: Version, ImageStatus, RunPodSandbox (runtime handler), CreateContainer,
# StartContainer, ContainerStatus, the CRI log file, StopContainer, RemoveContainer,
# StopPodSandbox, RemovePodSandbox, and nothing listed afterwards. Prints "ok: ..." and
# "FAIL: ..." lines; exits 1 when a check failed.
#   cri_client.py SOCKET HANDLER LOGDIR SPEC.json
# SPEC: {"containers": [{"name", "image", "exit": N | null (runs until StopContainer),
#         "stop_exit": N, "log": [substrings], "args": [...],
#         "annotations": {container annotations, as kubelet passes a pod's},
#         "pull": true to PullImage it first (else it was imported),
#         "start_error": substring of the CRI error when StartContainer must be refused}],
#  "pod": "NAME"}
import json
import os
import subprocess
import sys
import tempfile
import time

FAILS = 0


def ok(msg):
    print("ok: " + msg, flush=True)


def fail(msg):
    global FAILS
    FAILS += 1
    print("FAIL: " + msg, flush=True)


def check(msg, want, got):
    if want == got:
        ok(msg)
    else:
        fail("%s: expected %r, got %r" % (msg, want, got))


def compile_proto():
    here = os.path.dirname(os.path.abspath(__file__))
    out = tempfile.mkdtemp(prefix="funk-cri-proto.")
    from grpc_tools import protoc
    rc = protoc.main(["protoc", "-I" + here, "--python_out=" + out, "--grpc_python_out=" + out,
                      os.path.join(here, "cri.proto")])
    if rc != 0:
        print("SKIP: grpc_tools.protoc could not compile cri.proto (rc %d)" % rc)
        sys.exit(77)
    sys.path.insert(0, out)
    import cri_pb2
    import cri_pb2_grpc
    return out, cri_pb2, cri_pb2_grpc


def wait_for(what, fn, deadline_s=30.0):
    """Polls fn() until it returns a true value or the deadline passes (bounded, no fixed sleep)."""
    end = time.monotonic() + deadline_s
    delay = 0.01
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def main():
    sock, handler, logdir, spec_path = sys.argv[1:5]
    spec = json.load(open(spec_path))
    protodir, pb, pbg = compile_proto()
    import grpc
    ch = grpc.insecure_channel("unix://" + sock)
    rt = pbg.RuntimeServiceStub(ch)
    im = pbg.ImageServiceStub(ch)
    T = 30

    v = rt.Version(pb.VersionRequest(version="v1"), timeout=T)
    check("Version: runtime name", "containerd", v.runtime_name)
    check("Version: CRI API", "v1", v.runtime_api_version)
    for c in spec["containers"]:
        if c.get("pull"):
            try:
                ref = im.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=c["image"])),
                                   timeout=120).image_ref
                check("PullImage %s: an image reference comes back" % c["image"], True,
                      ref.startswith("sha256:"))
            except grpc.RpcError as e:
                fail("PullImage %s: %s" % (c["image"], e.details()))
        st = im.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=c["image"])), timeout=T)
        if st.image.id:
            ok("ImageStatus: %s is in the CRI's image store" % c["image"])
        else:
            fail("ImageStatus: %s not found (imported into k8s.io?)" % c["image"])

    pod = spec["pod"]
    # A host-network pod (no CNI needed); pid per container, as kubelet asks for v1 pods.
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD)
    pcfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=pod, uid=pod + "-uid", namespace="default", attempt=0),
        log_directory=logdir, labels={"app": pod},
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    try:
        sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pcfg, runtime_handler=handler),
                               timeout=120).pod_sandbox_id
    except grpc.RpcError as e:
        fail("RunPodSandbox (handler %s): %s" % (handler, e.details()))
        return
    ok("RunPodSandbox with runtime handler '%s'" % handler)
    # With the funk handler the sandbox (pause) goes to funk-runtime too, which hands it to
    # runc with the same --root: runc's state.json, not funk-runtime's, says who runs it.
    sroot = os.environ.get("FUNK_CRI_STATE_ROOT")
    if sroot:
        check("the pause container went through funk-runtime to runc (runc state in its root)",
              (True, False), (os.path.exists(os.path.join(sroot, sid, "state.json")),
                              os.path.exists(os.path.join(sroot, sid, "funk-state.json"))))
    pods = rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=T).items
    mine = [p for p in pods if p.id == sid]
    check("ListPodSandbox: the sandbox is ready, on our handler",
          [(pb.SANDBOX_READY, handler)], [(p.state, p.runtime_handler) for p in mine])

    for c in spec["containers"]:
        name = c["name"]
        logrel = "%s/0.log" % name
        ccfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=c["image"]), args=c.get("args", []),
            envs=[pb.KeyValue(key="GREETING", value="from-cri")], log_path=logrel,
            annotations=c.get("annotations", {}),
            linux=pb.LinuxContainerConfig(
                resources=pb.LinuxContainerResources(memory_limit_in_bytes=32 << 20),
                security_context=pb.LinuxContainerSecurityContext(namespace_options=ns)))
        cid = None
        try:
            cid = rt.CreateContainer(pb.CreateContainerRequest(
                pod_sandbox_id=sid, config=ccfg, sandbox_config=pcfg), timeout=T).container_id
            ok("%s: CreateContainer" % name)
            rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=T)
            if c.get("start_error"):
                fail("%s: StartContainer succeeded; expected it refused" % name)
            else:
                ok("%s: StartContainer" % name)
        except grpc.RpcError as e:
            if c.get("start_error") and cid:
                # the runtime's reason must reach the CRI caller (kubelet shows it as the event)
                if c["start_error"] in (e.details() or ""):
                    ok("%s: StartContainer refused, the CRI error says why" % name)
                else:
                    fail("%s: StartContainer error lacks %r: %s" % (name, c["start_error"],
                                                                    e.details()))
                rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=T)
                ok("%s: RemoveContainer" % name)
            else:
                fail("%s: CreateContainer/StartContainer: %s" % (name, e.details()))
            continue

        def status():
            return rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid),
                                      timeout=T).status
        if c.get("exit") is None:
            check("%s: ContainerStatus says running" % name, pb.CONTAINER_RUNNING, status().state)
            if sroot:
                sf = os.path.join(sroot, cid, "funk-state.json")
                check("%s: funk-runtime runs it (its state in the handler's root)" % name, True,
                      os.path.exists(sf))
                # the container's memory limit (a pod's limits.memory) sizes the guest
                mem = json.load(open(sf)).get("memory") if os.path.exists(sf) else None
                check("%s: the 32 MiB memory limit is the guest's memory" % name, 32 << 20, mem)
            rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=10), timeout=60)
            ok("%s: StopContainer" % name)
            want = c["stop_exit"]
        else:
            want = c["exit"]
        s = wait_for("exit", lambda: (lambda st: st if st.state == pb.CONTAINER_EXITED else None)(
            status()))
        if not s:
            fail("%s: did not exit within 30 s (state %d)" % (name, status().state))
        else:
            check("%s: ContainerStatus exit code" % name, want, s.exit_code)
            check("%s: ContainerStatus log path" % name, os.path.join(logdir, logrel), s.log_path)
            logf = os.path.join(logdir, logrel)
            # The shim copies the output into the log file asynchronously; wait for it.
            needles = c.get("log", [])
            text = wait_for("log", lambda: (lambda t: t if all(n in t for n in needles) else "")(
                open(logf).read() if os.path.exists(logf) else ""), 10) or (
                open(logf).read() if os.path.exists(logf) else "(no log file)")
            for n in needles:
                if n in text:
                    ok("%s: the CRI log file holds %r" % (name, n))
                else:
                    fail("%s: %r not in the CRI log file: %r" % (name, n, text[-2000:]))
            # CRI log format: "TIMESTAMP stdout F LINE"
            lines = [l for l in text.splitlines() if l.strip()]
            if lines and all(l.split(" ")[1] in ("stdout", "stderr") for l in lines):
                ok("%s: log lines are in the CRI format" % name)
            elif lines:
                fail("%s: not CRI log lines: %r" % (name, lines[:3]))
        rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=T)
        ok("%s: RemoveContainer" % name)

    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    ok("StopPodSandbox")
    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    ok("RemovePodSandbox")
    check("ListContainers: none left", [],
          [c.id for c in rt.ListContainers(pb.ListContainersRequest(), timeout=T).containers])
    check("ListPodSandbox: none left", [],
          [p.id for p in rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=T).items])
    subprocess.run(["rm", "-rf", protodir])


if __name__ == "__main__":
    main()
    if FAILS:
        print("%d CRI check(s) failed" % FAILS)
        sys.exit(1)
