# SPDX-License-Identifier: Apache-2.0
"""The Python classify example on dog.jpg (as tests/python/run.py set it up: native or through
the agent): it exits 0, prints 5 "label score" lines best first, and "dog" is among them."""
import os
import subprocess
import sys

DOG = "/usr/share/darknet/data/dog.jpg"
if not os.path.exists(DOG) or not os.path.exists(os.path.join(os.environ.get("FUNK_MODEL_DIR", ""), "centernet.onnx")):
    print("SKIP: no dog.jpg (Debian package darknet) or no model (scripts/models.sh)")
    sys.exit(77)
p = subprocess.run([sys.executable, sys.argv[1], DOG], capture_output=True, text=True, timeout=100)
print(p.stdout, end="")
if p.returncode != 0:
    sys.exit(f"FAIL - example exited {p.returncode}: {p.stderr[-500:]}")
rows = [line.rsplit(" ", 1) for line in p.stdout.splitlines()]
scores = [float(s) for _, s in rows]
if len(rows) != 5 or scores != sorted(scores, reverse=True) or "dog" not in [l for l, _ in rows]:
    sys.exit("FAIL - expected 5 labels best first, dog among them")
print(f"ok   - example classify.py ({os.environ.get('FUNK_PYTEST_MODE')}): dog among {[l for l, _ in rows]}")
