"""Seeds as statistics: bootstrap confidence intervals of a group's mean, and the trend across β that the
intervals support (or not). Pure functions on plain numbers, used by report_data and tested on synthetic data."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RESAMPLES = 4000
MIN_SEEDS = 3
"""Groups with fewer seeds get a warning: a bootstrap interval from 2 values is little more than their range."""


def bootstrap_ci(
    values: Iterable[float], level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of the finite `values` (Efron 1979): resample the values with
    replacement `resamples` times and take the (1 − level)/2 and (1 + level)/2 quantiles of the resampled
    means. NaN for fewer than 2 values; seeded, so a report is reproducible."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(finite) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = finite[rng.integers(0, len(finite), size=(resamples, len(finite)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Interval:
    beta: float
    mean: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class SupportedTrend:
    """Whether the intervals at the smallest and largest β separate: `direction` is "rises", "falls", or
    None when they overlap or cannot be formed; `reason` says which in words."""

    metric: str
    first: Interval
    last: Interval
    direction: str | None
    reason: str


def supported_trend(metric: str, points: Sequence[Interval]) -> SupportedTrend | None:
    """From the smallest to the largest β with a finite mean: a rise (fall) is claimed only when the last
    interval lies wholly above (below) the first. None for fewer than two βs."""
    points = [p for p in points if math.isfinite(p.mean)]
    if len(points) < 2:
        return None
    first, last = points[0], points[-1]
    if first.n < 2 or last.n < 2:
        return SupportedTrend(metric, first, last, None, "fewer than 2 seeds at an end, so no interval")
    if last.low > first.high:
        return SupportedTrend(metric, first, last, "rises", "the intervals do not overlap")
    if last.high < first.low:
        return SupportedTrend(metric, first, last, "falls", "the intervals do not overlap")
    return SupportedTrend(metric, first, last, None, "the intervals overlap")
