"""UDR in the report: settings and their seeds, the rank correlation with the labelled scores, and a report
of a 2-seed sweep from a real MLflow store whose runs hold real eval/codes.npz artifacts."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from pipeline.core.codes import Codes, write_codes
from pipeline.core.params import parse_params
from pipeline.core.paths import Outputs
from pipeline.report.build import build_report
from pipeline.report.data import RunRecord
from pipeline.report.udr import rank_correlation, udr_candidates, udr_sentences, with_udr
from pipeline.tracking.record import ARTIFACT_DIRS
from pipeline.tracking.store import ModelRun
from pipeline.tracking.store import client as make_client
from tests.metrics.test_udr import _orthogonal_codes


def _run(run_id, seed, setting=(("beta", "1"),), minute=0, **metrics) -> RunRecord:
    start = datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
    return RunRecord(run_id, 1.0, seed, metrics=metrics, setting=setting, start_time=start)


def test_a_setting_needs_two_seeds_and_the_latest_run_of_a_seed_counts():
    other = (("beta", "4"),)
    runs = [
        _run("a0", 0),
        _run("a1-old", 1),
        _run("a1-new", 1, minute=5),
        _run("b0", 0, other),  # one seed only: no UDR
        _run("none", None),
    ]
    assert [[r.run_id for r in members] for members in udr_candidates(runs)] == [["a0", "a1-new"]]


def test_udr_values_are_replaced_and_stale_ones_dropped():
    runs = [_run("a", 0, udr=0.5, mig=0.1), _run("b", 1, udr=0.7)]
    updated = with_udr(runs, {"a": 0.25})
    assert updated[0].metrics == {"mig": 0.1, "udr": 0.25} and "udr" not in updated[1].metrics


def test_rank_correlation_by_hand():
    # UDR ranks 1..4; MIG ranks 1, 3, 2, 4: Σd² = 2, ρ = 1 − 6·2 / (4·15) = 0.8
    runs = [_run(str(i), i, udr=u, mig=m) for i, (u, m) in enumerate([(0.1, 0.1), (0.2, 0.3), (0.3, 0.2), (0.4, 0.4)])]
    assert rank_correlation(runs, "mig") == (pytest.approx(0.8), 4)
    assert math.isnan(rank_correlation(runs[:2], "mig")[0])  # two runs always rank ±1: not reported
    assert rank_correlation(runs, "dci_disentanglement") == (pytest.approx(math.nan, nan_ok=True), 0)
    assert udr_sentences([_run("x", 0, mig=0.1)]) == []  # no UDR, nothing said


# UDR of each run, by construction (tests/metrics/test_udr.py): β = 1's two seeds are permuted, sign-flipped
# copies of one code (0.9 each); β = 4's seeds are unrelated (0 each).
BASE = _orthogonal_codes(400, 4, seed=1)
CODES = {
    (1.0, 0): BASE,
    (1.0, 1): -BASE[:, [2, 0, 3, 1]],
    (4.0, 0): BASE,
    (4.0, 1): _orthogonal_codes(400, 4, seed=2),
    (16.0, 0): BASE,
}
LABELLED = {
    (1.0, 0): (0.3, 0.2),
    (1.0, 1): (0.4, 0.6),
    (4.0, 0): (0.1, 0.5),
    (4.0, 1): (0.2, 0.1),
    (16.0, 0): (0.5, 0.5),
}


def _log(root, beta, seed, lr=5e-4, stale_udr=None) -> str:
    params = parse_params({"beta": beta, "seed": seed, "train": {"lr": lr}})
    name = f"b{beta:g}-s{seed}-lr{lr:g}"
    run = ModelRun.open(root, f"digest-{name}", params)
    run.add_to_sweep("two-seeds")
    mig, dci = LABELLED[(beta, seed)]
    metrics = {"elbo": -100.0, "recon": 90.0, "kl": 10.0, "mig": mig, "dci_disentanglement": dci}
    run.log_metrics(metrics | ({"udr": stale_udr} if stale_udr is not None else {}))
    codes = CODES[(beta, seed)]
    path = Outputs(root / "staging" / name).codes
    write_codes(path, Codes(np.arange(len(codes)), codes, np.zeros_like(codes)))  # KL 0.5 nats per latent
    run.log_artifacts([path], ARTIFACT_DIRS["evaluate"])
    return run.run_id


def test_report_of_a_two_seed_sweep_shows_udr_and_its_rank_correlation(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "store"
    root.mkdir()
    ids = {key: _log(root, *key) for key in [(1.0, 0), (1.0, 1), (4.0, 0), (4.0, 1)]}
    ids[(16.0, 0)] = _log(root, 16.0, 0, stale_udr=0.99)  # one seed: an earlier value is not shown
    lone = _log(root, 1.0, 0, lr=1e-3)  # another setting at β = 1, with one seed: no UDR either

    result = build_report(root, tmp_path / "reports", sweep="two-seeds")

    with result.summary_csv.open() as handle:
        table = {float(row["beta"]): row for row in csv.DictReader(handle)}
    assert float(table[1.0]["udr_mean"]) == pytest.approx(0.9) and table[1.0]["udr_n"] == "2"
    assert float(table[4.0]["udr_mean"]) == pytest.approx(0.0, abs=1e-12) and table[4.0]["udr_n"] == "2"
    assert table[16.0]["udr_n"] == "0"
    # UDR 0.9, 0.9, 0, 0 against MIG 0.3, 0.4, 0.1, 0.2: centred ranks (1, 1, −1, −1)·(½, 3/2, −3/2, −½) = 4,
    # ρ = 4 / (2·√5); against DCI 0.2, 0.6, 0.5, 0.1: (1, 1, −1, −1)·(−½, 3/2, ½, −3/2) = 2, ρ = 2 / (2·√5)
    assert (
        "UDR (model selection without labels, Duan et al. 2020) was computed for 4 runs in 2 settings with at "
        "least 2 seeds, each against its setting's other seeds. Its Spearman rank correlation across these runs: "
        f"with MIG ρ = {2 / math.sqrt(5):.2f} (n = 4); with DCI disentanglement ρ = {1 / math.sqrt(5):.2f} (n = 4)."
    ) in result.text
    page = result.index.read_text()
    assert "figures/udr.png" in page and "Model selection without labels: UDR" in page

    client = make_client(root)
    logged = {key: client.get_run(run_id).data.metrics.get("udr") for key, run_id in ids.items()}
    assert logged[(1.0, 0)] == pytest.approx(0.9) and logged[(4.0, 1)] == pytest.approx(0.0, abs=1e-12)
    assert "udr" not in client.get_run(lone).data.metrics
    build_report(root, tmp_path / "again", sweep="two-seeds")  # an unchanged value is not logged twice
    assert len(client.get_metric_history(ids[(1.0, 0)], "udr")) == 1
