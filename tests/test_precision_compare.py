"""The FP32-vs-BF16 comparison's verdicts, on hand-made metrics."""

from __future__ import annotations

import pytest

from benchmarks.precision import Point, compare, directions


def _points(precision: str, elbos: list[float], kls: list[float]) -> list[Point]:
    return [
        Point(beta, precision, {"elbo": elbo, "recon": -elbo - kl, "kl": kl, "active_units": 3.0})
        for beta, elbo, kl in zip([0.0, 1.0, 4.0], elbos, kls)
    ]


def test_directions():
    assert directions([3.0, 2.0, 2.0, 5.0]) == "↓=↑"


def test_close_pairs_with_the_same_trends_pass():
    result = compare(
        _points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
        + _points("bf16", [-402.0, -90.5, -95.2], [305.0, 11.5, 8.2]),
        "fp32", "bf16", tolerance_pct=1.0,
    )
    assert result["betas"] == [0.0, 1.0, 4.0]
    assert result["max_abs_elbo_diff_pct"] == pytest.approx(50 / 90)  # β = 1: 0.5 of 90 nats
    assert result["elbo_within_tolerance"] and result["same_trends"]


def test_a_far_elbo_or_a_flipped_trend_fails():
    far = compare(_points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
                  + _points("bf16", [-400.0, -92.0, -95.0], [300.0, 11.0, 8.0]), "fp32", "bf16", 1.0)
    assert far["max_abs_elbo_diff_pct"] == pytest.approx(200 / 90)
    assert not far["elbo_within_tolerance"] and far["same_trends"]
    flipped = compare(_points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
                      + _points("bf16", [-400.0, -90.0, -95.0], [300.0, 8.0, 11.0]), "fp32", "bf16", 1.0)
    assert flipped["trends"]["kl"] == {"fp32": "↓↓", "bf16": "↓↑"}
    assert not flipped["same_trends"]


def test_unpaired_betas_are_left_out():
    result = compare(_points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
                     + _points("bf16", [-401.0, -90.0, -95.0], [300.0, 11.0, 8.0])[1:], "fp32", "bf16", 1.0)
    assert result["betas"] == [1.0, 4.0]
