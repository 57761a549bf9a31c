"""A sweep's progress outside a terminal: running points' training read from MLflow, printed periodically."""

from __future__ import annotations

import io
import time

from rich.console import Console

from pipeline.sweep.grid import GridPoint
from pipeline.sweep.plan import QUEUED, RUNNING, PointState
from pipeline.sweep.progress import Training, running_trainings
from pipeline.sweep.view import SweepView
from pipeline.tracking.store import check_store, client


def test_running_trainings_reads_the_latest_curve_point_of_each_points_run(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    experiment = check_store(tmp_path)
    mlflow = client(tmp_path)
    running = mlflow.create_run(experiment, tags={"dvc.exp_name": "b4-x"}).info.run_id
    mlflow.log_param(running, "train.steps", "100")
    mlflow.log_param(running, "train.batch_size", "64")
    for step, speed in ((20, 500.0), (10, 900.0)):  # logged out of order: the highest step counts
        mlflow.log_metric(running, "train.images_per_s", speed, step=step)
    finished = mlflow.create_run(experiment, tags={"dvc.exp_name": "b1-x"}).info.run_id
    mlflow.log_metric(finished, "train.images_per_s", 1.0, step=5)
    mlflow.set_terminated(finished, "FINISHED")

    mlflow.log_param(finished, "train.steps", "5")
    mlflow.log_param(finished, "train.batch_size", "64")

    found = running_trainings(tmp_path, {"b4-x", "b1-x", "other"})

    assert found == {
        "b4-x": Training(step=20, steps=100, images_per_s=500.0, batch_size=64),
        "b1-x": Training(step=5, steps=5, images_per_s=1.0, batch_size=64, finished=True),
    }
    assert found["b1-x"].describe() == "trained 5 steps at 1 images/s, evaluating"
    assert found["b4-x"].eta_s == 80 * 64 / 500  # 10.24 s
    assert found["b4-x"].describe() == "step 20/100, 500 images/s, training eta 10 s"


def _view(trainings, every: float) -> tuple[SweepView, io.StringIO]:
    view = SweepView("s", 2, 1, trainings, progress_every=every)
    buffer = io.StringIO()
    view.console = Console(file=buffer, force_terminal=False, width=200)
    return view, buffer


def test_log_output_prints_running_points_progress_every_interval():
    states = [
        PointState(GridPoint((("beta", 4.0),)), "b4-x", RUNNING, started=time.time() - 30),
        PointState(GridPoint((("beta", 1.0),)), "b1-x", QUEUED),
    ]
    asked: list[set[str]] = []

    def trainings(names: set[str]) -> dict[str, Training]:
        asked.append(names)
        return {"b4-x": Training(3000, 12000, 1350.0, 64)}

    view, buffer = _view(trainings, every=3600)
    with view.live() as update:
        update(states)  # within the interval: state changes only
        assert "step" not in buffer.getvalue()
        view._last_progress -= 3600
        update(states)
    text = buffer.getvalue()
    assert asked == [{"b4-x"}]  # only running points are looked up
    assert (
        f"{states[0].point.label} (b4-x): running 30 s, step 3,000/12,000, 1,350 images/s, training eta 427 s" in text
    )
    assert text.count("step 3,000") == 1


def test_progress_survives_a_store_error():
    def broken(names: set[str]) -> dict[str, Training]:
        raise ConnectionError("down")

    view, buffer = _view(broken, every=1)
    view.print_progress([PointState(GridPoint((("beta", 4.0),)), "b4-x", RUNNING)])
    assert "not training yet (training progress unavailable: ConnectionError)" in buffer.getvalue()
