"""`vae-pipe sweep` with its output going to a file (CI, nohup): periodic progress lines, not silence."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_sweep_outside_a_terminal_prints_training_progress(make_project):
    # Long enough (a few seconds of training) that a 1 s interval sees the point mid-training.
    project = make_project({"sweep": {"beta": [4], "seed": [0]}, "train": {"steps": 1500, "log_every": 25}})

    done = project.run("vae-pipe", "sweep", "--jobs", "1", "--progress-every", "1")  # stdout/stderr: pipes

    progress = re.findall(
        r"running \d+ s, step ([\d,]+)/1,500, ([\d,]+) images/s, training eta ([\d,]+) s", done.stderr
    )
    assert progress, done.stderr
    steps = [int(step.replace(",", "")) for step, _, _ in progress]
    assert steps == sorted(steps) and 0 < steps[0] <= 1500
    assert all(int(speed.replace(",", "")) > 0 for _, speed, _ in progress)
    assert "1/1 final" in done.stderr  # the closing table
