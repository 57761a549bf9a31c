"""The report's sentences, computed from the per-β rows: each metric's trend in words, the summary, the seed
warning and the interval-checked score trends, with the number formats the tables share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.core.catalogue import CATALOGUE, CODE_SCORES, FACTOR_SCORES
from pipeline.report.data import METRIC_NAMES, BetaRow, RunRecord, Stat
from pipeline.report.stats import LEVEL, MIN_SEEDS, Interval, supported_trend


@dataclass(frozen=True)
class Trend:
    """How a metric's per-β mean changes from the smallest to the largest β."""

    metric: str
    betas: tuple[float, ...]
    means: tuple[float, ...]
    direction: str  # "rises" | "falls" | "flat"
    monotone: bool
    against: tuple[float, float] | None  # the largest β step that goes the other way
    against_size: float = 0.0  # its absolute change of the mean
    within_spread: bool | None = None  # smaller than the larger std of its two βs (None: no std known)

    @property
    def first(self) -> float:
        return self.means[0]

    @property
    def last(self) -> float:
        return self.means[-1]


def trend(rows: Sequence[BetaRow], metric: str) -> Trend | None:
    """Direction from the smallest to the largest β (per-β means); None when fewer than two βs have the metric.

    Monotone means no step between neighbouring βs goes against that direction (equal steps are fine).
    """
    points = [(row.beta, row.stats[metric]) for row in rows if math.isfinite(row.stats[metric].mean)]
    if len(points) < 2:
        return None
    change = points[-1][1].mean - points[0][1].mean
    direction = "rises" if change > 0 else "falls" if change < 0 else "flat"
    sign = {"rises": 1, "falls": -1, "flat": 0}[direction]
    worst = None
    for (b0, s0), (b1, s1) in zip(points, points[1:], strict=False):
        step = s1.mean - s0.mean
        size = abs(step) if (sign == 0 and step != 0) or step * sign < 0 else 0.0
        if size > 0 and (worst is None or size > worst[2]):
            spreads = [s.std for s in (s0, s1) if math.isfinite(s.std)]
            worst = ((b0, b1), step, size, (size < max(spreads)) if spreads else None)
    betas = tuple(b for b, _ in points)
    means = tuple(s.mean for _, s in points)
    if worst is None:
        return Trend(metric, betas, means, direction, True, None)
    return Trend(metric, betas, means, direction, False, worst[0], worst[2], worst[3])


def _b(beta: float, weight: str = "β") -> str:
    """`β=4`, or the objective's own weight (`C_max=25`) where the rows are keyed by it."""
    return f"{weight}={beta:g}"


def fmt_value(metric: str, value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    decimals = CATALOGUE[metric].decimals if metric in CATALOGUE else 1
    if decimals == 0:  # a count: its mean over seeds keeps one decimal where it has one
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.{decimals}f}"


def fmt_stat(metric: str, stat: Stat) -> str:
    if stat.n == 0:
        return "–"
    if stat.n == 1:
        return fmt_value(metric, stat.mean)
    ci = f" [{fmt_value(metric, stat.low)}, {fmt_value(metric, stat.high)}]" if math.isfinite(stat.low) else ""
    return f"{fmt_value(metric, stat.mean)} ± {fmt_value(metric, stat.std)}{ci}"


_SUBJECTS = {  # subject, plural, unit
    "kl": ("KL", False, " nats"),
    "recon": ("Reconstruction error", False, " nats"),
    "elbo": ("ELBO", False, " nats"),
    "active_units": ("Active units", True, ""),
}


def trend_sentence(t: Trend, weight: str = "β") -> str:
    subject, plural, unit = _SUBJECTS[t.metric]
    a, b = f"{fmt_value(t.metric, t.first)}{unit}", f"{fmt_value(t.metric, t.last)}{unit}"
    if t.direction == "flat":
        verb = "end" if plural else "ends"
        where = "they start" if plural else "it starts"
        text = f"{subject} {verb} where {where}: {a} at {_b(t.betas[0], weight)} and at {_b(t.betas[-1], weight)}"
    else:
        verb = {"rises": "rise", "falls": "fall"}[t.direction] if plural else t.direction
        text = f"{subject} {verb} from {a} at {_b(t.betas[0], weight)} to {b} at {_b(t.betas[-1], weight)}"
    if t.monotone:
        return f"{text} (monotone: yes)."
    other = {"rises": "falls", "falls": "rises", "flat": "changes"}[t.direction]
    other = {"falls": "fall", "rises": "rise", "changes": "change"}[other] if plural else other
    spread = {True: ", less than the spread over seeds", False: ", more than the spread over seeds", None: ""}
    return (
        f"{text} (monotone: no; {'they' if plural else 'it'} {other} by {fmt_value(t.metric, t.against_size)}{unit} "
        f"between {_b(t.against[0], weight)} and {_b(t.against[1], weight)}{spread[t.within_spread]})."
    )


