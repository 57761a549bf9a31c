"""Bootstrap intervals cover a known mean at about the stated rate; trends are claimed only when the
intervals separate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.report.stats import Interval, bootstrap_ci, supported_trend


def test_bootstrap_interval_covers_known_mean_at_about_the_stated_rate():
    rng = np.random.default_rng(0)
    trials, hits = 400, 0
    for t in range(trials):
        sample = rng.normal(loc=2.0, scale=3.0, size=30)
        low, high = bootstrap_ci(sample, 0.95, resamples=1000, seed=t)
        hits += low <= 2.0 <= high
    # Percentile intervals under-cover slightly at n = 30 (about 0.93-0.94); 400 trials: SE about 0.012.
    assert 0.90 <= hits / trials <= 0.98


def test_bootstrap_interval_narrows_with_level_and_handles_small_groups():
    values = [0.1, 0.4, 0.2, 0.35, 0.3]
    wide, narrow = bootstrap_ci(values, 0.95), bootstrap_ci(values, 0.5)
    assert wide[0] <= narrow[0] <= np.mean(values) <= narrow[1] <= wide[1]
    assert min(values) <= wide[0] and wide[1] <= max(values)
    assert all(math.isnan(v) for v in bootstrap_ci([0.3]))
    assert all(math.isnan(v) for v in bootstrap_ci([0.3, math.nan]))
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(values, 1.5)


def test_trend_claimed_only_when_intervals_separate():
    low_beta = Interval(0.0, 0.1, 0.05, 0.15, 3)
    assert supported_trend("mig", [low_beta, Interval(16.0, 0.4, 0.3, 0.5, 3)]).direction == "rises"
    assert supported_trend("mig", [Interval(0.0, 0.4, 0.3, 0.5, 3), low_beta]).direction == "falls"
    overlap = supported_trend("mig", [low_beta, Interval(16.0, 0.2, 0.12, 0.3, 3)])
    assert overlap.direction is None and "overlap" in overlap.reason
    single = supported_trend(
        "mig", [Interval(0.0, 0.1, math.nan, math.nan, 1), Interval(8.0, 0.9, math.nan, math.nan, 1)]
    )
    assert single.direction is None and "fewer than 2 seeds" in single.reason
    assert supported_trend("mig", [low_beta]) is None
