"""The one recording path: which stage output becomes which MLflow artifact, metric or step metric.

Stages only write files and then call `record_stage`. After a sweep, `record_experiment` makes MLflow
match what DVC holds for an experiment through the same mapping, from the experiment's committed outputs:
DVC can finish an experiment without running any stage (run-cache), so the outputs are the truth and the
run is their record.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

from pipeline.params import PARAMS_FILE, Params, flatten, parse_params
from pipeline.paths import Outputs, repo_root
from pipeline.tracking import SWEEP_TAG, ModelRun

if TYPE_CHECKING:
    from dvc.api import DVCFileSystem

Stage = Literal["train", "evaluate", "plot"]
RECORDED_STAGES: tuple[Stage, ...] = ("train", "evaluate", "plot")
ARTIFACT_DIRS: dict[Stage, str] = {"train": "model", "evaluate": "eval", "plot": "plots"}
RESOLVED_PREFIX = "resolved."  # params: resolved.likelihood, resolved.arch (model.* may say `auto`)
CURVE_PREFIX = "train."  # step metrics: train.loss, train.recon, ... (one per column of curves.csv)
_NAMES = Outputs(Path())
DETAILS_ARTIFACT = f"{ARTIFACT_DIRS['evaluate']}/{_NAMES.details.name}"


def figure_artifact(name: str) -> str:
    """The artifact path of a figure the plot stage wrote (e.g. `reconstructions.png`)."""
    return f"{ARTIFACT_DIRS['plot']}/{name}"


def stage_files(out: Outputs, stage: Stage) -> list[Path]:
    """The files of a stage that travel to MLflow, all under ARTIFACT_DIRS[stage]."""
    if stage == "train":
        return [out.model, out.model_card, out.curves]
    if stage == "evaluate":
        return [out.metrics, out.details]
    return sorted(out.plots.glob("*.png"))


def model_digest(out: Outputs) -> str:
    """The trained model's identity in MLflow, from its model card."""
    return json.loads(out.model_card.read_text())["digest"]


def log_stage(run: ModelRun, out: Outputs, stage: Stage, *, keep_present: bool = False) -> None:
    """Log what `stage` wrote under `out` into `run`: idempotent, so a retry or repair adds nothing twice.
    `keep_present` leaves a stage's artifacts alone when the run already has some."""
    if stage == "train":
        card = json.loads(out.model_card.read_text())
        with out.curves.open(newline="") as handle:
            run.log_curves(csv.DictReader(handle), prefix=CURVE_PREFIX)
        run.log_metrics({"train.seconds": card["train_seconds"], "train.images_per_s": card["images_per_s"]})
        # What `auto` resolved to for this dataset: the likelihood an ELBO comes from, the architecture.
        run.log_params({f"{RESOLVED_PREFIX}{key}": card["config"][key] for key in ("likelihood", "arch")})
    elif stage == "evaluate":
        run.log_metrics(flatten(json.loads(out.metrics.read_text())))
    directory = ARTIFACT_DIRS[stage]
    if not (keep_present and run.has_artifacts(directory)):
        run.log_artifacts(stage_files(out, stage), directory)


def record_stage(params: Params, out: Outputs, stage: Stage) -> str:
    """What a stage calls after writing its outputs; returns the MLflow run id."""
    run = ModelRun.open(repo_root(), model_digest(out), params)
    log_stage(run, out, stage)
    return run.run_id


def record_experiment(root: Path, name: str, rev: str, sweep: str | None = None) -> str:
    """Find or create the MLflow run of DVC experiment `name` (commit `rev`), fill in what it lacks, tag it."""
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(str(root), rev=rev)
    params = parse_params(yaml.safe_load(fs.cat_file(PARAMS_FILE)), f"{PARAMS_FILE}@{name}")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Outputs(Path(tmp))
        for path in (staged.model_card, staged.curves, staged.metrics):
            _fetch(fs, staged, path)
        tags = {"dvc.exp_name": name, "dvc.exp_rev": rev} | ({SWEEP_TAG: sweep} if sweep else {})
        run = ModelRun.open(root, model_digest(staged), params, tags)
        for stage in RECORDED_STAGES:
            if not run.has_artifacts(ARTIFACT_DIRS[stage]):
                if stage == "plot":
                    fs.get(_relative(staged, staged.plots), str(staged.plots), recursive=True)
                for path in stage_files(staged, stage):
                    _fetch(fs, staged, path)
            log_stage(run, staged, stage, keep_present=True)
    return run.run_id


def _relative(staged: Outputs, path: Path) -> str:
    return path.relative_to(staged.root).as_posix()


def _fetch(fs: DVCFileSystem, staged: Outputs, path: Path) -> None:
    """Copy one output of the experiment into the staging folder (once)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(_relative(staged, path), str(path))
