"""The default sweep end to end, scaled down in steps, and where its time goes: a prediction of `make run`.

Runs `vae-pipe sweep` in a temporary copy of the project (its own git + DVC repo and MLflow store) with the
project's params.yaml (full dataset, default evaluation and plots) apart from --steps, with every stage
process and the sweep itself recording their phases (pipeline/core/timings.py, VAE_PIPE_TIMINGS). Prints the
wall time, training images/s per worker, each per-point cost outside the training loop, the CPU the
`vae-pipe sweep` processes used, and the full sweep predicted by putting the default steps back at the
measured speed. Only the training loop depends on the steps, so the prediction is
    wall + points × (default steps − steps) × batch / (images/s per worker) / workers.

    .venv/bin/python benchmarks/sweep.py                  # the default grid (6 β), 300 steps: ~10 min on 2 idle cores
    .venv/bin/python benchmarks/sweep.py --betas 1,4 --steps 100 --subsample 20000 --small-eval   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core.timings import ENV  # noqa: E402
from pipeline.stages.entry import STAGES  # noqa: E402
from testkit.project import TINY_PARAMS, create_project, merge  # noqa: E402  (the copy the end-to-end tests use)


def sweep_processes(root: Path) -> dict[int, float]:
    """{pid: CPU seconds so far} of every `vae-pipe sweep` process working in `root` (its points' `dvc exp run`
    processes are DVC's share, not counted here)."""
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"vae-pipe\0sweep" not in cmdline or (proc / "cwd").resolve() != root.resolve():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(proc.name)] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, RuntimeError):
            continue
    return found


def run_sweep(root: Path, env: dict[str, str], jobs: int | None, log: Path) -> tuple[float, int, dict[int, float]]:
    """(wall seconds, main pid, {pid: CPU seconds}) of one `vae-pipe sweep`, its output in `log`."""
    command = ["vae-pipe", "sweep", "--name", "bench", "--progress-every", "60"] + (
        ["--jobs", str(jobs)] if jobs else []
    )
    cpu: dict[int, float] = {}
    started = time.time()
    with log.open("w") as handle:
        proc = subprocess.Popen(command, cwd=root, env=env, stdout=handle, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            cpu.update(sweep_processes(root))
            time.sleep(1)
    wall = time.time() - started
    if proc.returncode:
        raise SystemExit(f"vae-pipe sweep exited {proc.returncode}; its output: {log}")
    return wall, proc.pid, cpu


def read_timings(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def per_point_split(
    lines: list[dict],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]], dict[str, int]]:
    """({experiment: {"stage: phase": wall seconds}}, the same for CPU seconds where recorded,
    {stage: processes that ran})."""
    split: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cpu: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    processes: dict[str, int] = defaultdict(int)
    for line in lines:
        if not line["exp"]:
            continue
        name = f"{line['stage'] or '?'}: {line['phase']}"
        split[line["exp"]][name] += line["seconds"]
        if line["cpu"] is not None:
            cpu[line["exp"]][name] += line["cpu"]
        if line["phase"] == "process":
            processes[line["stage"] or "?"] += 1
    return split, cpu, processes


def phase_table(split: dict[str, dict[str, float]]) -> list[tuple[str, float, float]]:
    """(phase, mean seconds per point over the points that had it, in how many points) in stage order;
    `other` = a stage process's life outside its timed phases."""
    names = sorted({name for phases in split.values() for name in phases}, key=_order)
    rows = []
    for name in names:
        values = [phases[name] for phases in split.values() if name in phases]
        rows.append((name, statistics.mean(values), len(values)))
    return rows


def _order(name: str) -> tuple[int, str]:
    stage = name.split(":")[0]
    return (STAGES.index(stage) if stage in STAGES else len(STAGES), name)


