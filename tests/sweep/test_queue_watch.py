"""The sweep's cheap poll: queued → running → done, split into succeeded and failed by experiment refs."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core import timings
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.local import queue as sweep
from pipeline.sweep.local.watch import DONE, QUEUED, RUNNING
from pipeline.sweep.plan import PointState


class FakeWatch:
    def __init__(self, answers: list[dict[str, str]]) -> None:
        self.answers, self.asked = answers, []

    def states(self, names: set[str]) -> dict[str, str]:
        self.asked.append(names)
        answer = self.answers.pop(0)
        return {name: answer[name] for name in names}


def test_poll_follows_points_through_the_queue(monkeypatch, tmp_path):
    lookups = []
    monkeypatch.setattr(sweep, "finished_experiments", lambda root: lookups.append(root) or {"a": "sha"})
    states = [PointState(GridPoint((("beta", b),)), name, sweep.QUEUED) for b, name in ((1, "a"), (4, "b"))]
    watch = FakeWatch(
        [
            {"a": RUNNING, "b": QUEUED},
            {"a": DONE, "b": RUNNING},
            {"b": DONE},
        ]
    )
    sweep._poll(watch, tmp_path, states)
    assert [s.state for s in states] == [sweep.RUNNING, sweep.QUEUED] and not lookups
    assert states[0].started is not None and states[1].started is None
    sweep._poll(watch, tmp_path, states)
    assert [s.state for s in states] == [sweep.SUCCESS, sweep.RUNNING]  # "a" has its experiment ref
    assert states[0].finished is not None
    sweep._poll(watch, tmp_path, states)
    assert [s.state for s in states] == [sweep.SUCCESS, sweep.FAILED]  # "b" left the queue without one
    assert watch.asked == [{"a", "b"}, {"a", "b"}, {"b"}]  # final points are not asked about again
    assert len(lookups) == 2  # refs read only when a point left the queue
    sweep._poll(watch, tmp_path, states)  # all final: no look at the queue at all
    assert len(watch.asked) == 3


def test_timings_are_recorded_only_when_asked(monkeypatch, tmp_path: Path):
    file = tmp_path / "timings.jsonl"
    monkeypatch.delenv(timings.ENV, raising=False)
    with timings.phase("quiet"):
        pass
    assert not file.exists()
    monkeypatch.setenv(timings.ENV, str(file))
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")
    monkeypatch.setenv("DVC_STAGE", "train")
    with timings.phase("load data"):
        sum(range(100_000))
    (line,) = [json.loads(text) for text in file.read_text().splitlines()]
    assert (line["exp"], line["stage"], line["phase"]) == ("exp-1", "train", "load data")
    assert line["cpu"] >= 0 and 0 <= line["seconds"] < 60
    assert timings.process_start() <= line["start"]  # this process started before the phase