def summary_sentences(rows: Sequence[BetaRow], best: RunRecord | None, weight: str = "β") -> list[str]:
    """What the data shows, computed from it: counts, trends of the per-β means, where MIG peaks. `weight`
    names what the rows are keyed by (β, or another objective's weight such as C_max)."""
    n_runs = sum(row.n_runs for row in rows)
    seeds = sorted({s for row in rows for s in row.seeds})
    text = [
        f"{n_runs} run{'s' if n_runs != 1 else ''} at {len(rows)} {weight} value{'s' if len(rows) != 1 else ''} "
        f"({', '.join(f'{row.beta:g}' for row in rows)}), "
        + (f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}." if seeds else "seeds unknown.")
    ]
    shared = [row for row in rows if row.n_runs > len(row.seeds)]
    if shared:
        parts = ", ".join(
            f"{_b(row.beta, weight)} has {row.n_runs} runs over {len(row.seeds)} seed(s)" for row in shared
        )
        text.append(
            f"Some runs share {weight} and seed (they differ in other params) and are averaged together: {parts}."
        )
    if len(rows) == 1:
        text.append(f"Only one {weight} value ({_b(rows[0].beta, weight)}): no trend across {weight} can be measured.")
    for metric in ("kl", "recon", "elbo", "active_units"):
        found = trend(rows, metric)
        if found:
            text.append(trend_sentence(found, weight))
    with_mig = [row for row in rows if math.isfinite(row.stats["mig"].mean)]
    if not with_mig:
        text.append("No run has a MIG metric yet (run the evaluate stage).")
    elif len(with_mig) == 1:
        row = with_mig[0]
        text.append(
            f"MIG is {fmt_stat('mig', row.stats['mig'])} at {_b(row.beta, weight)}, the only {weight} with MIG."
        )
    else:
        peak = min(with_mig, key=lambda row: (-row.stats["mig"].mean, row.beta))
        others = [row for row in with_mig if row is not peak]
        reference = next((row for row in others if row.beta == 1.0), others[0])
        stat = peak.stats["mig"]
        spread = f" ± {fmt_value('mig', stat.std)}, n={stat.n}" if stat.n > 1 else ", n=1"
        text.append(
            f"MIG peaks at {_b(peak.beta, weight)} ({fmt_value('mig', stat.mean)}{spread}) "
            f"vs {fmt_value('mig', reference.stats['mig'].mean)} at {_b(reference.beta, weight)}."
        )
    if best is not None:
        where = f"DVC experiment {best.exp_name}" if best.exp_name else "no DVC experiment name"
        text.append(
            f"The best single run by MIG is {_b(best.beta, weight)}, seed {best.seed} "
            f"(MIG {fmt_value('mig', best.metric('mig'))}; MLflow run {best.run_id}, {where})."
        )
    return text


def seed_warning(rows: Sequence[BetaRow], weight: str = "β") -> str | None:
    """A sentence naming the βs with fewer than MIN_SEEDS seeds, whose intervals say little; None if none."""
    few = [row for row in rows if len(row.seeds) < MIN_SEEDS]
    if not few:
        return None
    listed = ", ".join(f"{_b(row.beta, weight)} ({len(row.seeds)})" for row in few)
    return (
        f"Warning: fewer than {MIN_SEEDS} seeds at {listed}: intervals there are missing (1 seed) or little more "
        f"than the range of the values (2 seeds); add seeds with `vae-pipe sweep --seed 0,1,2`."
    )


def score_trend_sentence(rows: Sequence[BetaRow], metric: str, weight: str = "β") -> str | None:
    """ "<metric> grows/falls with β" only where the 95% intervals at the smallest and largest β separate;
    otherwise a sentence saying the data do not support a trend, and why."""
    points = [Interval(row.beta, s.mean, s.low, s.high, s.n) for row in rows for s in [row.stats[metric]]]
    found = supported_trend(metric, points)
    if found is None:
        return None
    name, first, last = METRIC_NAMES[metric], found.first, found.last
    ends = (
        f"{fmt_value(metric, first.mean)} at {_b(first.beta, weight)} (n={first.n}) vs "
        f"{fmt_value(metric, last.mean)} at {_b(last.beta, weight)} (n={last.n})"
    )
    if found.direction is not None:
        verb = "grows" if found.direction == "rises" else "falls"
        return (
            f"{name} {verb} with {weight}: {ends}; the {LEVEL:.0%} bootstrap intervals over seeds "
            f"[{fmt_value(metric, first.low)}, {fmt_value(metric, first.high)}] and "
            f"[{fmt_value(metric, last.low)}, {fmt_value(metric, last.high)}] do not overlap."
        )
    return f"{name}: no trend with {weight} is claimed ({found.reason}): {ends}."


def score_sentences(rows: Sequence[BetaRow], weight: str = "β") -> list[str]:
    """The seed warning, then one interval-checked trend sentence per score (MIG, the others, the unsupervised
    ones, IWAE)."""
    text = [warning] if (warning := seed_warning(rows, weight)) else []
    for metric in (*FACTOR_SCORES, *CODE_SCORES, "iwae"):
        if (sentence := score_trend_sentence(rows, metric, weight)) is not None:
            text.append(sentence)
    return text