def untimed(phases: dict[str, float], stage: str) -> float:
    """A stage process's seconds outside its timed top-level phases (CLI, params, torch set-up, writes)."""
    total = phases.get(f"{stage}: process", 0.0)
    nested = ("inputs key", "mlflow step metrics (within the train loop)")  # timed inside other phases
    timed = sum(
        seconds
        for name, seconds in phases.items()
        if name.startswith(f"{stage}: ")
        and not name.endswith(": process")
        and not name.removeprefix(f"{stage}: ").startswith(nested)
    )
    return total - timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per point (default 300)")
    parser.add_argument("--betas", help="comma-separated β (default: params.yaml's sweep.beta)")
    parser.add_argument("--seeds", help="comma-separated seeds (default: params.yaml's sweep.seed)")
    parser.add_argument("--subsample", type=int, help="data.subsample (default: params.yaml's, the full dataset)")
    parser.add_argument("--jobs", type=int, help="sweep workers (default: vae-pipe sweep's)")
    parser.add_argument(
        "--small-eval",
        action="store_true",
        help="the tests' small evaluation and plot sizes (a smoke run; the scores' own times: benchmarks/scores.py)",
    )
    parser.add_argument("--workdir", type=Path, help="where the project copy goes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the project copy")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)

    defaults = yaml.safe_load((ROOT / "params.yaml").read_text())
    full_steps, batch = defaults["train"]["steps"], defaults["train"]["batch_size"]
    grid = dict(defaults["sweep"])
    if args.betas:
        grid["beta"] = [float(b) for b in args.betas.split(",")]
    if args.seeds:
        grid["seed"] = [int(s) for s in args.seeds.split(",")]
    override = {"train": {"steps": args.steps}, "sweep": grid}
    if args.subsample:
        override["data"] = {"subsample": args.subsample}
    if args.small_eval:
        override |= {"eval": TINY_PARAMS["eval"], "plot": TINY_PARAMS["plot"]}
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")

    work = Path(tempfile.mkdtemp(prefix="vae-pipe-sweep-bench-", dir=args.workdir))
    try:
        project = create_project(work / "repo", merge(defaults, override))
        timings_file = work / "timings.jsonl"
        env = {**project.env, ENV: str(timings_file)}
        wall, main_pid, cpu = run_sweep(project.root, env, args.jobs, work / "sweep.log")
        figures = summarise(read_timings(timings_file), wall, main_pid, cpu, args.steps, full_steps, batch)
        figures["load_average_end"] = os.getloadavg()[0]
        figures["load_average_start"] = load[0]
        print(f"load average at the end: {figures['load_average_end']:.1f}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)  # the copy's DVC site cache lies inside it too
    return 0


def summarise(
    lines: list[dict], wall: float, main_pid: int, cpu: dict[int, float], steps: int, full_steps: int, batch: int
) -> dict:
    """Print the tables and return the figures."""
    split, split_cpu, processes = per_point_split(lines)
    points = len(split)
    loops = [line for line in lines if line["phase"] == "train loop"]
    per_worker = statistics.mean(steps * batch / line["seconds"] for line in loops)
    workers = max(1, _concurrency(lines))
    sweep_lines = [line for line in lines if not line["exp"]]
    sweep_cpu_main = cpu.get(main_pid, 0.0)
    sweep_cpu_forks = sum(seconds for pid, seconds in cpu.items() if pid != main_pid)
    predicted = wall + points * (full_steps - steps) * batch / per_worker / workers

    print(f"\n{points} points × {steps} steps, {workers} worker(s) at once: wall {wall:.0f} s")
    print(f"training images/s per worker (train loop, mean over points): {per_worker:,.0f}")
    print(f"stage processes that ran: {dict(processes)} (prepare runs once; DVC's run-cache restores it after)")
    print("\nper point (mean over the points that ran the phase; CPU where the phase records it):")
    rows = phase_table(split)
    cpu_rows = {name: seconds for name, seconds, _ in phase_table(split_cpu)}
    for name, seconds, count in rows:
        used = f"{cpu_rows[name]:8.2f} s CPU" if name in cpu_rows else " " * 14
        print(f"  {name:<55} {seconds:8.2f} s wall {used}  ({count} points)")
    for stage in STAGES:
        values = [untimed(phases, stage) for phases in split.values() if f"{stage}: process" in phases]
        if values:
            print(f"  {stage + ': untimed (CLI, params, set-up, writes)':<55} {statistics.mean(values):8.2f} s")
    stage_time = statistics.mean(
        sum(seconds for name, seconds in phases.items() if name.endswith(": process")) for phases in split.values()
    )
    dvc_per_point = wall * workers / points - stage_time
    print(
        f"  {'DVC per point: repository copy, checkout, commit':<55} {dvc_per_point:8.2f} s (wall × workers / points − stage processes)"
    )
    print("\nthe vae-pipe sweep process:")
    for line in sweep_lines:
        if line["phase"] != "sweep poll":
            print(f"  {line['phase']:<40} {line['seconds']:8.2f} s wall, {line['cpu'] or 0:7.2f} s CPU")
    polls = [line for line in sweep_lines if line["phase"] == "sweep poll"]
    if polls:
        poll_cpu = sum(line["cpu"] for line in polls)
        print(
            f"  {'sweep poll':<40} {len(polls)} polls, {poll_cpu:.2f} s CPU ({1000 * poll_cpu / len(polls):.0f} ms each)"
        )
    print(
        f"  CPU (from /proc): the command {sweep_cpu_main:.1f} s, DVC's forked watcher copies {sweep_cpu_forks:.1f} s"
    )
    print(f"\npredicted full sweep ({full_steps:,} steps per point): {predicted:,.0f} s = {predicted / 60:.1f} min")
    return {
        "points": points,
        "steps": steps,
        "workers": workers,
        "wall_s": wall,
        "images_per_s_per_worker": per_worker,
        "per_point_phases_s": {name: seconds for name, seconds, _ in rows},
        "per_point_phases_cpu_s": cpu_rows,
        "dvc_per_point_s": dvc_per_point,
        "stage_processes": dict(processes),
        "sweep_cpu_s": {"command": sweep_cpu_main, "forked_copies": sweep_cpu_forks},
        "sweep_phases": sweep_lines,
        "predicted_full_s": predicted,
    }


def _concurrency(lines: list[dict]) -> int:
    """The most train/evaluate/plot/prepare stage processes alive at once: the workers that ran."""
    events = []
    for line in lines:
        if line["phase"] == "process":
            events += [(line["start"], 1), (line["start"] + line["seconds"], -1)]
    alive = peak = 0
    for _, change in sorted(events):
        alive += change
        peak = max(peak, alive)
    return peak


if __name__ == "__main__":
    raise SystemExit(main())
