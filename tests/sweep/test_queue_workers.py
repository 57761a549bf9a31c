"""Stale control messages of DVC's queue workers, on the real kombu filesystem transport of a DVC repo."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pipeline.sweep.local import workers as queue_workers


def _queue(root: Path):
    from dvc.repo import Repo

    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    repo = Repo.init(str(root))
    return repo, repo.experiments.celery_queue


def _pidbox_messages(queue, num: int) -> list[str]:
    inbox = Path(queue.wdir) / "broker" / "in"
    name = f"{queue_workers.node_name(queue, num)}.celery.pidbox.msg"
    return [f.name for f in inbox.iterdir() if f.name.partition(".")[2] == name] if inbox.exists() else []


def _post(queue, num: int) -> None:
    """A message waiting in worker `num`'s control queue, as a broadcast leaves one for a worker that is gone."""
    with queue.celery.connection_for_write() as connection:
        channel = connection.default_channel
        channel._put(f"{queue_workers.node_name(queue, num)}.celery.pidbox", {"body": "shutdown"})


def test_stale_control_messages_of_stopped_workers_are_cleared_and_a_running_workers_kept(tmp_path):
    repo, queue = _queue(tmp_path)
    try:
        for num in (1, 2):
            _post(queue, num)
        # Worker 1 is running (this process stands in for it); worker 2 is gone (its process file says so).
        folder = Path(queue.wdir)
        folder.mkdir(parents=True, exist_ok=True)
        running = {"pid": os.getpid(), "stdin": None, "stdout": None, "stderr": None, "returncode": None}
        (folder / "dvc-exp-worker-1.json").write_text(json.dumps(running))
        (folder / "dvc-exp-worker-2.json").write_text(json.dumps({**running, "returncode": 0}))
        assert queue_workers.worker_alive(folder, 1) and not queue_workers.worker_alive(folder, 2)
        assert not queue_workers.worker_alive(folder, 3)  # never started: no file

        assert queue_workers.clear_stale_control(queue, [1, 2, 3]) == 1
        assert _pidbox_messages(queue, 1) and not _pidbox_messages(queue, 2)
    finally:
        repo.close()


def test_a_dead_pid_is_not_a_running_worker(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait()
    info = {"pid": child.pid, "stdin": None, "stdout": None, "stderr": None, "returncode": None}
    (tmp_path / "dvc-exp-worker-1.json").write_text(json.dumps(info))
    assert not queue_workers.worker_alive(tmp_path, 1)
    (tmp_path / "dvc-exp-worker-1.json").write_text("{not json")  # half-written
    assert not queue_workers.worker_alive(tmp_path, 1)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_keeper_restarts_only_after_a_shortfall_outlasts_the_grace(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(queue_workers.time, "monotonic", clock)
    keeper = queue_workers.WorkerKeeper(tmp_path, jobs=2)  # no worker files: none alive
    starts: list[int] = []

    def restart() -> int:
        starts.append(1)
        return 2

    assert keeper.check(queued=3, running=0, restart=restart) == 0  # short: noticed now
    clock.now += queue_workers.GRACE_SECONDS / 2
    assert keeper.check(queued=3, running=0, restart=restart) == 0  # a starting worker may still come up
    clock.now += queue_workers.GRACE_SECONDS / 2 + 1
    assert keeper.check(queued=3, running=0, restart=restart) == 2 and keeper.restarts == 2
    clock.now += 1
    assert keeper.check(queued=0, running=2, restart=restart) == 0  # nothing waits: nothing to restart
    assert len(starts) == 1
