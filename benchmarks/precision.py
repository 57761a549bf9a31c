"""FP32 vs BF16 (or FP16), same seed and budget: does mixed precision change what a β-sweep shows?

Runs `vae-pipe sweep` over β × train.precision in a temporary copy of the project (its own git + DVC repo and
MLflow store, the full dataset, the project's params.yaml apart from --steps), then compares the held-out
metrics: per β, each precision's mean and spread over seeds; the gap between the means within --tolerance
percent of the ELBO, and the same direction of change from one β to the next for ELBO, reconstruction, KL
and active units.

    .venv/bin/python benchmarks/precision.py          # β 1,4,16 × seeds 0,1,2 × fp32,bf16, 3,000 steps: ~30 min
    .venv/bin/python benchmarks/precision.py --steps 100 --betas 1,8 --seeds 0   # a smoke run
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

from testkit.project import Project, create_project  # noqa: E402  (the copy the end-to-end tests use)

METRICS = ("elbo", "recon", "kl", "active_units", "mig", "train.mean_images_per_s")
TREND_METRICS = ("elbo", "recon", "kl", "active_units")


@dataclass(frozen=True)
class Point:
    beta: float
    seed: int
    precision: str
    steps: int
    metrics: dict[str, float]

    def get(self, key: str) -> float:
        return float(self.metrics.get(key, math.nan))


def run_sweep(project: Project, betas: str, seeds: str, precisions: str, steps: int, jobs: int | None) -> None:
    command = [
        "vae-pipe",
        "sweep",
        "--beta",
        betas,
        "--seed",
        seeds,
        "--set",
        f"train.precision={precisions}",
        "--set",
        f"train.steps={steps}",
        "--name",
        "precision-comparison",
    ]
    if jobs:
        command += ["--jobs", str(jobs)]
    subprocess.run(command, cwd=project.root, env=project.env, check=True)  # its live table goes to this terminal


def read_points(project_root: Path) -> list[Point]:
    """The project copy's runs, from its MLflow store."""
    from pipeline.tracking.store import EXPERIMENT_NAME, client

    mlflow_client = client(project_root)
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    runs = mlflow_client.search_runs([experiment.experiment_id], max_results=1000)
    return [
        Point(
            float(r.data.params["beta"]),
            int(r.data.params["seed"]),
            r.data.params["train.precision"],
            int(r.data.params["train.steps"]),
            dict(r.data.metrics),
        )
        for r in runs
    ]


def directions(values: list[float]) -> str:
    """↑/↓/= for each step from one β to the next."""
    return "".join("=" if b == a else ("↑" if b > a else "↓") for a, b in zip(values, values[1:]))


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for one value); a missing metric (NaN) gives NaN."""
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def compare(points: list[Point], reference: str, other: str, tolerance_pct: float) -> dict:
    """Per β: each precision's mean and seed spread; the gap between the means against the tolerance (β > 0:
    at β = 0 the KL is not trained, so the ELBO there is no objective's value); trends of the means."""
    groups: dict[tuple[float, str], list[Point]] = {}
    for p in points:
        groups.setdefault((p.beta, p.precision), []).append(p)
    betas = sorted({b for b, _ in groups if (b, reference) in groups and (b, other) in groups})
    rows = []
    for beta in betas:
        row: dict = {"beta": beta}
        for prec in (reference, other):
            members = groups[(beta, prec)]
            row[f"n.{prec}"] = len(members)
            for key in METRICS:
                row[f"{key}.{prec}"], row[f"{key}_sd.{prec}"] = mean_sd([m.get(key) for m in members])
        ref_elbo = row[f"elbo.{reference}"]
        row["elbo_diff_pct"] = (row[f"elbo.{other}"] - ref_elbo) / abs(ref_elbo) * 100
        row["elbo_seed_sd_pct"] = max(row[f"elbo_sd.{p}"] for p in (reference, other)) / abs(ref_elbo) * 100
        rows.append(row)
    trends = {
        key: {prec: directions([r[f"{key}.{prec}"] for r in rows]) for prec in (reference, other)}
        for key in TREND_METRICS
    }
    judged = [abs(r["elbo_diff_pct"]) for r in rows if r["beta"] > 0]
    worst = max(judged, default=math.nan)
    return {
        "reference": reference,
        "other": other,
        "betas": betas,
        "rows": rows,
        "trends": trends,
        "max_abs_elbo_diff_pct": worst,
        "elbo_within_tolerance": worst <= tolerance_pct,
        "same_trends": all(t[reference] == t[other] for t in trends.values()),
        "tolerance_pct": tolerance_pct,
    }


