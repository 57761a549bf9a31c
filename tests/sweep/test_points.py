"""A grid point's process plumbing (pipeline/sweep/point.py, local/task.py) and the sweep flow
(pipeline/sweep/flow.py), without DVC: real processes and locks, a stand-in for the `dvc` command."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import typer

from pipeline.sweep import point
from pipeline.sweep.flow import Runner, run_sweep
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.local import task as local_task
from pipeline.sweep.plan import FAILED, QUEUED, SUCCESS, PointState
from pipeline.sweep.view import SweepView

# A `dvc` that records its arguments, then sleeps until SIGINT, which it takes as a training does: it writes
# that it saved a checkpoint and exits 130.
FAKE_DVC = """#!{python}
import signal, sys, time
from pathlib import Path
log = Path(sys.argv[0]).with_name("calls")
log.open("a").write(" ".join(sys.argv[1:]) + "\\n")
def stop(*_):
    log.open("a").write("checkpoint saved\\n")
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
if "fail" in sys.argv:
    print("Error: the stage failed"); sys.exit(255)
time.sleep(60)
"""


@pytest.fixture
def fake_dvc(tmp_path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dvc = bin_dir / "dvc"
    dvc.write_text(FAKE_DVC.format(python=sys.executable))
    dvc.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / "calls"


def _wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_stop_all_interrupts_each_point_gracefully_and_waits_for_it(tmp_path, fake_dvc):
    log = tmp_path / "point.log"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            point.run_dvc(tmp_path, dict(os.environ), log, "exp", "run", "--temp")
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    _wait_for(lambda: fake_dvc.exists())
    assert fake_dvc.read_text().startswith("--wait-for-lock exp run --temp")  # points take turns on DVC's lock
    assert point.stop_all(grace=10) == 1
    # The point had saved its checkpoint before stop_all returned: the sweep may exit now.
    assert fake_dvc.read_text().endswith("checkpoint saved\n")
    worker.join(10)
    assert isinstance(errors[0], point.PointFailed) and "exited 130" in str(errors[0])


def test_a_failed_command_is_the_tail_of_its_log(tmp_path, fake_dvc):
    with pytest.raises(point.PointFailed, match=r"dvc exp run exited 255:\n(.|\n)*Error: the stage failed"):
        point.run_dvc(tmp_path, dict(os.environ), tmp_path / "point.log", "exp", "run", "fail")


def test_a_point_another_process_runs_is_waited_for_then_found_done(tmp_path, fake_dvc, monkeypatch):
    """The point's lock is held by an earlier sweep's `dvc exp run` (here: another process); the task waits,
    says so, and when the lock is free and the experiment exists records it without running DVC again."""
    task = local_task.LocalPoint(str(tmp_path), "beta4-seed0-abc", ("beta=4",), "second")
    lock = local_task.point_log(tmp_path, task.name).with_suffix(".lock")
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl,time; f=open({str(lock)!r},'a'); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(2)",
        ]
    )
    _wait_for(lambda: _held(lock))
    notes, recorded = [], []
    monkeypatch.setattr(local_task, "announce", lambda topic, message: notes.append((topic, message)))
    monkeypatch.setattr(local_task, "record_point", lambda root, name, *_: recorded.append(name) or "run-1")

    result = local_task.run_local_point(task)
    holder.wait()
    assert (result.state, result.run_id, result.error) == ("done before", "run-1", "")
    assert notes[0] == (
        point.NOTE_TOPIC,
        {"text": "beta4-seed0-abc: waiting for an earlier sweep's run of this point to end"},
    )
    assert recorded == ["beta4-seed0-abc"] and not fake_dvc.exists()  # DVC was not run a second time


def test_a_point_passes_its_lock_to_its_dvc_process(tmp_path, fake_dvc, monkeypatch):
    """Held by `dvc exp run` itself, the lock outlives the task (a killed sweep) until DVC exits."""
    task = local_task.LocalPoint(str(tmp_path), "beta1-seed0-abc", ("beta=1", "seed=0"), "first")
    lock = local_task.point_log(tmp_path, task.name).with_suffix(".lock")
    monkeypatch.setattr(local_task, "announce", lambda topic, message: None)
    monkeypatch.setattr(local_task, "record_point", lambda *_: "run-1")
    results = []
    worker = threading.Thread(target=lambda: results.append(local_task.run_local_point(task)))
    worker.start()
    _wait_for(lambda: fake_dvc.exists())
    assert fake_dvc.read_text().split() == [
        "--wait-for-lock", "exp", "run", "--temp", "--name", "beta1-seed0-abc", "-S", "beta=1", "-S", "seed=0"
    ]  # fmt: skip
    assert _held(lock)
    point.stop_all(grace=10)
    worker.join(10)
    assert results[0].state == "failed" and "exited 130" in results[0].error
    assert "the whole log: .dvc/tmp/vae-pipe-points/beta1-seed0-abc.log" in results[0].error
    assert not _held(lock)


def _held(lock: Path) -> bool:
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _states() -> list[PointState]:
    return [PointState(GridPoint((("beta", b),)), f"beta{b}", QUEUED) for b in (1, 4)]


def test_the_flow_names_failures_and_returns_them(capsys):
    states = _states()

    def run(update, note) -> None:
        states[0].state, states[1].state, states[1].error = SUCCESS, FAILED, "the tail of its log"
        update(states)

    failed = run_sweep(SweepView("s", 2, 1), states, Runner(run, lambda: "", "all done"), dry_run=False)
    err = capsys.readouterr().err
    assert failed and "failed: beta=4 (beta4)" in err and "the tail of its log" in err


def test_the_flow_runs_nothing_on_a_dry_run_and_exits_130_on_ctrl_c(capsys):
    ran = []
    runner = Runner(lambda update, note: ran.append(1), lambda: "interrupted: nothing", "all done")
    assert run_sweep(SweepView("s", 2, 1), _states(), runner, dry_run=True) is False and not ran

    def interrupted(update, note) -> None:
        raise KeyboardInterrupt

    with pytest.raises(typer.Exit) as stopped:
        run_sweep(SweepView("s", 2, 1), _states(), Runner(interrupted, lambda: "interrupted: nothing", ""), False)
    assert stopped.value.exit_code == 130 and "interrupted: nothing" in capsys.readouterr().err
