"""The one recording path: which stage output becomes which MLflow artifact, metric or step metric.

Stages only write files and then call `record_stage`. After a sweep, `record_experiment` makes MLflow
match what DVC holds for an experiment through the same mapping, from the experiment's committed outputs:
DVC can finish an experiment without running any stage (run-cache), so the outputs are the truth and the
run is their record.
"""

from __future__ import annotations

import contextlib
import errno
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

from pipeline.core import timings
from pipeline.core.curves import read_curves
from pipeline.core.errors import OutputError
from pipeline.core.identity import inputs_key
from pipeline.core.params import PARAMS_FILE, Params, flatten, parse_params
from pipeline.core.paths import Outputs, repo_root
from pipeline.core.workspace import check_params_unchanged
from pipeline.tracking.mlmodel import has_logged_model, log_logged_model
from pipeline.tracking.store import EXP_NAME_TAG, MODEL_DIGEST_TAG, ModelRun, check_store, first_line

if TYPE_CHECKING:
    from dvc.api import DVCFileSystem

    from vae.train import CurvePoint

Stage = Literal["train", "evaluate", "plot"]
RECORDED_STAGES: tuple[Stage, ...] = ("train", "evaluate", "plot")
ARTIFACT_DIRS: dict[Stage, str] = {"train": "model", "evaluate": "eval", "plot": "plots"}
RESOLVED_PREFIX = "resolved."  # params: resolved.likelihood, .arch, .precision, .compile (params may say `auto`)
CURVE_PREFIX = "train."  # step metrics: train.loss, train.recon, ... (one per column of curves.csv)
_NAMES = Outputs(Path())
DETAILS_ARTIFACT = f"{ARTIFACT_DIRS['evaluate']}/{_NAMES.details.name}"
CODES_ARTIFACT = f"{ARTIFACT_DIRS['evaluate']}/{_NAMES.codes.name}"


def figure_artifact(name: str) -> str:
    """The artifact path of a figure the plot stage wrote (e.g. `reconstructions.png`)."""
    return f"{ARTIFACT_DIRS['plot']}/{name}"


def stage_files(out: Outputs, stage: Stage) -> list[Path]:
    """The files of a stage that travel to MLflow, all under ARTIFACT_DIRS[stage]."""
    if stage == "train":
        return [out.model, out.objective_state, out.model_card, out.curves]
    if stage == "evaluate":
        return [out.metrics, out.details, out.codes]
    return sorted(out.plots.glob("*.png"))


def log_stage(run: ModelRun, out: Outputs, stage: Stage, *, artifacts: bool = True) -> None:
    """Log what `stage` wrote under `out` into `run`: metrics idempotently, so a retry or repair adds
    nothing twice, and the stage's files as artifacts unless `artifacts` is False; the trained model also
    as the run's MLflow Model (pipeline/tracking/mlmodel.py) when the run lacks it, files or not."""
    if stage == "train":
        card = json.loads(out.model_card.read_text())
        run.log_curves(read_curves(out.curves), prefix=CURVE_PREFIX)
        # The run's average under a name of its own: `train.images_per_s` is the curve, one value per logged step.
        run.log_metrics({"train.seconds": card["train_seconds"], "train.mean_images_per_s": card["images_per_s"]})
        run.set_tags({MODEL_DIGEST_TAG: card["digest"]})
        # What `auto` resolved to: the likelihood an ELBO comes from, the architecture, precision, compile.
        resolved = {key: card["config"][key] for key in ("likelihood", "arch")}
        resolved |= {key: card[key] for key in ("precision", "compile") if key in card}
        run.log_params({f"{RESOLVED_PREFIX}{key}": value for key, value in resolved.items()})
        if not has_logged_model(run):
            with timings.phase("mlflow model"):
                log_logged_model(run, out)
    elif stage == "evaluate":
        run.log_metrics(flatten(json.loads(out.metrics.read_text())))
    if artifacts:
        run.log_artifacts(stage_files(out, stage), ARTIFACT_DIRS[stage])


class _Recording:
    """Whether this stage process's recording fell behind: after the store's first failure it is not tried
    again (each try can cost its timeouts), and the run is completed from the outputs later."""

    behind = False

    @classmethod
    def fell_behind(cls, error: BaseException, where: str) -> None:
        import typer

        cls.behind = True
        reason = first_line(error)
        typer.secho(
            f"warning: MLflow recording is behind from {where} ({reason[:160]}); the stage goes on and writes its "
            "outputs; the run is completed from them when the store answers (the next stage, the next sweep, "
            "or `vae-pipe record`)",
            fg="yellow",
            err=True,
        )


def store_outage(error: BaseException) -> bool:
    """Whether `error` says the store stopped answering (or its disk is full), not that what is recorded is
    wrong: MLflow wraps a failed HTTP call in an MlflowException raised while handling requests' error, so
    the causes are followed. Anything else (a bad key, a permission) is a bug to show, not to wait out."""
    import requests
    from sqlalchemy.exc import OperationalError

    outage = (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError, OperationalError)
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (*outage, ConnectionError, TimeoutError)):
            return True
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextlib.contextmanager
def _outage_tolerated(where: str) -> Iterator[None]:
    """A store outage inside the block makes recording fall behind (one line) instead of failing the stage;
    any other error goes on up."""
    try:
        yield
    except Exception as error:
        if not store_outage(error):
            raise
        _Recording.fell_behind(error, where)


