"""`vae-pipe sweep` with its output going to a file (CI, nohup): periodic progress lines, not silence."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_sweep_outside_a_terminal_prints_training_progress(make_project):
    # Long enough that a 1 s interval sees the point while it trains or, on a fast machine, evaluates.
    project = make_project({"sweep": {"beta": [4], "seed": [0]}, "train": {"steps": 300, "log_every": 10}})

    # stdout and stderr are pipes here, as in CI or under nohup
    done = project.run("vae-pipe", "sweep", "--jobs", "1", "--progress-every", "1", timeout=1200)

    training = re.findall(r"running \d+ s, step ([\d,]+)/300, ([\d,]+) images/s, training eta [\d,]+ s", done.stderr)
    trained = re.findall(r"running \d+ s, trained 300 steps at ([\d,]+) images/s, evaluating", done.stderr)
    assert training or trained, done.stderr  # read from the run's MLflow step metrics either way
    steps = [int(step.replace(",", "")) for step, _ in training]
    assert steps == sorted(steps) and all(0 < step <= 300 for step in steps)
    speeds = [speed for _, speed in training] + trained
    assert all(int(speed.replace(",", "")) > 0 for speed in speeds)
    assert "1/1 final" in done.stderr  # the closing table
