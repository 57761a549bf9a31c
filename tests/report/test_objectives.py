"""Objectives side by side in the report: grouped by (objective and settings, weight), never pooled."""

from __future__ import annotations

from pipeline.core.objectives import legend, weight
from pipeline.core.params import parse_params
from pipeline.report.data import RunRecord
from pipeline.report.objectives import objective_groups, objectives_figure, objectives_kl_heatmap
from pipeline.report.sections import objective_sections


def _run(run_id: str, name: str, seed: int, mig: float, **params) -> RunRecord:
    flat = parse_params({"model": {"objective": name}, **params}).flat()
    return RunRecord(
        run_id,
        beta=float(flat["beta"]),
        seed=seed,
        metrics={"mig": mig, "elbo": -100.0 - mig, "tc": 1.0, "kl_dim.z0": 2.0 * mig, "kl_dim.z1": 3.0},
        objective=name,
        weight=weight(flat),
        objective_label=legend(flat),
    )


def test_objectives_are_grouped_by_their_own_weight_and_never_pooled():
    runs = [
        _run("a", "beta_vae", 0, 0.1, beta=4),
        _run("b", "beta_vae", 1, 0.3, beta=4),
        _run("c", "tc_vae", 0, 0.5, beta=4),
        _run("d", "tc_vae", 0, 0.7, beta=4, objective={"tc_vae": {"alpha": 0.5}}),
        _run("e", "capacity", 0, 0.2, objective={"capacity": {"c_max": 10}}),
    ]
    groups = objective_groups(runs)
    assert sorted(groups) == [
        "annealed capacity (γ = 10, anneal steps = 10000); x: C_max",
        "β-TCVAE (α = 0.5, γ = 1, sampling mws); x: β",
        "β-TCVAE (α = 1, γ = 1, sampling mws); x: β",
        "β-VAE; x: β",
    ]
    beta_vae = groups["β-VAE; x: β"]
    assert [(row.beta, row.n_runs, round(row.stats["mig"].mean, 6)) for row in beta_vae] == [(4.0, 2, 0.2)]
    assert [row.beta for row in groups["annealed capacity (γ = 10, anneal steps = 10000); x: C_max"]] == [10.0]
    # The per-β figures show the first section: β-VAE when present, else an objective weighed by β.
    assert objective_sections(runs)[0].objective == "beta_vae"
    assert objective_sections(runs[2:])[0].objective == "tc_vae"
    fig = objectives_figure(groups)
    assert [t.get_text()[:4] for t in fig.legends[0].get_texts()] == ["[1] ", "[2] ", "[3] ", "[4] "]
    heatmap = objectives_kl_heatmap(groups)
    labels = [t.get_text() for t in heatmap.axes[0].get_yticklabels()]
    assert labels == [
        "annealed capacity [1] C_max = 10  (n=1)",
        "β-TCVAE [2] β = 4  (n=1)",
        "β-TCVAE [3] β = 4  (n=1)",
        "β-VAE [4] β = 4  (n=2)",
    ]
    assert [ax.get_title() for ax in fig.axes if ax.axison][:2] == ["ELBO (higher is better)", "Total correlation"]
