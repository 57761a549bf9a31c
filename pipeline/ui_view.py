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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pipeline.score_names import DISENTANGLEMENT_SCORES

VIEW_KEY = "vae-pipe"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
PARAM_COLUMNS = ("beta", "seed", "model.objective", "data.dataset")
METRIC_COLUMNS = ("elbo", "iwae", "recon", "kl", "active_units", "mig", *DISENTANGLEMENT_SCORES)
SCORES = ("mig", *DISENTANGLEMENT_SCORES)  # each drawn against β
SECTION = "vae-pipe-beta"


def _column(kind: str, name: str) -> str:
    return f"{kind}.`{name}`"


def _chart(uuid: str, **fields: Any) -> dict[str, Any]:
    """One chart card as the UI serialises it (RunsChartsCardConfig)."""
    return {"uuid": uuid, "metricSectionId": SECTION, "deleted": False, "isGenerated": False} | fields


def view_state() -> dict[str, Any]:
    """The saved view: search facets (sort) and UI state (columns, charts) in the UI's shared-view JSON."""
    parallel = _chart(
        "vae-pipe-parallel",
        type="PARALLEL",
        selectedParams=["beta", "seed"],
        selectedMetrics=["elbo", *SCORES],
        runsCountToCompare=100,
        showAllRuns=True,
    )
    scatters = [
        _chart(
            f"vae-pipe-beta-{score}",
            type="SCATTER",
            xaxis={"key": "beta", "type": "PARAM"},
            yaxis={"key": score, "type": "METRIC"},
            runsCountToCompare=100,
        )
        for score in ("elbo", "iwae", *SCORES)
    ]
    section = {"uuid": SECTION, "name": "β against the scores", "display": True, "isReordered": False}
    return {
        "orderByKey": _column("metrics", "mig"),
        "orderByAsc": False,
        "selectedColumns": [_column("params", name) for name in PARAM_COLUMNS]
        + [_column("metrics", name) for name in METRIC_COLUMNS],
        "compareRunCharts": [parallel, *scatters],
        "compareRunSections": [section | {"deleted": False, "isGenerated": False}],
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
    from pipeline.tracking import client

    mlflow_client = client(root)
    for key, value in experiment_tags().items():
        mlflow_client.set_experiment_tag(experiment_id, key, value)
    return (
        f"Runs table (β, seed, objective, dataset, ELBO, scores; best MIG first): {runs_address(base, experiment_id)}\n"
        f"Charts (β against each score, parallel coordinates): {runs_address(base, experiment_id, charts=True)}"
    )
