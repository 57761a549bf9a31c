"""A re-run sweep never queues a point DVC's queue already holds; Ctrl-C stops this sweep's points."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from pipeline.sweep.grid import points
from pipeline.sweep.local import queue as sweep
from pipeline.sweep.local import run as local_run
from pipeline.sweep.local import stop as sweep_stop


@pytest.fixture
def grid_state(monkeypatch):
    monkeypatch.setattr(sweep, "inputs_digest", lambda root: "digest")
    monkeypatch.setattr(sweep, "finished_experiments", lambda root: {})
    grid = points({"beta": [1, 2, 4]})
    names = [point.exp_name("digest") for point in grid]
    return grid, names


def test_points_in_the_queue_are_waited_for_not_queued_again(monkeypatch, grid_state):
    grid, names = grid_state
    monkeypatch.setattr(sweep_stop, "active_points", lambda root: {names[0]: "Running", names[1]: "Queued"})
    states = sweep.plan(Path("."), grid)
    assert [(s.state, s.in_queue) for s in states] == [
        (sweep.RUNNING, True),
        (sweep.QUEUED, True),
        (sweep.QUEUED, False),
    ]
    queued = []

    class FakeQueue:
        def iter_failed(self):
            return iter(())

        def start_workers(self, jobs):
            queued.append(("workers", jobs))

    class FakeExperiments:
        celery_queue = FakeQueue()

        def run(self, params, queue, name):
            queued.append(name)

    class FakeRepo:
        experiments = FakeExperiments()

        def __init__(self, root):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr("dvc.repo.Repo", FakeRepo)
    monkeypatch.setattr(sweep.queue_workers, "clear_stale_control", lambda queue, nums: queued.append(("clear", nums)))
    sweep._queue_and_start(Path("."), states, 2, 1)
    assert queued == [names[2], ("clear", [1, 2]), ("workers", 2)]  # stale shutdowns cleared before starting


@pytest.mark.parametrize("leave_running", [False, True])
def test_ctrl_c_stops_this_sweeps_points_or_leaves_them(monkeypatch, grid_state, capsys, leave_running):
    grid, names = grid_state
    states = [
        sweep.PointState(point, name, state) for point, name, state in zip(grid, names, ["done", "running", "queued"])
    ]
    stopped = []
    monkeypatch.setattr(
        sweep_stop, "stop_points", lambda root, pending: stopped.append(pending) or ([names[1]], [names[2]])
    )
    monkeypatch.setattr(sweep_stop, "stop_idle_workers", lambda root: True)
    with pytest.raises(typer.Exit) as exit_:
        local_run.interrupted_sweep(Path("."), states, leave_running)
    assert exit_.value.exit_code == 130
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    if leave_running:
        assert stopped == []
        assert message.startswith(f"interrupted: 2 points left in DVC's queue ({names[1]}, {names[2]})")
    else:
        assert stopped == [[names[1], names[2]]]
        assert message.startswith("interrupted: stopped 1 running and removed 1 queued points of this sweep")


def test_stopping_is_graceful_and_waits_until_the_points_have_stopped(monkeypatch):
    """`dvc queue kill` without --force (SIGINT: training saves a checkpoint), then a wait until DVC no longer
    reports the point running, so an immediate re-run queues it again instead of waiting for it to fail."""
    calls = []
    reported = iter([{"a": "Running", "b": "Queued"}, {"a": "Running"}, {"a": "Running"}, {}])
    monkeypatch.setattr(sweep_stop, "active_points", lambda root: next(reported))

    class FakeQueue:
        def remove(self, names):
            calls.append(("remove", names))

        def kill(self, names, force):
            calls.append(("kill", names, force))

    class FakeRepo:
        def __init__(self, root):
            self.experiments = type("Experiments", (), {"celery_queue": FakeQueue()})()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr("dvc.repo.Repo", FakeRepo)
    assert sweep_stop.stop_points(Path("."), ["a", "b"], poll_seconds=0) == (["a"], ["b"])
    assert calls == [("remove", ["b"]), ("kill", ["a"], False)]
    assert next(reported, "drained") == "drained"  # polled until "a" had left the running state

    forever = {"a": "Running"}
    monkeypatch.setattr(sweep_stop, "active_points", lambda root: forever)
    assert sweep_stop.stop_points(Path("."), ["a"], wait_seconds=0.05, poll_seconds=0.01) == (["a"], [])
