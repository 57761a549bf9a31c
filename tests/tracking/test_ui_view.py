"""The MLflow UI's saved view and address: the columns and charts a vae-pipe user compares runs by."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from pipeline.core.catalogue import FACTOR_SCORES
from pipeline.tracking.ui import VIEW_KEY, VIEW_TAG, experiment_tags, runs_address, view_state

EXPERIMENT_TAG_LIMIT = 5000  # characters MLflow stores in an experiment tag's value


def test_view_shows_beta_seed_objective_dataset_and_every_score():
    state = view_state()
    columns = state["selectedColumns"]
    for param in ("beta", "seed", "model.objective", "data.dataset"):
        assert f"params.`{param}`" in columns
    for metric in ("elbo", "iwae", "mig", *FACTOR_SCORES):
        assert f"metrics.`{metric}`" in columns
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`mig`", False)
    charts = state["compareRunCharts"]
    parallel = [c for c in charts if c["type"] == "PARALLEL"]
    assert len(parallel) == 1 and parallel[0]["selectedParams"][0] == "beta"
    assert set(parallel[0]["selectedMetrics"]) >= {"mig", *FACTOR_SCORES}
    scattered = {c["yaxis"]["key"] for c in charts if c["type"] == "SCATTER"}
    assert scattered >= {"mig", *FACTOR_SCORES}
    assert all(c["xaxis"] == {"key": "beta", "type": "PARAM"} for c in charts if c["type"] == "SCATTER")
    sections = {s["uuid"] for s in state["compareRunSections"]}
    assert {c["metricSectionId"] for c in charts} <= sections


def test_parallel_coordinates_chart_has_a_full_width_section_of_its_own():
    """Ten axes in a third of the chart area overlap their labels: the parallel chart's section is one
    column wide, the β-vs-score charts three to a row; card heights are ones the UI's resize handle offers."""
    state = view_state()
    sections = {s["uuid"]: s for s in state["compareRunSections"]}
    by_section: dict[str, list[str]] = {}
    for chart in state["compareRunCharts"]:
        by_section.setdefault(chart["metricSectionId"], []).append(chart["type"])
    parallel_section = next(uuid for uuid, types in by_section.items() if "PARALLEL" in types)
    assert by_section[parallel_section] == ["PARALLEL"] and sections[parallel_section]["columns"] == 1
    assert all(sections[uuid]["columns"] == 3 for uuid, types in by_section.items() if set(types) == {"SCATTER"})
    assert all(s["cardHeight"] in (300, 330, 360, 400, 500) and s["display"] for s in sections.values())
    assert [s["uuid"] for s in state["compareRunSections"]][0] == parallel_section


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
