"""The report's MLflow adapter: which runs match the filters (MLflow search syntax, paged search) and each
run as a `RunRecord`, so `pipeline.report.data` works on plain values and never imports MLflow."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.errors import ReportError
from pipeline.core.objectives import legend, objective_name
from pipeline.core.objectives import weight as objective_weight
from pipeline.report.data import RunRecord, describe_filter
from pipeline.tracking.record import RESOLVED_PREFIX
from pipeline.tracking.store import (
    EXP_NAME_TAG,
    EXPERIMENT_NAME,
    STORE_FILE,
    SWEEP_NAME,
    SWEEP_TAG,
    redact,
    sweep_member_tag,
    tracking_uri,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run


PAGE_SIZE = 1000


def run_record(run: Run) -> RunRecord | None:
    """One MLflow run as plain values; None for a run without a numeric `beta` param (not one of ours)."""
    params, tags = run.data.params, run.data.tags
    try:
        beta = float(params["beta"])
    except (KeyError, ValueError):
        return None
    try:
        seed: int | None = int(params["seed"])
    except (KeyError, ValueError):
        seed = None
    start = run.info.start_time
    return RunRecord(
        run_id=run.info.run_id,
        beta=beta,
        seed=seed,
        metrics=dict(run.data.metrics),
        exp_name=tags.get(EXP_NAME_TAG),
        dataset=params.get("data.dataset"),
        sweep=tags.get(SWEEP_TAG),
        start_time=datetime.fromtimestamp(start / 1000, tz=UTC) if start else None,
        name=run.info.run_name or "",
        objective=objective_name(params),
        weight=objective_weight(params),
        objective_label=legend(params),
        likelihood=params.get(f"{RESOLVED_PREFIX}likelihood"),
        arch=params.get(f"{RESOLVED_PREFIX}arch"),
        setting=setting(params),
    )


def setting(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The run's params but the seed, the sweep's grid (`sweep.*`, how a sweep was asked for, not the model)
    and what `auto` resolved to (it follows from the rest): runs that differ only in seed share it."""
    kept = (
        (key, value)
        for key, value in params.items()
        if key != "seed" and not key.startswith(("sweep.", RESOLVED_PREFIX))
    )
    return tuple(sorted(kept))


def _escape_filter_value(what: str, value: str) -> str:
    if "'" in value or "`" in value:
        raise ReportError(f"{what} {value!r}: quotes are not allowed in a filter value")
    return value


def mlflow_filter(
    sweep: str | None = None, dataset: str | None = None, since: datetime | None = None, legacy: bool = False
) -> str:
    """MLflow search syntax for the filters (a naive `since` is local time). `legacy`: a sweep as runs recorded
    before a run could belong to several sweeps name it, in `vae_pipe.sweep` alone."""
    clauses = []
    if sweep is not None:
        if not SWEEP_NAME.fullmatch(_escape_filter_value("sweep", sweep)):
            raise ReportError(f"sweep {sweep!r}: not a sweep name (letters, digits, '_', '.' and '-')")
        clauses.append(f"tags.`{SWEEP_TAG}` = '{sweep}'" if legacy else f"tags.`{sweep_member_tag(sweep)}` = 'true'")
    if dataset is not None:
        clauses.append(f"params.`data.dataset` = '{_escape_filter_value('dataset', dataset)}'")
    if since is not None:
        clauses.append(f"attributes.start_time >= {int(since.timestamp() * 1000)}")
    return " and ".join(clauses)


def fetch_runs(mlflow_client: MlflowClient, experiment_ids: Sequence[str], filter_string: str) -> list[Run]:
    """Every active run matching the filter, following MLflow's page tokens."""
    runs: list[Run] = []
    token = None
    while True:
        page = mlflow_client.search_runs(
            list(experiment_ids),
            filter_string=filter_string,
            max_results=PAGE_SIZE,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


@dataclass(frozen=True)
class FoundRuns:
    """The matching runs of the experiment, in `RunRecord.sort_key` order, and where they came from."""

    runs: list[RunRecord]
    skipped: int  # matching runs without a numeric beta param, left out
    filter_text: str  # the filters in words
    store: str  # the tracking URI
    client: MlflowClient  # for the artifacts of those runs


def find_runs(
    root: Path, sweep: str | None = None, dataset: str | None = None, since: datetime | None = None
) -> FoundRuns:
    """The experiment's runs matching the filters; a one-line ReportError when there is nothing to report."""
    from pipeline.tracking.store import client as make_client

    filter_text = describe_filter(sweep, dataset, since)
    filter_string = mlflow_filter(sweep, dataset, since)
    store = redact(tracking_uri(root))  # shown on the report page: never a password
    if "MLFLOW_TRACKING_URI" not in os.environ and not (root / STORE_FILE).exists():
        raise ReportError(f"no MLflow store at {root / STORE_FILE}: train and evaluate a model first (dvc repro)")
    mlflow_client = make_client(root)
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None or experiment.lifecycle_stage != "active":
        raise ReportError(f"no MLflow experiment '{EXPERIMENT_NAME}' in {store}: train and evaluate a model first")
    found = fetch_runs(mlflow_client, [experiment.experiment_id], filter_string)
    if sweep is not None:  # MLflow's search has no `or`: the sweep's runs recorded before member tags, added
        known = {run.info.run_id for run in found}
        older = fetch_runs(mlflow_client, [experiment.experiment_id], mlflow_filter(sweep, dataset, since, legacy=True))
        found += [run for run in older if run.info.run_id not in known]
    records = [run_record(run) for run in found]
    runs = sorted((r for r in records if r is not None), key=lambda r: r.sort_key)
    if not runs:
        why = f" ({len(found)} without a beta param)" if found else ""
        raise ReportError(f"no MLflow run matches {filter_text}{why} in {store}")
    return FoundRuns(runs, len(found) - len(runs), filter_text, store, mlflow_client)
