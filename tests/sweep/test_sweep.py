"""`vae-pipe sweep` through the real DVC queue and MLflow, in a temporary git repo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from testkit.project import exp_rows, mlflow_runs
from tests.browser import image_widths, require_chromium, screenshot

pytestmark = pytest.mark.e2e


def _nothing_left_running(root: Path, seconds: float = 30) -> bool:
    """No process of the sweep alive in `root`: its `dvc exp run`s (in the repository) and their stages (in
    DVC's temporary copies under .dvc/tmp), waited for a few seconds."""
    deadline = time.monotonic() + seconds
    inside = root.resolve()
    while time.monotonic() < deadline:
        alive = []
        for proc in Path("/proc").iterdir():
            try:
                cwd = (proc / "cwd").resolve()
            except (OSError, RuntimeError):
                continue
            if proc.name.isdigit() and int(proc.name) != os.getpid() and cwd.is_relative_to(inside):
                alive.append(proc.name)
        if not alive:
            return True
        time.sleep(1)
    return False


def test_sweep_runs_each_point_once_and_records_all(make_project):
    project = make_project({"sweep": {"beta": [1, 4], "seed": [0]}})

    preview = project.run("vae-pipe", "sweep", "--dry-run", "--jobs", "2")
    assert "beta=1 seed=0" in preview.stderr and "beta=4 seed=0" in preview.stderr
    assert not (project.root / "mlflow.db").exists()

    project.run("vae-pipe", "sweep", "--jobs", "2", "--name", "first")
    rows = [row for row in exp_rows(project.root) if row.get("Experiment")]
    assert sorted(row["beta"] for row in rows) == [1, 4]
    assert all(isinstance(row["mig"], float) for row in rows)

    client, runs = mlflow_runs(project.root)
    assert sorted(run.data.params["beta"] for run in runs) == ["1.0", "4.0"]
    assert {run.data.tags["vae_pipe.sweep"] for run in runs} == {"first"}
    assert {run.data.tags["dvc.exp_name"] for run in runs} == {row["Experiment"] for row in rows}
    for run in runs:
        assert "mig" in run.data.metrics
        assert client.get_metric_history(run.info.run_id, "train.loss")
    assert _nothing_left_running(project.root), "a process of the finished sweep is still running"

    (project.root / "NOTES.md").write_text("a commit that changes no input of the pipeline\n")
    project.commit("unrelated commit")
    again = project.run("vae-pipe", "sweep", "--jobs", "2", "--name", "second")
    assert again.stderr.count("done before") >= 2
    assert "queued" not in again.stderr
    _, runs = mlflow_runs(project.root)
    assert len(runs) == 2
    assert {run.data.tags["vae_pipe.sweep"] for run in runs} == {"first,second"}  # in both sweeps
    assert project.run("vae-pipe", "report", "--sweep", "first").returncode == 0

    report = project.run("vae-pipe", "report", "--sweep", "second")
    assert "MIG peaks at" in report.stdout
    index = project.root / "reports" / "index.html"
    summary = (project.root / "reports" / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("beta,") and [float(line.split(",")[0]) for line in summary[1:]] == [1.0, 4.0]
    chromium = require_chromium()
    widths = image_widths(chromium, index.as_uri())
    assert len(widths) >= 9 and all(width > 0 for width in widths), widths
    screenshot(chromium, index.as_uri(), project.root.parent / "report.png")

    # Runs deleted (in the UI, or logged into another store): the next sweep rebuilds each from DVC's outputs.
    for run in runs:
        client.delete_run(run.info.run_id)
    rebuilt = project.run("vae-pipe", "sweep", "--jobs", "2", "--name", "third")
    assert "queued" not in rebuilt.stderr
    client, runs = mlflow_runs(project.root)
    assert sorted(run.data.params["beta"] for run in runs) == ["1.0", "4.0"]
    for run in runs:
        assert "mig" in run.data.metrics and "train.seconds" in run.data.metrics
        assert (
            len(client.get_metric_history(run.info.run_id, "train.loss"))
            == len(client.get_metric_history(run.info.run_id, "train.kl"))
            > 1
        )
        listed = {a.path for d in ("model", "eval", "plots") for a in client.list_artifacts(run.info.run_id, d)}
        assert {"model/model.pt", "model/model.json", "model/curves.csv", "eval/metrics.json"} <= listed
        assert {"eval/details.json", "plots/reconstructions.png", "plots/training_curves.png"} <= listed


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a point that fails at run time: cuda without a GPU")
def test_failing_points_are_named_and_the_rest_finish(make_project):
    project = make_project()
    done = project.run("vae-pipe", "sweep", "--beta", "4", "--seed", "0", "--set", "train.device=cpu,cuda", check=False)
    assert done.returncode == 1
    err = done.stderr
    assert "failed: beta=4 seed=0 train.device=cuda" in err
    assert "train.device is 'cuda' but no CUDA device is available" in err  # the tail of its DVC log
    _, runs = mlflow_runs(project.root)
    assert [(run.data.params["beta"], run.data.params["train.device"]) for run in runs] == [("4.0", "cpu")]


def test_sweep_over_two_datasets_reports_each_on_its_own_page(make_project):
    # A subsample both datasets have (digits has 1,797 images; more is a one-line error).
    project = make_project({"data": {"subsample": 1500, "test_size": 300}, "sweep": {"beta": [4], "seed": [0]}})
    project.run("vae-pipe", "sweep", "--jobs", "2", "--name", "datasets", "--set", "data.dataset=dsprites,digits")
    _, runs = mlflow_runs(project.root)
    by_dataset = {run.data.params["data.dataset"]: run for run in runs}
    assert set(by_dataset) == {"dsprites", "digits"}
    assert by_dataset["dsprites"].data.params["resolved.likelihood"] == "bernoulli"
    assert by_dataset["digits"].data.params["resolved.likelihood"] == "continuous_bernoulli"
    assert "mig" in by_dataset["dsprites"].data.metrics and "mig" not in by_dataset["digits"].data.metrics
    project.run("vae-pipe", "report", "--sweep", "datasets")
    reports = project.root / "reports"
    top = (reports / "index.html").read_text()
    assert "dsprites-conv-bernoulli/index.html" in top and "digits-mlp-continuous_bernoulli/index.html" in top


def test_ctrl_c_then_an_immediate_rerun_trains_each_point_once(make_project):
    """Ctrl-C as a terminal sends it (SIGINT to the foreground process group) while points train, then the
    same sweep again at once: every point ends with one finished run, trained once (a stopped training
    resumes from its checkpoint instead of starting over), and no process of either sweep is left."""
    project = make_project(
        {
            "model": {"arch": "mlp"},
            "train": {"steps": 1500, "log_every": 50, "checkpoint_every": 50},
            "sweep": {"beta": [1, 4], "seed": [0]},
        }
    )
    # Every start of the train stage's command (a fresh training or a resumed one), by experiment.
    dvc_yaml = project.root / "dvc.yaml"
    starts = project.root / "train-starts.log"
    command = "cmd: python -m pipeline.stages train"
    assert command in dvc_yaml.read_text()
    counted = 'cmd: echo "$DVC_EXP_NAME" >> "$DVC_ROOT/train-starts.log" && python -m pipeline.stages train'
    dvc_yaml.write_text(dvc_yaml.read_text().replace(command, counted))
    project.commit("count the training starts")

    args = ["vae-pipe", "sweep", "--jobs", "2", "--name", "interrupted"]
    log = project.root.parent / "interrupted-sweep.log"
    with log.open("w") as output:
        first = subprocess.Popen(
            args,
            cwd=project.root,
            env=project.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            # and Ctrl-C handled as there (a job started in the background of a script inherits it ignored)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    deadline = time.monotonic() + 300
    while not list((project.root / ".checkpoints").glob("*/*")):  # a training is past its first checkpoint
        assert first.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no training reached a checkpoint"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGINT)
    assert first.wait(timeout=300) == 130, log.read_text()
    err = log.read_text()
    assert "interrupted: stopped" in err and "resume from their checkpoints" in err

    again = project.run(*args, timeout=1800)
    assert "failed:" not in again.stderr, again.stderr
    client, runs = mlflow_runs(project.root)
    assert sorted(run.data.params["beta"] for run in runs) == ["1.0", "4.0"]  # one run per point
    assert {run.info.status for run in runs} == {"FINISHED"}
    started = Counter(starts.read_text().split())
    assert set(started) == {run.data.tags["dvc.exp_name"] for run in runs}
    cards = {
        run.data.tags["dvc.exp_name"]: json.loads(
            Path(client.download_artifacts(run.info.run_id, "model/model.json")).read_text()
        )
        for run in runs
    }
    # The model cards tell which training resumed, and from which step.
    resumed = {name: card["resumed_from_step"] for name, card in cards.items()}
    assert any(step > 0 for step in resumed.values()), f"no training resumed from a checkpoint: {resumed}"
    for run in runs:
        name = run.data.tags["dvc.exp_name"]
        # Started once; or stopped by the Ctrl-C and started again (from its checkpoint when it had one).
        assert started[name] in ({2} if resumed[name] > 0 else {1, 2}), (name, started, resumed)
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "train.loss")]
        assert steps == list(range(50, 1501, 50))  # the curve once, without a gap or a repeat
    assert _nothing_left_running(project.root), "a process of either sweep is still running"


def test_a_killed_sweeps_points_finish_and_a_rerun_waits_for_them_then_ends_whole(make_project):
    """`kill -9` of `vae-pipe sweep` (an OOM kill, a closed laptop's session): the point it was running goes
    on in its own process group and commits its experiment. The same sweep started again at once waits for
    those points instead of training them a second time and ends whole, and nothing is left running. Its output goes to a file (CI, nohup): periodic progress lines, not silence."""
    # Long enough that a 1 s interval sees a point while it trains or, on a fast machine, evaluates.
    project = make_project(
        {"model": {"arch": "mlp"}, "train": {"steps": 300, "log_every": 10}, "sweep": {"beta": [1, 4], "seed": [0]}}
    )
    args = ["vae-pipe", "sweep", "--jobs", "2", "--name", "killed", "--progress-every", "1"]
    log = project.root.parent / "killed-sweep.log"
    with log.open("w") as output:
        sweep = subprocess.Popen(
            args, cwd=project.root, env=project.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while "training eta" not in log.read_text():  # a point trains
            assert sweep.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no point started training"
            time.sleep(0.5)
    finally:
        sweep.kill()  # the sweep alone: its point runs in a process group of its own
    sweep.wait()
    text = log.read_text()
    training = re.findall(r"running \d+ s, step ([\d,]+)/300, ([\d,]+) images/s, training eta [\d,]+ s", text)
    assert training, text
    assert all(0 < int(step.replace(",", "")) <= 300 and int(speed.replace(",", "")) > 0 for step, speed in training)

    again = project.run(*args[:-2], timeout=900)
    assert "waiting for an earlier sweep's run of this point to end" in again.stderr, again.stderr
    assert "2/2 final" in again.stderr and "failed" not in again.stderr
    client, runs = mlflow_runs(project.root)
    assert sorted(run.data.params["beta"] for run in runs) == ["1.0", "4.0"]
    assert {run.info.status for run in runs} == {"FINISHED"}
    for run in runs:  # each trained once: its curve once, without a gap or a repeat
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train.loss")] == list(range(10, 301, 10))
        assert "killed" in run.data.tags["vae_pipe.sweep"]
    assert _nothing_left_running(project.root), "a process of either sweep is still running"
