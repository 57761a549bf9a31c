"""`vae-pipe register`: the best run of a sweep per (objective, dataset, likelihood) as a version of a
registered model, under an alias that says by which score it won (`best-mig`).

One registered model per (objective, dataset, likelihood), `vae-pipe-<objective>-<dataset>-<likelihood>`:
scores and bounds compare only within it (an ELBO under another likelihood is another quantity). A version
points at the run's MLflow Model (its logged model, `runs:/<id>/model`, pipeline/tracking/mlmodel.py) and carries the run's
sweep tags; registering the same run again reuses its version and only moves the alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.catalogue import CATALOGUE
from pipeline.core.errors import TrackingError
from pipeline.tracking.mlmodel import logged_model_id
from pipeline.tracking.store import (
    EXP_NAME_TAG,
    SWEEP_TAG,
    check_store,
    check_sweep_name,
    client,
    sweep_member_tag,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

MODEL_PREFIX = "vae-pipe"
REGISTERED_BY_TAG = "vae_pipe.registered_by"  # on a version: the score it won by, e.g. "mig"
SCORE_TAG = "vae_pipe.score"  # on a version: its value of that score
OBJECTIVE_PARAM, DATASET_PARAM, LIKELIHOOD_PARAM = "model.objective", "data.dataset", "resolved.likelihood"


@dataclass(frozen=True)
class Registered:
    """One registered version: which model, which version, under which alias, from which run."""

    name: str
    version: str
    alias: str
    run_id: str
    score: float
    exp_name: str | None

    @property
    def uri(self) -> str:
        """What `mlflow.pytorch.load_model` and `mlflow models serve -m` take."""
        return f"models:/{self.name}@{self.alias}"


def alias_for(by: str) -> str:
    return f"best-{by.replace('_', '-')}"


def registered_name(objective: str, dataset: str, likelihood: str) -> str:
    return f"{MODEL_PREFIX}-{objective}-{dataset}-{likelihood}"


def check_score(by: str) -> str:
    """`--by` names a catalogue metric with a better direction (MIG: higher; reconstruction: lower)."""
    ranked = [name for name, metric in CATALOGUE.items() if metric.better is not None and metric.per is None]
    if by not in ranked:
        raise TrackingError(f"--by {by!r}: not a score to rank by; choose one of {', '.join(ranked)}")
    return by


def best_runs(runs: list[Run], by: str) -> dict[tuple[str, str, str], Run]:
    """Per (objective, dataset, likelihood), the run with the best `by` (ties: the older run); runs
    without the score (not evaluated, or a dataset without factors for MIG) are left out."""
    sign = 1.0 if CATALOGUE[by].better == "higher" else -1.0
    best: dict[tuple[str, str, str], Run] = {}
    for run in sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id)):
        params, value = run.data.params, run.data.metrics.get(by)
        if value is None or value != value:  # missing or NaN
            continue
        group = (
            params.get(OBJECTIVE_PARAM, "beta_vae"),
            params.get(DATASET_PARAM, "?"),
            params.get(LIKELIHOOD_PARAM, "?"),
        )
        if group not in best or sign * value > sign * best[group].data.metrics[by]:
            best[group] = run
    return best


def sweep_runs(mlflow_client: MlflowClient, experiment_id: str, sweep: str) -> list[Run]:
    """The finished runs of `sweep`: members by their own tag, or (recorded before those tags) by name."""
    member = f"tags.`{sweep_member_tag(sweep)}` = 'true'"
    legacy = f"tags.`{SWEEP_TAG}` = '{sweep}'"
    found: dict[str, Run] = {}
    for clause in (member, legacy):
        for run in mlflow_client.search_runs([experiment_id], f"{clause} and attributes.status = 'FINISHED'"):
            found[run.info.run_id] = run
    return list(found.values())


def _version_of(mlflow_client: MlflowClient, name: str, run_id: str) -> str | None:
    """The version of registered model `name` that already points at `run_id`'s model, if any."""
    versions = mlflow_client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min((v.version for v in versions), key=int, default=None)


def _register(mlflow_client: MlflowClient, name: str, run: Run, by: str, sweep: str) -> Registered:
    from mlflow.exceptions import MlflowException

    run_id, score = run.info.run_id, run.data.metrics[by]
    try:
        mlflow_client.create_registered_model(name, description="vae-pipe models; aliases name the score they won by")
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    sweep_tags = {key: value for key, value in run.data.tags.items() if key.startswith(SWEEP_TAG)}
    tags = {**sweep_tags, REGISTERED_BY_TAG: by, SCORE_TAG: repr(score)}
    if EXP_NAME_TAG in run.data.tags:
        tags[EXP_NAME_TAG] = run.data.tags[EXP_NAME_TAG]
    version = _version_of(mlflow_client, name, run_id)
    if version is None:
        model_id = logged_model_id(mlflow_client, run_id)
        if model_id is None:
            raise TrackingError(
                f"run {run_id} ({run.data.tags.get(EXP_NAME_TAG, 'no DVC experiment')}) holds no MLflow Model: it "
                "was recorded before runs held one; `vae-pipe record` in its workspace logs it"
            )
        created = mlflow_client.create_model_version(
            name, f"models:/{model_id}", run_id=run_id, tags=tags, model_id=model_id
        )
        version = created.version
    else:
        for key, value in tags.items():
            mlflow_client.set_model_version_tag(name, version, key, value)
    alias = alias_for(by)
    mlflow_client.set_registered_model_alias(name, alias, version)
    return Registered(name, str(version), alias, run_id, score, run.data.tags.get(EXP_NAME_TAG))


def register_best(root: Path, sweep: str, by: str) -> list[Registered]:
    """Register the best run of `sweep` by score `by` per (objective, dataset, likelihood); one line
    (TrackingError) when the sweep has no finished run, or none with that score."""
    check_sweep_name(sweep)
    check_score(by)
    experiment = check_store(root)
    mlflow_client = client(root)
    runs = sweep_runs(mlflow_client, experiment, sweep)
    if not runs:
        raise TrackingError(
            f"--sweep {sweep}: no finished runs of this sweep in the store (vae-pipe report lists runs)"
        )
    best = best_runs(runs, by)
    if not best:
        raise TrackingError(f"--by {by}: none of the {len(runs)} runs of sweep {sweep} has this score")
    return [_register(mlflow_client, registered_name(*group), run, by, sweep) for group, run in sorted(best.items())]


def registered_versions(mlflow_client: MlflowClient) -> list[Registered]:
    """Every aliased version of vae-pipe's registered models (the report links them)."""
    found = []
    for model in mlflow_client.search_registered_models(f"name LIKE '{MODEL_PREFIX}-%'"):
        for alias, version in sorted(model.aliases.items()):
            detail = mlflow_client.get_model_version(model.name, version)
            tags = detail.tags
            found.append(
                Registered(
                    model.name,
                    str(version),
                    alias,
                    detail.run_id,
                    float(tags.get(SCORE_TAG, "nan")),
                    tags.get(EXP_NAME_TAG),
                )
            )
    return found
