"""Grid points as Dask tasks and the sweep's table kept in step with them: the one engine of every sweep,
whether the client's cluster is a `LocalCluster` in the sweep's own process or a lab's scheduler.

Each pending point is one task with a stable key (the same point is one task, also when submitted twice);
a task says when it starts (a Dask event) and returns a PointResult; Dask reschedules a task whose worker
died. Ctrl-C cancels every task of the sweep; the tasks stop their commands (pipeline/sweep/point.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipeline.sweep.plan import CACHED, FAILED, FINAL, QUEUED, RUNNING, SUCCESS, PointState
from pipeline.sweep.point import NOTE_TOPIC, STARTED_TOPIC

Update = Callable[[list[PointState]], None]
Note = Callable[[str], None]


def worker_count(dask_client: Any) -> int:
    return max(1, len(dask_client.scheduler_info().get("workers", {})))


def run_points(
    dask_client: Any,
    states: list[PointState],
    sweep: str,
    task_of: Callable[[PointState], tuple[Callable[[Any], Any], Any]],
    on_update: Update,
    on_note: Note,
    poll_seconds: float = 1.0,
) -> None:
    """Submit every queued point as `function(argument)` = task_of(point) and wait until each is final."""
    futures = {}
    for s in states:
        if s.state != QUEUED:
            continue
        function, argument = task_of(s)
        futures[dask_client.submit(function, argument, key=f"vae-pipe-{sweep}-{s.name}", pure=False)] = s
    on_update(states)
    try:
        _wait(dask_client, states, futures, on_update, on_note, poll_seconds)
    except KeyboardInterrupt:
        dask_client.cancel(list(futures))  # running points stop within a second (point.cancelled)
        raise


def _wait(
    dask_client: Any,
    states: list[PointState],
    futures: dict[Any, PointState],
    on_update: Update,
    on_note: Note,
    poll_seconds: float,
) -> None:
    from distributed import as_completed

    by_name = {s.name: s for s in states}
    pending = as_completed(list(futures), with_results=False)
    seen = {STARTED_TOPIC: 0, NOTE_TOPIC: 0}
    while any(s.state not in FINAL for s in states):
        for _, event in _new_events(dask_client, STARTED_TOPIC, seen):
            started = by_name.get(event.get("name"))
            if started is not None and started.state not in FINAL:
                started.state, started.started = RUNNING, started.started or time.time()
        for _, event in _new_events(dask_client, NOTE_TOPIC, seen):
            on_note(str(event.get("text", "")))
        for future in pending.next_batch(block=False) if pending.has_ready() else []:
            _finish(futures[future], future)
        on_update(states)
        time.sleep(poll_seconds)
    on_update(states)


def _new_events(dask_client: Any, topic: str, seen: dict[str, int]) -> list[tuple[float, dict]]:
    events = list(dask_client.get_events(topic))
    new, seen[topic] = events[seen[topic] :], len(events)
    return new


def _finish(s: PointState, future: Any) -> None:
    now = time.time()
    s.started = s.started or now
    s.finished = now
    try:
        result = future.result()
    except Exception as error:  # the task itself raised (Dask gave up after lost workers)
        s.state, s.error = FAILED, f"{type(error).__name__}: {error}"
        return
    s.run_id, s.error = result.run_id, result.error
    s.state = {"done": SUCCESS, "done before": CACHED}.get(result.state, FAILED)
