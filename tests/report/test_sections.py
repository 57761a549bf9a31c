"""The report per objective: two objectives at the same β are two sections (statistics, seed warnings, trend
sentences, summary.csv rows, page tables), never one pooled mean, on constructed runs and through a real store."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from pipeline.core.objectives import legend, weight
from pipeline.core.params import parse_params
from pipeline.report.build import build_report
from pipeline.report.data import RunRecord
from pipeline.report.sections import objective_sections, section_csv_rows, section_sentences
from pipeline.tracking.record import RESOLVED_PREFIX
from pipeline.tracking.store import ModelRun

# (objective, β, seed, MIG, KL). At both βs the two objectives' MIGs straddle each other: pooled, the β means
# would be 0.30 and 0.325 with overlapping intervals (no trend); per objective, β-VAE's MIG grows and
# β-TCVAE's falls, each with separated intervals.
RUNS = [
    ("beta_vae", 1.0, 0, 0.10, 20.0),
    ("beta_vae", 1.0, 1, 0.11, 22.0),
    ("beta_vae", 1.0, 2, 0.12, 24.0),
    ("beta_vae", 8.0, 0, 0.50, 5.0),
    ("beta_vae", 8.0, 1, 0.52, 6.0),
    ("beta_vae", 8.0, 2, 0.54, 7.0),
    ("tc_vae", 1.0, 0, 0.60, 30.0),
    ("tc_vae", 1.0, 1, 0.62, 32.0),
    ("tc_vae", 8.0, 0, 0.05, 40.0),
    ("tc_vae", 8.0, 1, 0.06, 42.0),
]
BETA_VAE, TC_VAE = "β-VAE; x: β", "β-TCVAE (α = 1, γ = 1, sampling mws); x: β"  # legends
MINE, THEIRS = "β-VAE", "β-TCVAE (α = 1, γ = 1, sampling mws)"  # sentence prefixes


def _record(name: str, beta: float, seed: int, mig: float, kl: float, **params) -> RunRecord:
    flat = parse_params({"beta": beta, "seed": seed, "model": {"objective": name}, **params}).flat()
    return RunRecord(
        f"{name}-{beta:g}-{seed}-{weight(flat):g}-{len(params)}-{mig}",
        beta=beta,
        seed=seed,
        metrics={"mig": mig, "kl": kl, "elbo": -50.0 - kl},
        objective=name,
        weight=weight(flat),
        objective_label=legend(flat),
    )


def test_two_objectives_at_the_same_betas_are_never_pooled():
    sections = objective_sections([_record(*row) for row in RUNS])
    assert [s.label for s in sections] == [BETA_VAE, TC_VAE]  # β-VAE first: the per-β figures show it
    beta_vae, tc_vae = sections
    assert [(row.beta, row.n_runs, row.seeds) for row in beta_vae.rows] == [(1.0, 3, (0, 1, 2)), (8.0, 3, (0, 1, 2))]
    assert [(row.beta, row.n_runs) for row in tc_vae.rows] == [(1.0, 2), (8.0, 2)]
    assert beta_vae.rows[0].stats["mig"].mean == pytest.approx(0.11)  # not (0.33 + 1.22) / 5
    assert tc_vae.rows[1].stats["kl"].mean == pytest.approx(41.0)
    assert (beta_vae.best.beta, beta_vae.best.seed, tc_vae.best.beta, tc_vae.best.seed) == (8.0, 2, 1.0, 1)

    text = section_sentences(sections)
    mine = [s for s in text if s.startswith(f"{MINE}: ")]
    theirs = [s for s in text if s.startswith(f"{THEIRS}: ")]
    assert len(mine) + len(theirs) == len(text)  # every sentence names its objective
    assert any(s.startswith(f"{MINE}: MIG grows with β: 0.110 at β=1 (n=3) vs 0.520 at β=8 (n=3)") for s in mine)
    assert any(s.startswith(f"{THEIRS}: MIG falls with β: 0.610 at β=1 (n=2) vs 0.055 at β=8 (n=2)") for s in theirs)
    assert f"{MINE}: KL falls from 22.0 nats at β=1 to 6.0 nats at β=8 (monotone: yes)." in mine
    assert f"{THEIRS}: KL rises from 31.0 nats at β=1 to 41.0 nats at β=8 (monotone: yes)." in theirs
    assert f"{MINE}: 6 runs at 2 β values (1, 8), seeds 0, 1, 2." in mine
    # Seed statistics per objective: β-TCVAE has 2 seeds per β, β-VAE 3, so only β-TCVAE is warned about.
    assert not any("fewer than 3 seeds" in s for s in mine)
    assert any("fewer than 3 seeds at β=1 (2), β=8 (2)" in s for s in theirs)
    assert not any("share β and seed" in s for s in text)  # pooled, each β would hold 5 runs over 3 seeds

    table = section_csv_rows(sections)
    assert [(r["objective"], r["beta"], r["n_runs"], r["seeds"]) for r in table] == [
        ("beta_vae", "1.0", "3", "0;1;2"),
        ("beta_vae", "8.0", "3", "0;1;2"),
        ("tc_vae", "1.0", "2", "0;1"),
        ("tc_vae", "8.0", "2", "0;1"),
    ]
    assert [r["settings"] for r in table] == [BETA_VAE, BETA_VAE, TC_VAE, TC_VAE]
    assert float(table[2]["mig_mean"]) == pytest.approx(0.61) and table[2]["mig_n"] == "2"


def test_each_objective_on_its_own_weight_and_settings():
    runs = [
        _record("capacity", 4.0, 0, 0.2, 10.0, objective={"capacity": {"c_max": 5}}),
        _record("capacity", 4.0, 0, 0.3, 20.0, objective={"capacity": {"c_max": 25}}),
        _record("capacity", 4.0, 1, 0.4, 21.0, objective={"capacity": {"c_max": 25}}),
        _record("factor_vae", 4.0, 0, 0.5, 9.0, objective={"factor_vae": {"gamma": 10}}),
        _record("factor_vae", 4.0, 0, 0.6, 8.0, objective={"factor_vae": {"gamma": 10, "disc_lr": 1e-3}}),
    ]
    sections = objective_sections(runs)
    (capacity,) = [s for s in sections if s.objective == "capacity"]
    assert (capacity.objective, capacity.weight, capacity.weight_key) == (
        "capacity",
        "C_max",
        "objective.capacity.c_max",
    )
    # All three runs have β = 4: by β they would be one row; by C_max they are two.
    assert [(row.beta, row.n_runs) for row in capacity.rows] == [(5.0, 1), (25.0, 2)]
    assert "3 runs at 2 C_max values (5, 25), seeds 0, 1." in capacity.sentences
    assert any("MIG peaks at C_max=25" in s for s in capacity.sentences)
    # FactorVAE's discriminator settings are its own hyperparameters: two settings, two sections and legends.
    factor = [s for s in sections if s.objective == "factor_vae"]
    assert [s.label for s in factor] == [
        "FactorVAE (disc. width = 1000, disc. layers = 6, disc. lr = 0.0001, disc. β1 = 0.5, disc. β2 = 0.9); x: γ",
        "FactorVAE (disc. width = 1000, disc. layers = 6, disc. lr = 0.001, disc. β1 = 0.5, disc. β2 = 0.9); x: γ",
    ]
    assert all(s.rows[0].n_runs == 1 for s in factor)
    table = section_csv_rows([capacity])
    assert [(r["weight_name"], r["weight"], r["beta"]) for r in table] == [
        ("objective.capacity.c_max", "5.0", "nan"),
        ("objective.capacity.c_max", "25.0", "nan"),
    ]
    # A page of one objective keeps the plain sentences (no label prefix).
    assert section_sentences([capacity])[0] == "3 runs at 2 C_max values (5, 25), seeds 0, 1."


def _log(root: Path, objective: str, beta: float, seed: int, mig: float, kl: float) -> None:
    params = parse_params({"beta": beta, "seed": seed, "model": {"objective": objective}})
    run = ModelRun.open(root, f"key-{objective}-{beta:g}-{seed}", params)
    run.log_params({f"{RESOLVED_PREFIX}arch": "conv", f"{RESOLVED_PREFIX}likelihood": "bernoulli"})
    run.log_metrics({"mig": mig, "kl": kl, "elbo": -50.0 - kl, "recon": 50.0, "active_units": 3})


def test_report_page_and_csv_per_objective(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "store"
    root.mkdir()
    for row in RUNS:
        _log(root, *row)
    out = tmp_path / "reports"
    result = build_report(root, out)
    assert result.n_runs == len(RUNS)
    assert any(s.startswith(f"{THEIRS}: MIG falls with β") for s in result.text)
    with (out / "summary.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["objective"], float(r["beta"]), int(r["n_runs"])) for r in table] == [
        ("beta_vae", 1.0, 3),
        ("beta_vae", 8.0, 3),
        ("tc_vae", 1.0, 2),
        ("tc_vae", 8.0, 2),
    ]
    assert math.isclose(float(table[3]["kl_mean"]), 41.0)
    page = (out / "index.html").read_text()
    assert page.count('<section class="objective">') == 2
    assert f"<h3>{BETA_VAE}</h3>" in page and f"<h3>{TC_VAE}</h3>" in page
    assert "figures/objectives.png" in page and (out / "figures" / "objectives.png").is_file()
