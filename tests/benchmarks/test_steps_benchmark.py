"""The steps benchmark: run specs, its quality verdict on hand-made rows, and evaluating along training
without changing the training."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from benchmarks.steps import Job, RunSpec, _prepare, _train_and_evaluate, prefix_changes, report
from pipeline.core.params import Params

REFERENCE = RunSpec("constant", 12000, 5e-4)
CANDIDATE = RunSpec("cosine", 5000, 5e-4)


def _row(run: RunSpec, seed: int, elbo: float, beta: float = 4.0) -> dict:
    final = {"step": run.steps, "elbo": elbo, "recon": -elbo - 10, "kl": 10.0, "active_units": 4, "mig": 0.2}
    return {"beta": beta, "seed": seed, "schedule": run.schedule, "steps": run.steps, "lr": run.lr, "evals": [final]}


def _verdict(rows: list[dict]) -> tuple[bool, str]:
    out = io.StringIO()
    kept = report(rows, [REFERENCE, CANDIDATE], [4.0], [0, 1, 2], Console(file=out, width=200))
    return kept, out.getvalue()


def test_run_specs():
    assert RunSpec.parse("cosine:5000", 5e-4) == CANDIDATE
    assert RunSpec.parse("cosine:5000:0.001", 5e-4) == RunSpec("cosine", 5000, 1e-3)
    assert RunSpec.parse("constant:3000::compile", 5e-4) == RunSpec("constant", 3000, 5e-4, compile=True)
    with pytest.raises(SystemExit, match="schedule:steps"):
        RunSpec.parse("cosine", 5e-4)
    with pytest.raises(SystemExit, match="schedule:steps"):
        RunSpec.parse("cosine:5000:0.001:fast", 5e-4)
    with pytest.raises(SystemExit, match="constant, cosine"):
        RunSpec.parse("cosin:5000", 5e-4)


def test_a_candidate_within_the_reference_seed_noise_keeps_the_quality():
    reference = [_row(REFERENCE, seed, elbo) for seed, elbo in enumerate([-100.0, -102.0, -98.0])]  # -100 ± 2
    kept, text = _verdict(reference + [_row(CANDIDATE, s, e) for s, e in enumerate([-101.0, -102.5, -101.0])])
    assert kept and "quality kept" in text
    kept, text = _verdict(reference + [_row(CANDIDATE, s, e) for s, e in enumerate([-103.0, -102.5, -102.0])])
    assert not kept and "worse than the reference beyond seed noise" in text


def test_one_seed_gives_no_noise_verdict():
    out = io.StringIO()
    rows = [_row(REFERENCE, 0, -100.0), _row(CANDIDATE, 0, -99.0)]
    assert not report(rows, [REFERENCE, CANDIDATE], [4.0], [0], Console(file=out, width=200))
    assert "one seed: no noise" in out.getvalue() and "worse" not in out.getvalue()


def test_no_verdict_before_every_seed_is_measured():
    reference = [_row(REFERENCE, seed, -100.0 - seed) for seed in range(3)]
    kept, text = _verdict(reference + [_row(CANDIDATE, 0, -90.0)])
    assert not kept and "not every seed measured yet" in text


def test_a_constant_rate_run_stopped_early_is_compared_with_its_own_end():
    def evals(*points):
        return [{"step": step, "elbo": elbo, "mig": mig} for step, elbo, mig in points]

    rows = [
        {"seed": 0, "evals": evals((4, -130.0, 0.1), (8, -120.0, 0.3), (12, -110.0, 0.4))},
        {"seed": 1, "evals": evals((4, -125.0, 0.2), (8, -126.0, 0.2), (12, -124.0, 0.1))},
        {"seed": 2, "evals": evals((8, -100.0, 0.5), (12, -101.0, 0.5))},  # step 4 not evaluated: left out
    ]
    changes = prefix_changes(rows, end=12)
    assert [c["step"] for c in changes] == [8]
    assert changes[0]["seeds"] == [0, 1, 2]
    assert changes[0]["elbo"] == pytest.approx([-10.0, -2.0, 1.0])
    assert changes[0]["mig"] == pytest.approx([-0.1, 0.1, 0.0])
    assert [c["step"] for c in prefix_changes(rows[:2], end=12)] == [4, 8]


@pytest.mark.slow
def test_evaluating_along_training_does_not_change_the_training(tmp_path):
    base = Params.model_validate(
        {"data": {"subsample": 600, "test_size": 100}, "train": {"log_every": 4}, "eval": {"mig_points": 100}}
    )
    _prepare(base, tmp_path)
    run = RunSpec("cosine", 12, 1e-3)
    along = _train_and_evaluate(base, Job(4.0, 0, run, (4, 8)), str(tmp_path), threads=1)
    at_end = _train_and_evaluate(base, Job(4.0, 0, run, ()), str(tmp_path), threads=1)
    assert [e["step"] for e in along["evals"]] == [4, 8, 12] and [e["step"] for e in at_end["evals"]] == [12]
    assert along["evals"][-1] == at_end["evals"][-1]  # the same weights at the end, evaluated alike
    assert along["evals"][0]["elbo"] != along["evals"][-1]["elbo"]