def show(result: dict, console: Console) -> None:
    ref, oth = result["reference"], result["other"]
    table = Table(title=f"Held-out metrics, {ref} vs {oth}: mean ± sd over seeds (same seeds, data and budget)")
    for column in (
        "β",
        "seeds",
        f"ELBO {ref}",
        f"ELBO {oth}",
        "Δ ELBO",
        "seed sd",
        f"recon {ref} / {oth}",
        f"KL {ref} / {oth}",
        f"AU {ref} / {oth}",
        f"MIG {ref} / {oth}",
        f"images/s {ref} / {oth}",
    ):
        table.add_column(column, justify="right")
    for r in result["rows"]:

        def pm(key: str, prec: str, digits: int, r: dict = r) -> str:
            sd = r[f"{key}_sd.{prec}"]
            return f"{r[f'{key}.{prec}']:.{digits}f}" + ("" if math.isnan(sd) else f" ± {sd:.{digits}f}")

        def two(key: str, digits: int, r: dict = r) -> str:
            return f"{r[f'{key}.{ref}']:.{digits}f} / {r[f'{key}.{oth}']:.{digits}f}"

        table.add_row(
            f"{r['beta']:g}",
            f"{r[f'n.{ref}']} / {r[f'n.{oth}']}",
            pm("elbo", ref, 1),
            pm("elbo", oth, 1),
            f"{r['elbo_diff_pct']:+.2f}%",
            f"{r['elbo_seed_sd_pct']:.2f}%",
            two("recon", 1),
            two("kl", 2),
            two("active_units", 1),
            two("mig", 3),
            two("train.mean_images_per_s", 0),
        )
    console.print(table)
    console.print(
        "seed sd: the larger of the two precisions' ELBO standard deviations over seeds, in % of the "
        f"{ref} mean: how far apart two runs of the same precision land."
    )
    trends = Table(
        title="Direction of the mean from one β to the next (" + ", ".join(f"{b:g}" for b in result["betas"]) + ")"
    )
    for column in ("metric", ref, oth, "same"):
        trends.add_column(column)
    for key, by_prec in result["trends"].items():
        trends.add_row(key, by_prec[ref], by_prec[oth], "✓" if by_prec[ref] == by_prec[oth] else "✗")
    console.print(trends)
    mark = {True: "✓", False: "✗"}
    console.print(
        f"largest |Δ ELBO| at β > 0: {result['max_abs_elbo_diff_pct']:.2f}% (≤ {result['tolerance_pct']:g}%: "
        f"{mark[result['elbo_within_tolerance']]}); same β trends: {mark[result['same_trends']]}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="training steps per model (default 3000)")
    parser.add_argument("--betas", default="1,4,16", help="β grid (default 1,4,16)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds, each run at both precisions (default 0,1,2)")
    parser.add_argument("--precisions", default="fp32,bf16", help="reference,other (default fp32,bf16)")
    parser.add_argument("--jobs", type=int, default=None, help="sweep workers (default: vae-pipe sweep's)")
    parser.add_argument("--tolerance", type=float, default=1.0, help="allowed |Δ ELBO| in percent (default 1)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the project copy (vae-pipe ui there shows the runs)")
    parser.add_argument(
        "--project",
        type=Path,
        default=None,
        help="a copy kept by an earlier --keep run: its finished points are not trained again",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the comparison as JSON")
    args = parser.parse_args(argv)
    reference, _, other = args.precisions.partition(",")
    if not other:
        parser.error("--precisions: expected two, e.g. fp32,bf16")
    betas = [float(b) for b in args.betas.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    console = Console(width=None if sys.stdout.isatty() else 150)
    started = time.perf_counter()
    work = None
    if args.project:
        project = Project(args.project.resolve())
    else:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="vae-precision-", dir=args.workdir))
        project = create_project(work / "repo", yaml.safe_load((ROOT / "params.yaml").read_text()))
    try:
        run_sweep(project, args.betas, args.seeds, args.precisions, args.steps, args.jobs)
        points = [p for p in read_points(project.root) if p.beta in betas and p.seed in seeds and p.steps == args.steps]
        result = compare(points, reference, other, args.tolerance)
    finally:
        if work is not None and args.keep:
            console.print(f"project copy kept: {project.root}  (reuse it with --project)")
        elif work is not None:
            shutil.rmtree(work, ignore_errors=True)
    result.update(steps=args.steps, seeds=seeds, seconds=time.perf_counter() - started)
    show(result, console)
    console.print(f"{len(points)} models, {args.steps:,} steps each; {result['seconds'] / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["elbo_within_tolerance"] and result["same_trends"] else 1


if __name__ == "__main__":
    sys.exit(main())
