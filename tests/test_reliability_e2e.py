"""Through the real CLI and DVC: a diverging training stops with one line and commits nothing, a bad
tracking store stops a stage before it trains, experiments that differ only in eval.* get two runs, and
params no stage declares are refused before DVC touches an output."""

from __future__ import annotations

import time

import pytest
import yaml

from testkit.project import mlflow_runs

pytestmark = pytest.mark.e2e


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_divergence_stops_with_the_step_named_and_no_model(make_project):
    project = make_project({"train": {"lr": 1e30}})
    done = project.run("dvc", "repro", check=False)
    assert done.returncode != 0
    errors = _error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: training diverged at step "), errors
    assert "no model was written (train.lr = 1e+30, beta = 4)" in errors[0]
    assert "Traceback" not in done.stderr
    assert not (project.root / "models" / "model.pt").exists()
    lock = yaml.safe_load((project.root / "dvc.lock").read_text())
    assert "train" not in lock["stages"]  # nothing recorded or cached as the train stage's result
    _, runs = mlflow_runs(project.root)
    assert [run.info.status for run in runs] == ["FAILED"]


def test_a_bad_store_stops_before_training_and_keeps_earlier_outputs(make_project):
    project = make_project()
    project.run("vae-pipe", "prepare")
    dataset = (project.root / "data" / "dataset.npz").read_bytes()
    project.env["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"
    started = time.monotonic()
    done = project.run("vae-pipe", "train", check=False)
    assert done.returncode == 2
    assert _error_lines(done.stderr) == [
        "error: MLflow tracking store http://127.0.0.1:9 (MLFLOW_TRACKING_URI): no answer (tried 3 times): "
        "is the server running?"
    ]
    assert time.monotonic() - started < 60
    assert not (project.root / "models").exists()
    assert (project.root / "data" / "dataset.npz").read_bytes() == dataset


def test_experiments_differing_only_in_eval_params_get_two_runs(make_project):
    project = make_project()
    project.run("dvc", "repro")
    project.commit("baseline")
    project.run("dvc", "exp", "run", "-S", "eval.mig_bins=10")
    project.run("dvc", "exp", "run", "-S", "eval.mig_bins=10")  # restored from the run-cache: no third run
    client, runs = mlflow_runs(project.root)
    assert sorted(run.data.params["eval.mig_bins"] for run in runs) == ["10", "20"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train.loss")] == [5, 10, 15, 20, 25, 30]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"model", "eval", "plots"}
    assert not (project.root / ".checkpoints").exists() or not any((project.root / ".checkpoints").iterdir())


def test_a_stage_killed_mid_training_resumes_to_the_same_weights_and_run(make_project):
    import json
    import signal
    import subprocess

    settings = {"train": {"steps": 200, "log_every": 5, "checkpoint_every": 5}}
    killed, whole = make_project(settings, name="killed"), make_project(settings, name="whole")
    for project in (killed, whole):
        project.env["OMP_NUM_THREADS"] = "1"
        project.run("vae-pipe", "prepare")
    with subprocess.Popen(
        ["vae-pipe", "train"], cwd=killed.root, env=killed.env, stderr=subprocess.PIPE, text=True
    ) as child:
        assert child.stderr is not None
        for line in child.stderr:
            if line.startswith("step ") and int(line.split()[1].split("/")[0]) >= 60:
                break
        child.send_signal(signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    assert list((killed.root / ".checkpoints").glob("*/state.pt"))
    _, runs = mlflow_runs(killed.root)
    assert [run.info.status for run in runs] == ["RUNNING"]

    killed.run("vae-pipe", "train")
    whole.run("vae-pipe", "train")
    card = json.loads((killed.root / "models" / "model.json").read_text())
    assert card["resumed_from_step"] >= 55  # the checkpoint before the kill (step 60 may not be saved yet)
    assert card["digest"] == json.loads((whole.root / "models" / "model.json").read_text())["digest"]
    assert not list((killed.root / ".checkpoints").glob("*/state.pt"))
    client, runs = mlflow_runs(killed.root)
    assert [run.info.status for run in runs] == ["FINISHED"]
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, "train.loss")]
    assert steps == list(range(5, 201, 5))  # the resumed training continued the run, no step twice


def test_params_no_stage_declares_are_refused_before_dvc_deletes_any_output(make_project):
    """The validate stage tracks all of params.yaml: an unknown key (which no other stage declares, so DVC
    would have said "up to date") and a bad value (for which DVC used to delete the stage's outputs before
    the stage refused it) both stop at validate, one line each, the outputs untouched."""
    project = make_project()
    project.run("dvc", "repro", "prepare")
    project.commit("prepared")
    dataset = (project.root / "data" / "dataset.npz").read_bytes()
    params = project.root / "params.yaml"
    good = params.read_text()
    for edit, message in (
        ("betta: 8\n", "error: params.yaml: betta: unknown key"),
        ("data:\n  test_size: -5\n", "error: params.yaml: data.test_size:"),
    ):
        params.write_text(good + edit if edit.startswith("betta") else good.replace("test_size: 600", "test_size: -5"))
        done = project.run("dvc", "repro", check=False)
        assert done.returncode != 0 and "Running stage 'validate'" in done.stdout, done.stdout
        assert _error_lines(done.stderr)[0].startswith(message), done.stderr
        assert len(_error_lines(done.stderr)) == 1, done.stderr
        assert (project.root / "data" / "dataset.npz").read_bytes() == dataset
    params.write_text(good)

    tried = project.run("dvc", "exp", "run", "-S", "+betta=8", check=False)
    assert tried.returncode != 0 and "betta: unknown key" in tried.stderr
    assert project.run("dvc", "exp", "ls", "--name-only").stdout.strip() == ""  # no experiment committed
    params.write_text(good)  # DVC leaves a failed experiment's params in the workspace

    again = project.run("dvc", "repro", "prepare")  # valid again: the mark comes back, prepare is not rerun
    assert "Stage 'prepare' didn't change, skipping" in again.stdout, again.stdout
    assert (project.root / "data" / "dataset.npz").read_bytes() == dataset
