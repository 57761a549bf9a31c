"""The MLflow UI's saved view and address: the columns and charts a vae-pipe user compares runs by."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from pipeline.score_names import DISENTANGLEMENT_SCORES
from pipeline.ui_view import VIEW_KEY, VIEW_TAG, experiment_tags, runs_address, view_state

EXPERIMENT_TAG_LIMIT = 5000  # characters MLflow stores in an experiment tag's value


def test_view_shows_beta_seed_objective_dataset_and_every_score():
    state = view_state()
    columns = state["selectedColumns"]
    for param in ("beta", "seed", "model.objective", "data.dataset"):
        assert f"params.`{param}`" in columns
    for metric in ("elbo", "iwae", "mig", *DISENTANGLEMENT_SCORES):
        assert f"metrics.`{metric}`" in columns
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`mig`", False)
    charts = state["compareRunCharts"]
    parallel = [c for c in charts if c["type"] == "PARALLEL"]
    assert len(parallel) == 1 and parallel[0]["selectedParams"][0] == "beta"
    assert set(parallel[0]["selectedMetrics"]) >= {"mig", *DISENTANGLEMENT_SCORES}
    scattered = {c["yaxis"]["key"] for c in charts if c["type"] == "SCATTER"}
    assert scattered >= {"mig", *DISENTANGLEMENT_SCORES}
    assert all(c["xaxis"] == {"key": "beta", "type": "PARAM"} for c in charts if c["type"] == "SCATTER")
    sections = {s["uuid"] for s in state["compareRunSections"]}
    assert {c["metricSectionId"] for c in charts} <= sections


def test_experiment_tags_fit_mlflow_and_round_trip():
    tags = experiment_tags()
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    assert len(tags[VIEW_TAG]) < EXPERIMENT_TAG_LIMIT
    assert json.loads(tags[VIEW_TAG]) == view_state()


def test_runs_address_opens_the_saved_view_in_model_training_mode():
    address = runs_address("http://127.0.0.1:5000", "7")
    assert address.startswith("http://127.0.0.1:5000/#/experiments/7/runs?")
    query = parse_qs(urlsplit(address).fragment.split("?", 1)[1])
    assert query == {"workflowType": ["machine_learning"], "viewStateShareKey": [VIEW_KEY]}
    charts = parse_qs(urlsplit(runs_address("http://h:1", "7", charts=True)).fragment.split("?", 1)[1])
    assert charts["compareRunsMode"] == ["CHART"]
