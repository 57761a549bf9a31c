"""Fresh child processes (`bench.py --_child KIND ARGS`): peak RSS, thread counts and concurrent workers
can only be measured in a process of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.harness.paths import ROOT, SCRIPT
from benchmarks.harness.plan import MB

MARK = "BENCH_RESULT "  # a child's last stdout line: MARK + JSON


def child_env(threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DVC_NO_ANALYTICS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def run_child(kind: str, args: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """Run `bench.py --_child kind` in a fresh process: (its result, wall seconds, its own peak RSS in MB,
    read by the parent from wait4's rusage of exactly that child)."""
    cmd = [sys.executable, str(SCRIPT), "--_child", kind, json.dumps(args)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env())
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024) / MB
    results = [line[len(MARK) :] for line in out.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not results:
        raise RuntimeError(f"child {kind} failed (exit {proc.returncode}):\n{out[-3000:]}")
    return json.loads(results[-1]), wall, peak
