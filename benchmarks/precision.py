"""FP32 vs BF16 (or FP16), same seed and budget: does mixed precision change what a β-sweep shows?

Runs `vae-pipe sweep` over β × train.precision in a temporary copy of the project (its own git + DVC repo and
MLflow store, the full dataset, the project's params.yaml apart from --steps), then compares the held-out
metrics of each (β, precision) pair: ELBO within --tolerance percent, and the same direction of change
from one β to the next for ELBO, reconstruction, KL and active units.

    .venv/bin/python benchmarks/precision.py                     # β 0,1,2,4,8,16 × fp32,bf16, 3,000 steps
    .venv/bin/python benchmarks/precision.py --steps 600 --betas 1,8   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import create_project  # noqa: E402  (the project copy the end-to-end tests use)

TREND_METRICS = ("elbo", "recon", "kl", "active_units")


@dataclass(frozen=True)
class Point:
    beta: float
    precision: str
    metrics: dict[str, float]

    def get(self, key: str) -> float:
        return float(self.metrics.get(key, math.nan))


def run_sweep(project_root: Path, env: dict[str, str], betas: str, seed: int, precisions: str, jobs: int | None):
    command = ["vae-pipe", "sweep", "--beta", betas, "--seed", str(seed), "--set", f"train.precision={precisions}",
               "--name", "precision-comparison"]
    if jobs:
        command += ["--jobs", str(jobs)]
    subprocess.run(command, cwd=project_root, env=env, check=True)  # its live table goes to this terminal


def read_points(project_root: Path) -> list[Point]:
    """The sweep's runs from the copy's MLflow store."""
    from pipeline.tracking import EXPERIMENT_NAME, client

    mlflow_client = client(project_root)
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    runs = mlflow_client.search_runs([experiment.experiment_id], max_results=1000)
    return [Point(float(r.data.params["beta"]), r.data.params["train.precision"], dict(r.data.metrics)) for r in runs]


def directions(values: list[float]) -> str:
    """↑/↓/= for each step from one β to the next."""
    return "".join("=" if b == a else ("↑" if b > a else "↓") for a, b in zip(values, values[1:]))


def compare(points: list[Point], reference: str, other: str, tolerance_pct: float) -> dict:
    by = {(p.beta, p.precision): p for p in points}
    betas = sorted({p.beta for p in points if (p.beta, reference) in by and (p.beta, other) in by})
    pairs = []
    for beta in betas:
        ref, oth = by[(beta, reference)], by[(beta, other)]
        elbo_diff_pct = (oth.get("elbo") - ref.get("elbo")) / abs(ref.get("elbo")) * 100
        pairs.append({"beta": beta, "elbo_diff_pct": elbo_diff_pct,
                      **{f"{key}.{prec}": p.get(key) for prec, p in ((reference, ref), (other, oth))
                         for key in ("elbo", "recon", "kl", "active_units", "mig", "train.images_per_s")}})
    trends = {key: {prec: directions([by[(b, prec)].get(key) for b in betas]) for prec in (reference, other)}
              for key in TREND_METRICS}
    worst = max((abs(p["elbo_diff_pct"]) for p in pairs), default=math.nan)
    return {"reference": reference, "other": other, "betas": betas, "pairs": pairs, "trends": trends,
            "max_abs_elbo_diff_pct": worst, "elbo_within_tolerance": worst <= tolerance_pct,
            "same_trends": all(t[reference] == t[other] for t in trends.values()), "tolerance_pct": tolerance_pct}


def show(result: dict, console: Console) -> None:
    ref, oth = result["reference"], result["other"]
    table = Table(title=f"Held-out metrics, {ref} vs {oth} (same seed, data, budget)")
    for column in ("β", f"ELBO {ref}", f"ELBO {oth}", "Δ ELBO", f"recon {ref}/{oth}", f"KL {ref}/{oth}",
                   f"AU {ref}/{oth}", f"MIG {ref}/{oth}", f"images/s {ref}/{oth}"):
        table.add_column(column, justify="right")
    for p in result["pairs"]:
        def two(key: str, digits: int) -> str:
            return f"{p[f'{key}.{ref}']:.{digits}f} / {p[f'{key}.{oth}']:.{digits}f}"

        table.add_row(f"{p['beta']:g}", f"{p[f'elbo.{ref}']:.2f}", f"{p[f'elbo.{oth}']:.2f}",
                      f"{p['elbo_diff_pct']:+.2f}%", two("recon", 1), two("kl", 2), two("active_units", 0),
                      two("mig", 3), two("train.images_per_s", 0))
    console.print(table)
    trends = Table(title="Direction of change from one β to the next (" + ", ".join(f"{b:g}" for b in result["betas"])
                   + ")")
    for column in ("metric", ref, oth, "same"):
        trends.add_column(column)
    for key, by_prec in result["trends"].items():
        trends.add_row(key, by_prec[ref], by_prec[oth], "✓" if by_prec[ref] == by_prec[oth] else "✗")
    console.print(trends)
    mark = {True: "✓", False: "✗"}
    console.print(f"largest |Δ ELBO| {result['max_abs_elbo_diff_pct']:.2f}% (≤ {result['tolerance_pct']:g}%: "
                  f"{mark[result['elbo_within_tolerance']]}); same β trends: {mark[result['same_trends']]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="training steps per model (default 3000)")
    parser.add_argument("--betas", default="0,1,2,4,8,16", help="β grid (default 0,1,2,4,8,16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", default="fp32,bf16", help="reference,other (default fp32,bf16)")
    parser.add_argument("--jobs", type=int, default=None, help="sweep workers (default: vae-pipe sweep's)")
    parser.add_argument("--tolerance", type=float, default=1.0, help="allowed |Δ ELBO| in percent (default 1)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the project copy (its runs: vae-pipe ui there)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the comparison as JSON")
    args = parser.parse_args(argv)
    reference, _, other = args.precisions.partition(",")
    if not other:
        parser.error("--precisions: expected two, e.g. fp32,bf16")

    console = Console(width=None if sys.stdout.isatty() else 150)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["steps"] = args.steps
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vae-precision-", dir=args.workdir))
    started = time.perf_counter()
    try:
        project = create_project(work / "repo", params)
        run_sweep(project.root, project.env, args.betas, args.seed, args.precisions, args.jobs)
        result = compare(read_points(project.root), reference, other, args.tolerance)
    finally:
        if args.keep:
            console.print(f"project copy kept: {work / 'repo'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result.update(steps=args.steps, seed=args.seed, seconds=time.perf_counter() - started)
    show(result, console)
    console.print(f"{len(result['pairs'])} pairs, {args.steps:,} steps each, {result['seconds'] / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["elbo_within_tolerance"] and result["same_trends"] else 1


if __name__ == "__main__":
    sys.exit(main())
