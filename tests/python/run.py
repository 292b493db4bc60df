#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs a Python program against the built funk_accel package, natively or through an agent:
    run.py native|agent PACKAGE_DIR AGENT TLIB MAKE_TS|none -- PROGRAM [ARGS...]
native: FUNK_ACCEL_PLUGINS=cpu:exec:noop[:torch] with TLIB installed in a private exec directory;
agent:  funk-accel-agent serves cpu:exec:noop[:torch] (TLIB in its exec directory) and the
        program uses the rpc plugin only.
torch is loaded when MAKE_TS (the program writing the TorchScript test model) is given. The
program gets FUNK_PYTEST_MODE, FUNK_PYTEST_EXEC_DIR, FUNK_PYTEST_MAKE_TS and exits with its own
status (77: skipped, with its reason)."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

mode, package_dir, agent, tlib, make_ts = sys.argv[1:6]
plugins = "cpu:exec:noop" + (":torch" if make_ts != "none" else "")
common = {"FUNK_PYTEST_MAKE_TS": "" if make_ts == "none" else make_ts}
prog = sys.argv[sys.argv.index("--") + 1:]
py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

if not os.path.isdir(os.path.join(package_dir, "funk_accel")):
    print(f"SKIP: no built funk_accel package in {package_dir} (python3-dev missing?)")
    sys.exit(77)
if subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode != 0:
    print(f"SKIP: {py} has no numpy (install python3-numpy: scripts/deps.sh)")
    sys.exit(77)


def run(env):
    return subprocess.run([py, *prog], env=env).returncode


if mode == "native":
    tmp = tempfile.mkdtemp(prefix="funk-pytest.")
    try:
        os.makedirs(os.path.join(tmp, "exec"))
        shutil.copyfile(tlib, os.path.join(tmp, "exec", "tlib.so"))
        ex = os.path.join(tmp, "exec")
        sys.exit(run(harness.child_env(package_dir, plugins, {
            **common, "FUNK_PYTEST_MODE": "native", "FUNK_ACCEL_EXEC_DIR": ex,
            "FUNK_PYTEST_EXEC_DIR": ex})))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
elif mode == "agent":
    with harness.Agent(agent, plugins, [(tlib, "tlib.so")]) as a:
        rc = run(harness.child_env(package_dir, "rpc", {
            **common, "FUNK_PYTEST_MODE": "agent", "FUNK_ACCEL_RPC_ADDRESS": a.address,
            "FUNK_PYTEST_EXEC_DIR": a.exec_dir}))
    sys.exit(rc)
else:
    sys.exit(f"run.py: unknown mode {mode}")
