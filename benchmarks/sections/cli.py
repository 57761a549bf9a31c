"""6. CLI and DVC overhead: `vae-pipe --help`, its slowest imports, first and no-op `dvc repro`."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness.children import child_env
from benchmarks.harness.paths import ROOT
from benchmarks.harness.plan import Plan
from benchmarks.harness.results import Out, Results, Target, median


def import_time_top(module: str, top: int = 4) -> list[tuple[str, float]]:
    """The slowest imports under `module` (cumulative seconds), from `python -X importtime`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
    entries, inside = [], False
    for line in reversed(done.stderr.splitlines()):  # a package is printed after everything it imports
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", line)
        if not match:
            continue
        depth = (len(match.group(3)) - 1) // 2
        if depth == 0:
            inside = match.group(4) == module
            if inside:
                entries.append((match.group(4), int(match.group(2)) / 1e6))
        elif inside and depth <= 2:
            entries.append((match.group(4), int(match.group(2)) / 1e6))
    return sorted(entries, key=lambda e: -e[1])[:top]


def bench_cli(plan: Plan, work: Path, out: Out, res: Results) -> None:
    vae_pipe = Path(sys.executable).parent / "vae-pipe"
    help_cmd = [str(vae_pipe), "--help"] if vae_pipe.exists() else [sys.executable, "-m", "pipeline.cli", "--help"]
    subprocess.run(help_cmd, capture_output=True, env=child_env(), cwd=ROOT, check=True)  # warm caches, .pyc
    help_times = []
    for _ in range(plan.repeats):
        start = time.perf_counter()
        subprocess.run(help_cmd, capture_output=True, env=child_env(), cwd=ROOT, check=True)
        help_times.append(time.perf_counter() - start)
    imports = import_time_top("pipeline.cli")
    data: dict[str, Any] = {"help_s": median(help_times), "help_runs": help_times, "top_imports_s": dict(imports)}
    res.targets.append(Target("vae-pipe --help", data["help_s"], "<=", 1.0, "s"))

    out.progress("cli: creating a temporary git + DVC project (testkit.project.create_project), first dvc repro")
    rows = [["vae-pipe --help (s)", data["help_s"]]]
    try:
        from testkit.project import create_project

        project = create_project(work / "dvc" / "repo")
        start = time.perf_counter()
        project.run("dvc", "repro")
        data["first_repro_s"] = time.perf_counter() - start
        noop_times, ran_stage = [], False
        for r in range(plan.repeats):
            out.progress(f"cli: no-op dvc repro {r + 1}/{plan.repeats}")
            start = time.perf_counter()
            done = project.run("dvc", "repro")
            noop_times.append(time.perf_counter() - start)
            ran_stage |= "Running stage" in done.stdout
        data.update(noop_repro_s=median(noop_times), noop_repro_runs=noop_times, noop_ran_a_stage=ran_stage)
        rows += [
            ["first dvc repro, tiny params (s)", data["first_repro_s"]],
            ["no-op dvc repro (s)" + ("  (!! a stage ran)" if ran_stage else ""), data["noop_repro_s"]],
        ]
    except Exception as exc:
        data["dvc_error"] = str(exc)[-2000:]
        rows.append(["dvc repro", f"failed: {str(exc).splitlines()[0][:100]}"])
    rows += [[f"  import {name} (s, cumulative; python -X importtime)", seconds] for name, seconds in imports]
    res.sections["cli"] = data
    out.table("6. CLI and DVC overhead (wall time)", ["figure", "value"], rows)