def _has_outputs(out: Outputs, stage: Stage) -> bool:
    return bool(files := stage_files(out, stage)) and all(path.exists() for path in files)


def record_stage(params: Params, out: Outputs, stage: Stage, key: str | None = None) -> str | None:
    """What a stage calls after writing its outputs; returns the MLflow run id, or None when the store does
    not answer (one line says so: the outputs stand, the run is completed later). `key`: the experiment's
    inputs key when the stage already has it (pipeline/core/identity.py)."""
    check_params_unchanged()  # a record never holds params the stage did not run with
    if _Recording.behind:
        return None
    key = key or inputs_key(out.root, params)
    with timings.phase("mlflow record"), _outage_tolerated(f"the {stage} stage's record"):
        return _record_stage(params, out, stage, key)
    return None  # the store stopped answering: recording is behind


def record_workspace(params: Params, out: Outputs) -> tuple[str, list[Stage]]:
    """`vae-pipe record`: the run of this workspace's experiment completed from the outputs it holds (after
    a store outage, say): (run id, the stages whose outputs were found)."""
    found = [stage for stage in RECORDED_STAGES if _has_outputs(out, stage)]
    if not found:
        raise OutputError(f"{out.root}: no stage outputs to record (models/model.pt and the rest); run `dvc repro`")
    from dvc.repo import Repo

    with Repo(str(out.root)) as repo:  # outputs of other params or code would be recorded under this key
        stale = sorted(repo.status(targets=found))
    if stale:
        raise OutputError(
            f"{out.root}: the outputs of {', '.join(stale)} are not current for params.yaml and the code "
            "(`dvc status`): run `dvc repro`, which records them as it goes"
        )
    check_store(repo_root())
    run_id = _record_stage(params, out, found[-1], inputs_key(out.root, params))
    return run_id, found


def _record_stage(params: Params, out: Outputs, stage: Stage, key: str) -> str:
    run = ModelRun.open(repo_root(), key, params)
    # DVC skips an unchanged earlier stage: an experiment that differs only in eval.* still gets the
    # model and curves in its own run, from the outputs DVC checked out.
    for earlier in RECORDED_STAGES[: RECORDED_STAGES.index(stage)]:
        if _has_outputs(out, earlier):
            log_stage(run, out, earlier, artifacts=not run.has_artifacts(ARTIFACT_DIRS[earlier]))
    log_stage(run, out, stage)
    run.complete()  # a training that lost the store could not end its run: its model is here, so it finished
    return run.run_id


@contextlib.contextmanager
def training_run(params: Params, key: str) -> Iterator[Callable[[CurvePoint], None]]:
    """The experiment's run while it trains: RUNNING from the start (a resumed training continues it),
    each curve point logged as it comes, FINISHED when the block ends, FAILED on an error (a divergence
    too), KILLED on Ctrl-C. Yields the per-point logger."""
    from vae.errors import TrainingInterrupted

    run = ModelRun.open(repo_root(), key, params, running=True)
    logged = [run.logged_steps(CURVE_PREFIX + "loss")]

    def log_point(point: CurvePoint) -> None:
        if point.step <= logged[0] or _Recording.behind:  # a resumed training re-logs nothing
            return
        with _outage_tolerated(f"step {point.step:,}"):  # a tracking blip never stops a training
            run.log_step(
                {CURVE_PREFIX + name: value for name, value in point.row().items() if name != "step"}, point.step
            )
            logged[0] = point.step

    def end(status: str) -> None:
        if not _Recording.behind:
            with _outage_tolerated("the end of the training"):
                run.end(status)

    try:
        yield log_point
    except (KeyboardInterrupt, TrainingInterrupted):
        end("KILLED")
        raise
    except BaseException:
        end("FAILED")
        raise
    end("FINISHED")


def record_experiment(root: Path, name: str, rev: str, sweep: str | None = None) -> str:
    """Find or create the MLflow run of DVC experiment `name` (commit `rev`), fill in what it lacks, tag it."""
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(str(root), rev=rev)
    params = parse_params(yaml.safe_load(fs.cat_file(PARAMS_FILE)), f"{PARAMS_FILE}@{name}")
    key = inputs_key(root, params, rev)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Outputs(Path(tmp))
        for path in (staged.model_card, staged.curves, staged.metrics):
            _fetch(fs, staged, path)
        run = ModelRun.open(root, key, params, {EXP_NAME_TAG: name, "dvc.exp_rev": rev})
        run.complete()  # its training may have lost the store before it could end the run
        if sweep:
            run.add_to_sweep(sweep)
        for stage in RECORDED_STAGES:
            missing = not run.has_artifacts(ARTIFACT_DIRS[stage])  # a run-cache hit logged nothing
            # A run recorded before runs held an MLflow Model gets one from the experiment's weights.
            fetch = missing or (stage == "train" and not has_logged_model(run))
            if missing and stage == "plot":
                fs.get(_relative(staged, staged.plots), str(staged.plots), recursive=True)
            for path in stage_files(staged, stage) if fetch else []:
                _fetch(fs, staged, path)
            log_stage(run, staged, stage, artifacts=missing)
    return run.run_id


def _relative(staged: Outputs, path: Path) -> str:
    return path.relative_to(staged.root).as_posix()


def _fetch(fs: DVCFileSystem, staged: Outputs, path: Path) -> None:
    """Copy one output of the experiment into the staging folder (once)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(_relative(staged, path), str(path))
