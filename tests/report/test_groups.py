"""A report over several datasets: one page per (dataset, architecture, likelihood), never averaged across."""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.core.params import parse_params
from pipeline.report.build import build_report
from pipeline.report.data import RunRecord, group_runs, group_slug
from pipeline.tracking.record import RESOLVED_PREFIX
from pipeline.tracking.store import ModelRun


def test_runs_group_by_dataset_arch_and_likelihood():
    runs = [
        RunRecord("a", 1.0, 0, dataset="dsprites", arch="conv", likelihood="bernoulli"),
        RunRecord("b", 1.0, 0, dataset="digits", arch="mlp", likelihood="continuous_bernoulli"),
        RunRecord("c", 4.0, 0, dataset="dsprites", arch="conv", likelihood="bernoulli"),
        RunRecord("d", 4.0, 0, dataset="digits", arch="mlp", likelihood="gaussian"),
    ]
    groups = group_runs(runs)
    assert list(groups) == [
        ("digits", "mlp", "continuous_bernoulli"),
        ("digits", "mlp", "gaussian"),
        ("dsprites", "conv", "bernoulli"),
    ]
    assert [r.run_id for r in groups[("dsprites", "conv", "bernoulli")]] == ["a", "c"]
    assert group_slug(("digits", "mlp", "continuous_bernoulli")) == "digits-mlp-continuous_bernoulli"
    assert group_slug(("a/b", "x y", "<s>")) == "a_b-x_y-_s_"


def _log(root: Path, dataset: str, arch: str, likelihood: str, beta: float, elbo: float) -> None:
    params = parse_params({"beta": beta, "data": {"dataset": dataset}})
    run = ModelRun.open(root, f"digest-{dataset}-{beta:g}", params)
    run.log_params({f"{RESOLVED_PREFIX}arch": arch, f"{RESOLVED_PREFIX}likelihood": likelihood})
    run.log_metrics({"elbo": elbo, "recon": -elbo - 1.0, "kl": 1.0, "active_units": 2})


def test_report_of_two_datasets_has_a_page_each_and_never_mixes_them(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "store"
    root.mkdir()
    for beta, elbo in ((1.0, -40.0), (4.0, -50.0)):
        _log(root, "dsprites", "conv", "bernoulli", beta, elbo)
        _log(root, "digits", "mlp", "continuous_bernoulli", beta, elbo + 100.0)
    out = tmp_path / "reports"
    result = build_report(root, out)
    assert result.n_runs == 4
    top = (out / "index.html").read_text()
    assert (
        'href="digits-mlp-continuous_bernoulli/index.html"' in top
        and 'href="dsprites-conv-bernoulli/index.html"' in top
    )
    for slug, likelihood, elbos in (
        ("dsprites-conv-bernoulli", "bernoulli", {"-40", "-50"}),
        ("digits-mlp-continuous_bernoulli", "continuous_bernoulli", {"60", "50"}),
    ):
        page = (out / slug / "index.html").read_text()
        assert f"under the {likelihood} likelihood" in page
        with (out / slug / "summary.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert {f"{float(r['elbo_mean']):g}" for r in rows} == elbos  # each page only its own runs
    with (out / "summary.csv").open() as handle:
        assert [r["dataset"] for r in csv.DictReader(handle)] == ["digits", "dsprites"]


def test_a_single_group_keeps_the_flat_layout(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "store"
    root.mkdir()
    _log(root, "digits", "mlp", "gaussian", 1.0, 10.0)
    out = tmp_path / "reports"
    build_report(root, out)
    assert "under the gaussian likelihood (digits)" in (out / "index.html").read_text()
    assert not [p for p in out.iterdir() if p.is_dir() and (p / "index.html").exists()]
