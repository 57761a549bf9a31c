"""Fewer training steps at today's quality? Held-out ELBO, KL and MIG along training, per β × seed × schedule.

Trains the default model (params.yaml apart from β, seed and the run's schedule) on the full dSprites split,
prepared once in --workdir by the `prepare` stage, through `vae.train.train_vae` itself but without DVC
or MLflow (this asks about quality only), and evaluates it on the held-out images at every --eval-at step
as the `evaluate` stage does: ELBO from one posterior sample per image with the torch RNG seeded by the
run's seed, KL, active units, MIG. The training's RNG state is set aside around each evaluation, so
evaluating does not change the training: the last evaluation is the evaluate stage's figure.

A run is `schedule:steps[:lr[:compile]]` (train.lr_schedule, train.steps, train.lr, and train.compile
when `compile` is given; lr defaults to params.yaml's).
The first --runs entry is the reference the others are judged against. Each finished run is appended to
--results (JSON lines) and runs already there are skipped, so a measurement can grow over several sittings.
The table gives, per β and run, mean ± sd over seeds at each evaluated step; a candidate keeps the quality
at a β when its final mean ELBO is no lower than the reference's mean minus the reference's sd over seeds
(the seed noise), and the verdict line names the βs where it does not.

    .venv/bin/python benchmarks/steps.py --betas 4 --seeds 0,1,2 --runs constant:12000,cosine:5000 --jobs 2
    .venv/bin/python benchmarks/steps.py --betas 4 --seeds 0 --runs constant:200,cosine:100 --eval-at 100,200  # smoke
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import get_args

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from pipeline.core.params import Params, TrainParams, load_params  # noqa: E402
from pipeline.core.paths import Outputs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "steps.jsonl"
METRICS = ("elbo", "recon", "kl", "active_units", "mig")
SCHEDULES = get_args(TrainParams.model_fields["lr_schedule"].annotation)  # train.lr_schedule's choices


@dataclass(frozen=True)
class RunSpec:
    schedule: str
    steps: int
    lr: float
    compile: bool = False

    @classmethod
    def parse(cls, text: str, default_lr: float) -> RunSpec:
        parts = text.split(":")
        if len(parts) not in (2, 3, 4) or parts[3:] not in ([], ["compile"]):
            raise SystemExit(f"--runs: {text!r} is not schedule:steps[:lr[:compile]]")
        if parts[0] not in SCHEDULES:
            raise SystemExit(f"--runs: {text!r}: the schedule must be one of {', '.join(SCHEDULES)}")
        lr = float(parts[2]) if len(parts) > 2 and parts[2] else default_lr
        return cls(parts[0], int(parts[1]), lr, compile=parts[3:] == ["compile"])

    @property
    def label(self) -> str:
        return f"{self.schedule} {self.steps:,} lr {self.lr:g}" + (" compiled" if self.compile else "")


@dataclass(frozen=True)
class Job:
    beta: float
    seed: int
    run: RunSpec
    eval_at: tuple[int, ...]  # steps evaluated (those ≤ the run's steps, and always its last)

    def key(self) -> tuple:
        return (self.beta, self.seed, self.run.schedule, self.run.steps, self.run.lr, self.run.compile)


def _params(base: Params, job: Job) -> Params:
    update = {"beta": job.beta, "seed": job.seed}
    run = job.run
    train = base.train.model_copy(
        update={"steps": run.steps, "lr": run.lr, "lr_schedule": run.schedule, "compile": run.compile}
    )
    return base.model_copy(update={**update, "train": train})


def _train_and_evaluate(base: Params, job: Job, workdir: str, threads: int, commit: str = "") -> dict:
    """One run in a worker process: train, evaluating at the job's steps; returns its results row."""
    import torch

    torch.set_num_threads(threads)
    from pipeline.core.configs import model_config, train_config
    from pipeline.stages.artifacts import load_held_out, load_train_images
    from pipeline.stages.evaluate import encode_held_out, held_out_figures
    from vae.batches import to_device
    from vae.model import VAE
    from vae.resume import rng_state, set_rng_state
    from vae.seeding import pick_device, seed_everything

    params = _params(base, job)
    out = Outputs(Path(workdir))
    generator = seed_everything(params.seed)
    device = pick_device(params.train.device)
    train_images = to_device(load_train_images(out, params.data.dataset), device)
    held_out = load_held_out(out)
    held_out_images = to_device(held_out.images, device)
    model = VAE(model_config(params))
    config = train_config(params, device, dataset_size=len(train_images))
    wanted = {step for step in job.eval_at if step <= config.steps} | {config.steps}
    evals: list[dict] = []
    rates: list[float] = []
    eval_seconds = [0.0]

    def evaluate(point) -> None:
        rates.append(point.images_per_s)
        if point.step not in wanted:
            return
        begun = time.perf_counter()
        saved = rng_state()
        seed_everything(params.seed)  # as the evaluate stage seeds before encoding
        recon, kl_dims, means, _ = encode_held_out(model, held_out_images, params.eval.batch_size)
        set_rng_state(saved)
        figures, _ = held_out_figures(params, recon, kl_dims, means, held_out.factors)
        evals.append({"step": point.step} | {metric: figures[metric] for metric in METRICS})
        eval_seconds[0] += time.perf_counter() - begun

    started = time.perf_counter()
    from vae.train import train_vae

    train_vae(model, train_images, config, generator, evaluate)
    return {
        "beta": job.beta,
        "seed": job.seed,
        **asdict(job.run),
        "evals": evals,
        "train_seconds": round(time.perf_counter() - started - eval_seconds[0], 1),  # evaluations left out
        "eval_seconds": round(eval_seconds[0], 1),
        "median_images_per_s": round(statistics.median(rates), 1),
        "threads": threads,
        "precision": config.precision,
        "commit": commit or _commit(),  # the checkout the command started from
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _commit() -> str:
    """HEAD, marked `+changes` when tracked files differ from it."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode != 0
    return (done.stdout.strip() or "unknown") + ("+changes" if dirty else "")


def _prepare(base: Params, workdir: Path) -> None:
    from pipeline.stages import prepare

    out = Outputs(workdir)
    if not (out.dataset.is_file() and out.split.is_file()):
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        prepare.run(base, out)


def _load(results: Path) -> list[dict]:
    if not results.is_file():
        return []
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


def _key(row: dict) -> tuple:
    return (row["beta"], row["seed"], row["schedule"], row["steps"], row["lr"], row.get("compile", False))


def _mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def prefix_changes(reference_rows: list[dict], end: int) -> list[dict]:
    """Per evaluated step before `end`, each seed's change of ELBO and MIG from its own end: under a constant
    learning rate, training for N steps is exactly the reference run's first N steps (the same batches and
    draws; the step count enters nothing else), so these paired changes are exact for "N steps instead"."""
    finals = {r["seed"]: next(e for e in r["evals"] if e["step"] == end) for r in reference_rows}
    steps = sorted({e["step"] for r in reference_rows for e in r["evals"] if e["step"] < end})
    changes = []
    for step in steps:
        at = {r["seed"]: e for r in reference_rows for e in r["evals"] if e["step"] == step}
        if set(at) != set(finals):
            continue
        seeds = sorted(at)
        changes.append(
            {
                "step": step,
                "seeds": seeds,
                "elbo": [at[s]["elbo"] - finals[s]["elbo"] for s in seeds],
                "mig": [at[s]["mig"] - finals[s]["mig"] for s in seeds],
            }
        )
    return changes


def _print_prefixes(beta: float, reference: RunSpec, mine: list[dict], console: Console) -> None:
    table = Table(title=f"β = {beta:g}: {reference.label} stopped early, each seed against its own end")
    for column in ("steps", "ELBO change (nats) by seed", "mean", "MIG change by seed", "mean"):
        table.add_column(column, justify="right")
    for change in prefix_changes(mine, reference.steps):
        table.add_row(
            f"{change['step']:,}",
            ", ".join(f"{v:+.1f}" for v in change["elbo"]),
            f"{statistics.fmean(change['elbo']):+.1f}",
            ", ".join(f"{v:+.3f}" for v in change["mig"]),
            f"{statistics.fmean(change['mig']):+.3f}",
        )
    console.print(table)


def report(rows: list[dict], runs: list[RunSpec], betas: list[float], seeds: list[int], console: Console) -> bool:
    """Prints the table and the verdict; True when every candidate keeps the quality at every β."""
    kept = True
    for beta in betas:
        table = Table(title=f"β = {beta:g}: held-out metrics, mean ± sd over seeds {seeds}")
        for column in ("run", "step", "n", *METRICS):
            table.add_column(column, justify="left" if column == "run" else "right")
        finals: dict[RunSpec, list[float]] = {}
        prefixes: list[dict] = []
        for run in runs:
            mine = [r for r in rows if _key(r) in {Job(beta, s, run, ()).key() for s in seeds}]
            steps = sorted({e["step"] for r in mine for e in r["evals"]})
            for step in steps:
                at = [e for r in mine for e in r["evals"] if e["step"] == step]
                cells = []
                for metric in METRICS:
                    mean, sd = _mean_sd([float(e[metric]) for e in at])
                    digits = 3 if metric == "mig" else 1
                    cells.append(f"{mean:.{digits}f}" + ("" if math.isnan(sd) else f" ± {sd:.{digits}f}"))
                table.add_row(run.label, f"{step:,}", str(len(at)), *cells)
            finals[run] = [e["elbo"] for r in mine for e in r["evals"] if e["step"] == run.steps]
            if run == runs[0] and run.schedule == "constant" and mine:
                prefixes = mine
        console.print(table)
        if prefixes:
            _print_prefixes(beta, runs[0], prefixes, console)
        reference = runs[0]
        ref_mean, ref_sd = _mean_sd(finals[reference])
        for run in runs[1:]:
            mean, _ = _mean_sd(finals[run])
            if len(finals[run]) < len(seeds) or len(finals[reference]) < len(seeds):
                console.print(f"β = {beta:g}, {run.label}: not every seed measured yet; no verdict")
                kept = False
                continue
            if len(seeds) < 2:
                console.print(f"β = {beta:g}, {run.label}: final ELBO {mean:.1f} vs {ref_mean:.1f}; one seed: no noise")
                kept = False
                continue
            ok = mean >= ref_mean - ref_sd
            kept &= ok
            console.print(
                f"β = {beta:g}, {run.label}: final ELBO {mean:.1f} vs reference {ref_mean:.1f} ± {ref_sd:.1f} → "
                + ("quality kept" if ok else "worse than the reference beyond seed noise")
            )
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", default="0,1,2,4,8,16")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--runs", default="constant:12000,cosine:5000", help="reference first: schedule:steps[:lr[:compile]],…"
    )
    parser.add_argument("--eval-at", default="2000,4000,5000,6000,8000,10000,12000")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one process each)")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1) // 2), help="torch threads a run")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "vae-pipe-steps",
        help="where the prepared data lives",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true", help="print the table from --results, train nothing")
    args = parser.parse_args()

    base = load_params(ROOT / "params.yaml")
    betas = [float(b) for b in args.betas.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [RunSpec.parse(text, base.train.lr) for text in args.runs.split(",")]
    eval_at = tuple(int(s) for s in args.eval_at.split(","))
    if any(step % base.train.log_every for step in eval_at):
        raise SystemExit(f"--eval-at: every step must be a multiple of train.log_every ({base.train.log_every})")
    console = Console(width=None if sys.stdout.isatty() else 150)
    done = {_key(row) for row in _load(args.results)}
    # Longest runs first, so the pool's last minutes are not one long run alone.
    jobs = sorted(
        (Job(b, s, r, eval_at) for r in runs for b in betas for s in seeds),
        key=lambda job: -job.run.steps,
    )
    todo = [job for job in jobs if job.key() not in done]
    if todo and not args.report_only:
        _prepare(base, args.workdir)
        console.print(f"{len(todo)} run(s) to train ({len(jobs) - len(todo)} already in {args.results})")
        args.results.parent.mkdir(parents=True, exist_ok=True)
        commit = _commit()
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            futures = {
                pool.submit(_train_and_evaluate, base, job, str(args.workdir), args.threads, commit): job
                for job in todo
            }
            for future in as_completed(futures):
                row = future.result()
                with args.results.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                final = row["evals"][-1]
                console.print(
                    f"β={row['beta']:g} seed {row['seed']} {futures[future].run.label}: ELBO {final['elbo']:.1f}, "
                    f"MIG {final['mig']:.3f}, {row['train_seconds']:.0f} s training ({row['median_images_per_s']:.0f} images/s)"
                )
    kept = report(_load(args.results), runs, betas, seeds, console)
    return 0 if kept else 1


if __name__ == "__main__":
    sys.exit(main())
