"""A sweep over the objectives through the real CLI, DVC and MLflow: each objective's terms as
step metrics, the held-out KL parts as metrics, the objectives side by side in the report."""

from __future__ import annotations

import pytest

from testkit.project import mlflow_runs

pytestmark = pytest.mark.e2e

# The two objectives with terms and trained parts of their own, one point each, trained at once (--jobs 2): β-VAE runs
# in every other sweep test, and capacity's schedule is checked step by step in tests/stages/test_objective_training.py.
OWN_TERMS = {"tc_vae": ["mi", "tc", "dim_kl"], "factor_vae": ["disc_acc"]}


def test_sweep_over_objectives(make_project):
    project = make_project({"objective": {"factor_vae": {"disc_hidden": 32, "disc_layers": 2}}})
    objectives = ",".join(OWN_TERMS)
    args = ["--beta", "4", "--seed", "0", "--set", f"model.objective={objectives}", "--jobs", "2"]
    project.run("vae-pipe", "sweep", *args, "--name", "objectives")

    client, runs = mlflow_runs(project.root)
    by_objective = {run.data.params["model.objective"]: run for run in runs}
    assert sorted(by_objective) == sorted(OWN_TERMS)
    for name, run in by_objective.items():
        metrics = run.data.metrics
        for key in ("elbo", "loss", "mi", "tc", "dim_kl", "mig"):
            assert key in metrics, (name, key)
        assert metrics["elbo"] == pytest.approx(-(metrics["recon"] + metrics["kl"]))  # the ELBO, not the loss
        for term in ["loss", "recon", "kl", *OWN_TERMS[name]]:
            assert client.get_metric_history(run.info.run_id, f"train.{term}"), (name, term)
    factor = by_objective["factor_vae"].data.metrics  # held out: the saved discriminator's TC in the loss
    assert factor["loss"] == pytest.approx(factor["recon"] + factor["kl"] + 10.0 * factor["disc_tc"], rel=1e-5)
    assert all("disc_tc" not in run.data.metrics for name, run in by_objective.items() if name != "factor_vae")
    listed = {a.path for a in client.list_artifacts(by_objective["factor_vae"].info.run_id, "model")}
    assert "model/objective.pt" in listed

    project.run("vae-pipe", "report", "--sweep", "objectives")
    page = (project.root / "reports" / "index.html").read_text()
    assert "Objectives compared" in page and "figures/objectives.png" in page and "The runs mix objectives" in page
    assert page.count('<section class="objective">') == len(OWN_TERMS)  # a summary and table per objective
    summary = (project.root / "reports" / "summary.csv").read_text().splitlines()
    assert sorted(line.split(",")[1] for line in summary[1:]) == sorted(OWN_TERMS)
    assert (project.root / "reports" / "figures" / "objectives.png").stat().st_size > 0
