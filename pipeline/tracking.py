"""MLflow as the record of what DVC produced: one run per trained model, found again by the model's digest.

DVC may skip a stage or restore it from its run-cache without running it, and a queued experiment runs in
a temporary copy of the repo. So every stage logs what it produced into the run keyed by the model's
weights digest (find or create, never a second run for the same model), and the store is always the one
at the repository root (or MLFLOW_TRACKING_URI), never one relative to the stage's working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.params import Params

if TYPE_CHECKING:
    from mlflow import MlflowClient

EXPERIMENT_NAME = "vae-pipe"
STORE_FILE = "mlflow.db"
ARTIFACT_DIR = "mlruns"
MODEL_KEY_TAG = "vae_pipe.model_digest"
SWEEP_TAG = "vae_pipe.sweep"


def tracking_uri(root: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else the SQLite store at the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / STORE_FILE).resolve()}"


def client(root: Path) -> MlflowClient:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri(root))


def experiment_id(mlflow_client: MlflowClient, root: Path) -> str:
    """Creates the experiment on first use, with artifacts beside the local store (not under the cwd)."""
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        return experiment.experiment_id
    local_store = "MLFLOW_TRACKING_URI" not in os.environ
    location = (root / ARTIFACT_DIR).resolve().as_uri() if local_store else None
    # The experiment kind makes the MLflow UI open on the runs table, not the GenAI overview.
    tags = {"mlflow.experimentKind": "custom_model_development"}
    try:
        return mlflow_client.create_experiment(EXPERIMENT_NAME, artifact_location=location, tags=tags)
    except Exception:  # another process created it first
        experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
        if experiment is None:
            raise
        return experiment.experiment_id


def ensure_store(root: Path) -> str:
    """Create (migrate) the store and the experiment once, before parallel writers start."""
    return experiment_id(client(root), root)


def _git_commit() -> str | None:
    if os.environ.get("DVC_EXP_BASELINE_REV"):
        return os.environ["DVC_EXP_BASELINE_REV"]
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def run_tags() -> dict[str, str]:
    """Tags that tie a run back to git and DVC (`vae-pipe sweep` adds the sweep's name afterwards);
    β and the seed are params, not tags."""
    tags: dict[str, str] = {}
    commit = _git_commit()
    if commit:
        tags["git.commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


def _run_name(params: Params) -> str:
    name = f"beta={params.beta:g} seed={params.seed}"
    if os.environ.get("DVC_EXP_NAME"):
        name += f" ({os.environ['DVC_EXP_NAME']})"
    return name


class ModelRun:
    """The MLflow run of one trained model; `open` finds it by digest or creates it with all params."""

    def __init__(self, mlflow_client: MlflowClient, run_id: str) -> None:
        self.client = mlflow_client
        self.run_id = run_id

    @classmethod
    def open(cls, root: Path, model_digest: str, params: Params, tags: Mapping[str, str] | None = None) -> ModelRun:
        mlflow_client = client(root)
        exp_id = experiment_id(mlflow_client, root)
        found = mlflow_client.search_runs(
            [exp_id], filter_string=f"tags.`{MODEL_KEY_TAG}` = '{model_digest}'", max_results=1
        )
        if found:
            run = cls(mlflow_client, found[0].info.run_id)
        else:
            created = mlflow_client.create_run(exp_id, tags={MODEL_KEY_TAG: model_digest}, run_name=_run_name(params))
            run = cls(mlflow_client, created.info.run_id)
            mlflow_client.set_terminated(run.run_id, "FINISHED")
        run.log_params(params.flat())
        run.set_tags({**run_tags(), **(tags or {})})
        return run

    def has_artifacts(self, artifact_path: str) -> bool:
        return bool(self.client.list_artifacts(self.run_id, artifact_path))

    def _current(self) -> Any:
        return self.client.get_run(self.run_id).data

    def log_params(self, values: Mapping[str, Any]) -> None:
        """Params are write-once in MLflow: log the missing ones; a changed value is kept as a tag."""
        from mlflow.entities import Param

        logged = self._current().params
        fresh, changed = [], {}
        for key, value in values.items():
            text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
            if key not in logged:
                fresh.append(Param(key, text))
            elif logged[key] != text:
                changed[f"params.changed.{key}"] = text
        self.client.log_batch(self.run_id, params=fresh)  # MLflow splits it into allowed batch sizes
        self.set_tags(changed)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        if tags:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_metrics(self, values: Mapping[str, float]) -> None:
        """Scalar metrics; re-logging an unchanged value is skipped so retries leave no duplicates."""
        from mlflow.entities import Metric

        current = self._current().metrics
        now = int(time.time() * 1000)
        fresh = [Metric(k, float(v), now, 0) for k, v in values.items() if current.get(k) != float(v)]
        self.client.log_batch(self.run_id, metrics=fresh)

    def log_curves(self, rows: Iterable[Mapping[str, float]], step_key: str = "step", prefix: str = "train.") -> None:
        """Training curves as step metrics, logged once per run (a re-run of the same model adds nothing)."""
        from mlflow.entities import Metric

        rows = list(rows)
        if not rows:
            return
        probe = next(k for k in rows[0] if k != step_key)
        if self.client.get_metric_history(self.run_id, prefix + probe):
            return
        now = int(time.time() * 1000)
        metrics = [
            Metric(prefix + key, float(value), now, int(row[step_key]))
            for row in rows
            for key, value in row.items()
            if key != step_key
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_artifacts(self, paths: Iterable[Path], artifact_path: str) -> None:
        for path in paths:
            self.client.log_artifact(self.run_id, str(path), artifact_path)
