"""The MLflow UI as a vae-pipe user should meet it: the experiment's runs table in model-training mode, with
β, seed, objective, dataset, ELBO and the scores as columns, best MIG first, and charts of β against each
score plus a parallel-coordinates chart.

MLflow 3.17's UI reads what it shows from three places, and this module sets each:
- the experiment tag `mlflow.experimentKind = custom_model_development` (a model-training experiment:
  the runs table, not the GenAI overview);
- the address: `#/experiments/<id>/runs?workflowType=machine_learning` (the UI's mode switch) and
  `compareRunsMode=CHART` for the charts;
- a saved view: the experiment tag `mlflow.sharedViewState.<key>` holds the table's columns, sort order
  and charts as JSON (the UI's own "share view" format), and `viewStateShareKey=<key>` in the address
  opens it. Column keys are `params.\\`name\\`` / `metrics.\\`name\\``, as the UI writes them.
The charts sit in two sections (a section's `columns` and `cardHeight` set its grid): the parallel-coordinates
chart alone, full width, so its ten axes stay readable, then β against each score, three to a row. The UI
hides a chart with no data ("Hide charts with no data", on by default), and the parallel-coordinates chart
shows only runs that have every one of its params and metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pipeline.core.catalogue import BOUNDS, FACTOR_SCORES, REPORTED

VIEW_KEY = "vae-pipe"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
PARAM_COLUMNS = ("beta", "seed", "model.objective", "data.dataset")
METRIC_COLUMNS = REPORTED  # the report's metrics, in its order (pipeline/core/catalogue.py)
SCORES = FACTOR_SCORES  # each drawn against β
PARALLEL_SECTION, SCATTER_SECTION = "vae-pipe-parallel", "vae-pipe-beta"
PARALLEL_PARAMS, PARALLEL_METRICS = ("beta", "seed"), ("elbo", *SCORES)
SCATTER_METRICS = (*BOUNDS, *SCORES)  # each a chart titled "beta vs. <metric>"


def _column(kind: str, name: str) -> str:
    return f"{kind}.`{name}`"


def _chart(uuid: str, section: str, **fields: Any) -> dict[str, Any]:
    """One chart card as the UI serialises it (RunsChartsCardConfig)."""
    return {"uuid": uuid, "metricSectionId": section, "deleted": False, "isGenerated": False} | fields


def _section(uuid: str, name: str, columns: int, card_height: int) -> dict[str, Any]:
    """One chart section (an accordion of cards, `columns` to a row, each `card_height` CSS px tall)."""
    return {
        "uuid": uuid,
        "name": name,
        "display": True,
        "isReordered": False,
        "deleted": False,
        "isGenerated": False,
        "columns": columns,
        "cardHeight": card_height,
    }


def view_state() -> dict[str, Any]:
    """The saved view: search facets (sort) and UI state (columns, charts) in the UI's shared-view JSON."""
    parallel = _chart(
        "vae-pipe-parallel",
        PARALLEL_SECTION,
        type="PARALLEL",
        selectedParams=list(PARALLEL_PARAMS),
        selectedMetrics=list(PARALLEL_METRICS),
        runsCountToCompare=100,
        showAllRuns=True,
    )
    scatters = [
        _chart(
            f"vae-pipe-beta-{score}",
            SCATTER_SECTION,
            type="SCATTER",
            xaxis={"key": "beta", "type": "PARAM"},
            yaxis={"key": score, "type": "METRIC"},
            runsCountToCompare=100,
        )
        for score in SCATTER_METRICS
    ]
    sections = [
        _section(PARALLEL_SECTION, "Parallel coordinates", 1, 400),
        _section(SCATTER_SECTION, "β against each score", 3, 360),
    ]
    return {
        "orderByKey": _column("metrics", "mig"),
        "orderByAsc": False,
        "selectedColumns": [_column("params", name) for name in PARAM_COLUMNS]
        + [_column("metrics", name) for name in METRIC_COLUMNS],
        "compareRunCharts": [parallel, *scatters],
        "compareRunSections": sections,
        "isAccordionReordered": False,
    }


def experiment_tags() -> dict[str, str]:
    """Tags `vae-pipe ui` sets on the experiment (idempotent: also on stores made before they existed)."""
    return {KIND_TAG: MODEL_TRAINING, VIEW_TAG: json.dumps(view_state(), separators=(",", ":"))}


def runs_address(base: str, experiment_id: str, charts: bool = False) -> str:
    """The address that opens the experiment's runs table (or its charts) in the saved view."""
    query = {"workflowType": "machine_learning", "viewStateShareKey": VIEW_KEY}
    if charts:
        query["compareRunsMode"] = "CHART"
    return f"{base}/#/experiments/{experiment_id}/runs?{urlencode(query)}"


def ui_addresses(root: Path, experiment_id: str, base: str) -> str:
    """Install the saved view on the experiment in the store at `root`; the lines `vae-pipe ui` prints."""
    from pipeline.tracking.store import client

    mlflow_client = client(root)
    for key, value in experiment_tags().items():
        mlflow_client.set_experiment_tag(experiment_id, key, value)
    return (
        f"Runs table (β, seed, objective, dataset, ELBO, scores; best MIG first): {runs_address(base, experiment_id)}\n"
        f"Charts (β against each score, parallel coordinates): {runs_address(base, experiment_id, charts=True)}"
    )
