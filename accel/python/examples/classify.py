#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Classifies an image with funk_accel and prints the top labels, one per line: "label score".
    classify.py IMAGE [N]
Runs wherever libfunk-accel finds its plugins: natively (FUNK_ACCEL_PLUGINS=cpu, the default
model from FUNK_MODEL_DIR or <prefix>/share/funk/models) or through funk-accel-agent
(FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=unix:///run/funk/accel.sock)."""
import sys

import funk_accel


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 64
    top = int(sys.argv[2]) if len(sys.argv) == 3 else 5
    with open(sys.argv[1], "rb") as f:
        image = f.read()
    try:
        with funk_accel.Session() as s:
            for label in s.image_classify(image, max=top):
                print(f"{label.label} {label.score:.3f}")
    except funk_accel.Error as e:
        print(f"classify: {e.strerror} ({-e.errno})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
