"""One model end to end through the real CLI, real DVC and real MLflow, in a temporary git repo."""

from __future__ import annotations

import json
import time

import pytest

from pipeline.core.catalogue import CODE_SCORES
from pipeline.core.codes import read_codes
from testkit.project import exp_rows, mlflow_runs
from testkit.suite_files import write_shapes3d

pytestmark = pytest.mark.e2e

MODEL_FIGURES = {"reconstructions.png", "samples.png", "traversals.png", "kl_per_dim.png", "training_curves.png"}
# Latent introspection against ground-truth factors, or the class label where a dataset has no factors.
FIGURES = MODEL_FIGURES | {
    "latents.png",
    "prior_traversals.png",
    "interpolations.png",
    "latent_vs_factor.png",
    "latent_scatter.png",
    "latent_pca.png",
}


def test_repro_noop_and_exp_run_are_tracked(make_project):
    project = make_project()
    root = project.root

    first = project.run("dvc", "repro")
    for stage in ("prepare", "train", "evaluate", "plot"):
        assert f"Running stage '{stage}'" in first.stdout
    metrics = json.loads((root / "eval/metrics.json").read_text())
    assert {"elbo", "recon", "kl", "loss", "active_units", "mig", "kl_dim", "mig_gap"} <= metrics.keys()
    assert metrics["elbo"] == pytest.approx(-(metrics["recon"] + metrics["kl"]))
    assert len(metrics["kl_dim"]) == 10
    scores = {"iwae", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap", "factor_vae", "beta_vae"}
    scores |= {"modularity", "explicitness", "irs", *CODE_SCORES, "gaussian_wasserstein_correlation"}
    assert scores <= metrics.keys()
    assert {p.name for p in (root / "plots").iterdir()} == FIGURES
    codes = read_codes(root / "eval/codes.npz", "evaluate wrote it")  # the sample UDR compares: 600 held out
    assert codes.means.shape == codes.logvars.shape == (600, 10) and len(codes.rows) == 600
    assert "step,loss,recon,kl" in (root / "models/curves.csv").read_text()
    # Stage outputs are DVC's, not git's.
    assert project.run("git", "check-ignore", "models/model.pt", "eval/metrics.json", "plots").returncode == 0

    second = project.run("dvc", "repro")
    assert "Running stage" not in second.stdout
    project.commit("baseline at beta=4")

    project.run("dvc", "exp", "run", "-S", "beta=8")

    rows = exp_rows(root)
    betas = {row.get("beta") for row in rows}
    assert {4.0, 8.0} <= betas
    for row in rows:
        assert isinstance(row.get("mig"), float) and isinstance(row.get("elbo"), float), row
        assert isinstance(row.get("sap"), float) and isinstance(row.get("iwae"), float), row
    exp_names = {row.get("Experiment") for row in rows if row.get("beta") == 8.0} - {None, ""}
    assert exp_names, rows

    client, runs = mlflow_runs(root)
    assert sorted(float(run.data.params["beta"]) for run in runs) == [4.0, 8.0]
    for run in runs:
        assert {"elbo", "mig", "kl", "active_units", "kl_dim.z0", "mig_gap.shape"} <= run.data.metrics.keys()
        assert scores <= run.data.metrics.keys()
        assert run.data.params["train.steps"] == "30"
        assert run.data.tags.get("git.commit")
        # The run spans the training (created RUNNING at its start), not the milliseconds of recording it.
        assert run.info.end_time - run.info.start_time >= 1000 * run.data.metrics["train.seconds"]
        history = client.get_metric_history(run.info.run_id, "train.loss")
        assert [m.step for m in history] == [5, 10, 15, 20, 25, 30]
        # The speed curve is one value per logged step; the run's average has a name of its own.
        speed = client.get_metric_history(run.info.run_id, "train.images_per_s")
        assert [m.step for m in speed] == [5, 10, 15, 20, 25, 30] and run.data.metrics["train.mean_images_per_s"] > 0
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert {f"plots/{name}" for name in FIGURES} <= artifacts
        assert {a.path for a in client.list_artifacts(run.info.run_id, "model")} >= {"model/model.pt", "model/MLmodel"}
        assert "eval/codes.npz" in {a.path for a in client.list_artifacts(run.info.run_id, "eval")}
    beta8 = next(run for run in runs if run.data.params["beta"] == "8.0")
    assert beta8.data.tags.get("dvc.exp_name") in exp_names

    # The same experiment again: DVC restores its stages from the run-cache, and MLflow gets no second run.
    again = project.run("dvc", "exp", "run", "-S", "beta=8")
    assert "Running stage 'train'" not in again.stdout
    _, runs = mlflow_runs(root)
    assert sorted(run.data.params["beta"] for run in runs) == ["4.0", "8.0"]
    # One MLflow Model per run (pipeline/tracking/mlmodel.py), none added by the later stages' records or the rerun.
    logged = client.search_logged_models([runs[0].info.experiment_id])
    assert sorted(model.source_run_id for model in logged) == sorted(run.info.run_id for run in runs)

    # DVC's own queue, for users who prefer it to `vae-pipe sweep`: the stages record wherever they run (only
    # evaluate and plot here: the training is restored from the run-cache).
    project.run("dvc", "exp", "run", "--queue", "-S", "beta=8", "-S", "eval.mig_bins=10", "--name", "queued-eval")
    project.run("dvc", "queue", "start", "-j", "1")
    deadline = time.monotonic() + 300
    while not any(word in (line := _queue_line(project, "queued-eval")) for word in ("Success", "Failed")):
        assert time.monotonic() < deadline, line
        time.sleep(3)
    assert "Success" in line, project.run("dvc", "queue", "logs", "queued-eval").stdout
    _, runs = mlflow_runs(root)
    queued = next(run for run in runs if run.data.params["eval.mig_bins"] == "10")
    assert queued.info.status == "FINISHED" and queued.data.tags["dvc.exp_name"] == "queued-eval"
    assert {"elbo", "mig"} <= queued.data.metrics.keys()


def _queue_line(project, name: str) -> str:
    """The line of `dvc queue status` for experiment `name` (its state: Queued, Running, Success, Failed)."""
    return next((line for line in project.run("dvc", "queue", "status").stdout.splitlines() if name in line), "")


def test_bad_param_is_one_line_before_any_work(make_project):
    project = make_project({"model": {"latent_dim": 0}})
    done = project.run("dvc", "repro", check=False)
    assert done.returncode != 0
    assert "params.yaml: model.latent_dim: Input should be greater than or equal to 1 (got 0)" in done.stderr
    assert not (project.root / "data" / "dataset.npz").exists()


def test_digits_end_to_end_records_its_likelihood_and_skips_mig(make_project):
    """scikit-learn's digits through the real CLI + DVC + MLflow: MLP, continuous Bernoulli, no MIG, and the
    unsupervised scores, which need no factors."""
    project = make_project({"data": {"dataset": "digits", "subsample": None, "test_size": 300}})
    project.run("dvc", "repro")
    root = project.root
    metrics = json.loads((root / "eval/metrics.json").read_text())
    assert {"elbo", "recon", "kl", "active_units"} <= metrics.keys() and "mig" not in metrics
    assert set(CODE_SCORES) <= metrics.keys() and "modularity" not in metrics  # the codes alone: every dataset
    assert metrics["elbo"] == pytest.approx(-(metrics["recon"] + metrics["kl"]))
    details = json.loads((root / "eval/details.json").read_text())
    assert details["likelihood"] == "continuous_bernoulli" and "no ground-truth factors" in details["mig_skipped"]
    assert json.loads((root / "models/model.json").read_text())["config"]["image_shape"] == [1, 8, 8]
    assert {p.name for p in (root / "plots").iterdir()} == FIGURES  # the latent figures against the label
    assert len(details["label_mutual_info"]) == 10 and details["label_entropy"][0] > 2  # ten digit classes
    _, runs = mlflow_runs(root)
    (run,) = runs
    assert run.data.params["data.dataset"] == "digits"
    assert all(run.data.metrics[name] == pytest.approx(metrics[name]) for name in CODE_SCORES)
    assert run.data.params["resolved.likelihood"] == "continuous_bernoulli"
    assert run.data.params["resolved.arch"] == "mlp"
    # train.compile: auto stays eager for a short run; the CPU's precision as `auto` chose it
    assert run.data.params["train.compile"] == "auto" and run.data.params["resolved.compile"] == "False"
    assert run.data.params["resolved.precision"] in ("bf16", "fp32")


def test_a_dataset_from_local_files_runs_as_a_dvc_experiment_with_every_score(make_project):
    """3D Shapes from its h5 at the documented place in a clone: `dvc exp run -S data.dataset=shapes3d` prepares
    it, trains the 3-channel conv net and scores it against its six factors, sampled from the prepared file."""
    project = make_project({"data": {"subsample": None, "test_size": 16}})
    write_shapes3d(project.root / "data" / "3dshapes" / "3dshapes.h5")  # git-ignored, as a user's copy is
    assert project.run("git", "status", "--porcelain").stdout == ""
    project.run("dvc", "exp", "run", "-S", "data.dataset=shapes3d")
    root = project.root
    metrics = json.loads((root / "eval/metrics.json").read_text())
    assert {"mig", "dci_disentanglement", "sap", "factor_vae", "beta_vae", "iwae"} <= metrics.keys()
    details = json.loads((root / "eval/details.json").read_text())
    assert details["factor_names"] == details["scored_factors"] and details["scored_factors"][0] == "floor_hue"
    assert json.loads((root / "models/model.json").read_text())["config"]["image_shape"] == [3, 64, 64]
    assert {p.name for p in (root / "plots").iterdir()} == FIGURES
    _, runs = mlflow_runs(root)
    (run,) = runs
    assert run.data.params["data.dataset"] == "shapes3d" and run.data.params["resolved.arch"] == "conv"
    assert run.data.metrics["mig"] == pytest.approx(metrics["mig"])


@pytest.mark.browser
def test_a_real_runs_report_renders_every_latent_figure(make_project, tmp_path):
    """`dvc repro` then `vae-pipe report`: the page shows the run's latent figures, and each one loads."""
    from pipeline.report.html import INTROSPECTION_FIGURES
    from tests.browser import image_widths, require_chromium, screenshot

    chromium = require_chromium()
    project = make_project()
    project.run("dvc", "repro")
    project.run("vae-pipe", "report")
    index = project.root / "reports" / "index.html"
    page = index.read_text()
    for name in INTROSPECTION_FIGURES:
        assert f'/{name}"' in page, name
    widths = image_widths(chromium, index.as_uri())
    assert len(widths) >= len(INTROSPECTION_FIGURES) and all(width > 0 for width in widths), widths
    assert screenshot(chromium, index.as_uri(), tmp_path / "report.png").stat().st_size > 0
