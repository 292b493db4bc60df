#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes a one-layer OCI image archive (what `podman save --format oci-archive` writes) from a
# directory, for tests that need an ordinary image without a registry or podman:
#   mkimage.py DIR NAME:TAG OUT.tar [--cmd JSON-ARRAY] [--label KEY=VALUE]...
import argparse
import hashlib
import io
import json
import tarfile


def blob(out, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest[7:])
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return {"digest": digest, "size": len(data)}


def layer_of(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def clean(ti):
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = 0
            return ti
        t.add(root, arcname=".", filter=clean)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("name")
    ap.add_argument("out")
    ap.add_argument("--cmd", default="[]")
    ap.add_argument("--label", action="append", default=[])
    a = ap.parse_args()
    layer = layer_of(a.dir)
    labels = dict(kv.split("=", 1) for kv in a.label)
    with tarfile.open(a.out, "w") as out:
        ldesc = blob(out, layer)
        config = {
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": json.loads(a.cmd), "Labels": labels, "Env": ["PATH=/"]},
            "rootfs": {"type": "layers", "diff_ids": [ldesc["digest"]]},
        }
        cdesc = blob(out, json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": dict(cdesc, mediaType="application/vnd.oci.image.config.v1+json"),
            "layers": [dict(ldesc, mediaType="application/vnd.oci.image.layer.v1.tar")],
            "annotations": labels,
        }
        mdesc = blob(out, json.dumps(manifest).encode())
        index = {"schemaVersion": 2, "manifests": [dict(
            mdesc, mediaType="application/vnd.oci.image.manifest.v1+json",
            annotations={"org.opencontainers.image.ref.name": a.name})]}
        for name, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                           ("index.json", json.dumps(index).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
