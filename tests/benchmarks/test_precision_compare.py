"""The FP32-vs-BF16 comparison's verdicts, on hand-made metrics."""

from __future__ import annotations

import pytest

from benchmarks.precision import Point, compare, directions

BETAS = [0.0, 1.0, 4.0]


def _points(precision: str, elbos: list[float], kls: list[float], seed: int = 0) -> list[Point]:
    return [
        Point(beta, seed, precision, 3000, {"elbo": elbo, "recon": -elbo - kl, "kl": kl, "active_units": 3.0})
        for beta, elbo, kl in zip(BETAS, elbos, kls)
    ]


def test_directions():
    assert directions([3.0, 2.0, 2.0, 5.0]) == "↓=↑"


def test_close_means_with_the_same_trends_pass():
    result = compare(
        _points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
        + _points("bf16", [-500.0, -90.5, -95.2], [305.0, 11.5, 8.2]),
        "fp32",
        "bf16",
        tolerance_pct=1.0,
    )
    assert result["betas"] == BETAS
    assert result["rows"][0]["elbo_diff_pct"] == pytest.approx(-25.0)  # β = 0: shown, not judged
    assert result["max_abs_elbo_diff_pct"] == pytest.approx(50 / 90)  # β = 1: 0.5 of 90 nats
    assert result["elbo_within_tolerance"] and result["same_trends"]


def test_means_and_spread_over_seeds():
    result = compare(
        _points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0], seed=0)
        + _points("fp32", [-400.0, -92.0, -95.0], [300.0, 11.0, 8.0], seed=1)
        + _points("bf16", [-400.0, -91.0, -95.0], [300.0, 11.0, 8.0], seed=0),
        "fp32",
        "bf16",
        tolerance_pct=1.0,
    )
    beta1 = result["rows"][1]
    assert (beta1["n.fp32"], beta1["n.bf16"]) == (2, 1)
    assert beta1["elbo.fp32"] == pytest.approx(-91.0)
    assert beta1["elbo_diff_pct"] == pytest.approx(0.0)
    assert beta1["elbo_seed_sd_pct"] == pytest.approx(2**0.5 / 91 * 100)  # sd of (-90, -92)


def test_a_far_elbo_or_a_flipped_trend_fails():
    far = compare(
        _points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
        + _points("bf16", [-400.0, -92.0, -95.0], [300.0, 11.0, 8.0]),
        "fp32",
        "bf16",
        1.0,
    )
    assert far["max_abs_elbo_diff_pct"] == pytest.approx(200 / 90)
    assert not far["elbo_within_tolerance"] and far["same_trends"]
    flipped = compare(
        _points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
        + _points("bf16", [-400.0, -90.0, -95.0], [300.0, 8.0, 11.0]),
        "fp32",
        "bf16",
        1.0,
    )
    assert flipped["trends"]["kl"] == {"fp32": "↓↓", "bf16": "↓↑"}
    assert not flipped["same_trends"]


def test_unpaired_betas_are_left_out():
    result = compare(
        _points("fp32", [-400.0, -90.0, -95.0], [300.0, 11.0, 8.0])
        + _points("bf16", [-401.0, -90.0, -95.0], [300.0, 11.0, 8.0])[1:],
        "fp32",
        "bf16",
        1.0,
    )
    assert result["betas"] == [1.0, 4.0]
