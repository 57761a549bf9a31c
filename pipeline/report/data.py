"""The report's arithmetic on plain values, testable on constructed runs: one run as a `RunRecord`,
`aggregate` (runs → one `BetaRow` per β: mean, std, n over seeds), `best_run`, `trend` and the summary
sentences, `kl_rank_matrix`, `normalised_mutual_information`, the filter in words and `summary.csv`'s rows.
No MLflow here: `pipeline.report.runs` turns MLflow runs into `RunRecord`s."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pipeline.core.catalogue import CATALOGUE, FACTOR_SCORES, REPORTED
from pipeline.report.stats import LEVEL, MIN_SEEDS, Interval, bootstrap_ci, supported_trend
from pipeline.tracking.store import EXPERIMENT_NAME

METRICS = REPORTED  # the report's metrics, in its order (pipeline/core/catalogue.py)
METRIC_NAMES = {name: CATALOGUE[name].label for name in METRICS}

_EPOCH = datetime.fromtimestamp(0, tz=UTC)


@dataclass(frozen=True)
class RunRecord:
    """One MLflow run as plain values: what aggregation, tables and figures need."""

    run_id: str
    beta: float
    seed: int | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    exp_name: str | None = None
    dataset: str | None = None
    sweep: str | None = None
    start_time: datetime | None = None
    name: str = ""
    objective: str = "beta_vae"  # model.objective
    weight: float = math.nan  # the objective's main weight (β, C_max or γ: pipeline.core.objectives)
    objective_label: str = ""  # the objective and its other settings, for legends
    likelihood: str | None = None  # p(x|z) the ELBO comes from (param resolved.likelihood)
    arch: str | None = None  # the architecture trained (param resolved.arch)

    @property
    def group(self) -> tuple[str, str, str]:
        """(dataset, architecture, likelihood): numbers are only aggregated and compared within one."""
        return (self.dataset or "unknown dataset", self.arch or "unknown arch", self.likelihood or "unknown likelihood")

    def metric(self, key: str) -> float:
        value = self.metrics.get(key)
        return float(value) if value is not None and math.isfinite(value) else math.nan

    @property
    def kl_per_dim(self) -> list[float]:
        """`kl_dim.z0`, `kl_dim.z1`, … in dimension order."""
        found = {}
        for key, value in self.metrics.items():
            match = re.fullmatch(r"kl_dim\.z(\d+)", key)
            if match:
                found[int(match.group(1))] = float(value)
        return [found[i] for i in sorted(found)]

    @property
    def seed_key(self) -> tuple:
        """Lowest seed first (runs without one last), then the earliest run."""
        return (self.seed is None, self.seed or 0, self.start_time or _EPOCH, self.run_id)

    @property
    def sort_key(self) -> tuple:
        return (self.beta, *self.seed_key)


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (ddof 1; NaN for fewer than 2 values) over `n` finite values, and
    the 95% percentile-bootstrap interval of the mean (`low`, `high`; NaN for fewer than 2 values)."""

    mean: float
    std: float
    n: int
    low: float = math.nan
    high: float = math.nan

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        n = len(finite)
        if n == 0:
            return cls(math.nan, math.nan, 0)
        mean = math.fsum(finite) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else math.nan
        return cls(mean, std, n, *bootstrap_ci(finite))


@dataclass(frozen=True)
class BetaRow:
    """All runs at one β (every seed, and every run sharing a seed), with per-metric statistics."""

    beta: float
    runs: tuple[RunRecord, ...]
    stats: Mapping[str, Stat]

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(sorted({run.seed for run in self.runs if run.seed is not None}))


def aggregate(runs: Iterable[RunRecord], metrics: Sequence[str] = METRICS) -> list[BetaRow]:
    """Group by β (ascending); each metric's mean/std/n over all the β's runs that have it."""
    groups: dict[float, list[RunRecord]] = defaultdict(list)
    for run in runs:
        groups[run.beta].append(run)
    rows = []
    for beta in sorted(groups):
        members = tuple(sorted(groups[beta], key=lambda r: r.sort_key))
        rows.append(BetaRow(beta, members, {m: Stat.of(r.metric(m) for r in members) for m in metrics}))
    return rows


def best_run(runs: Iterable[RunRecord]) -> RunRecord | None:
    """The run with the highest MIG; ties go to the smaller β, then the smaller seed."""
    scored = [r for r in runs if math.isfinite(r.metric("mig"))]
    if not scored:
        return None
    return min(scored, key=lambda r: (-r.metric("mig"), r.beta, r.seed is None, r.seed or 0, r.run_id))


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


def kl_rank_matrix(rows: Sequence[BetaRow]) -> tuple[list[float], np.ndarray, list[int]]:
    """(βs, β × rank matrix, runs per row): each run's KL per dim sorted high→low, averaged rank-wise.

    Runs with fewer dimensions leave NaN in the ranks they lack; βs with no `kl_dim.*` are left out.
    """
    betas, table, counts = [], [], []
    for row in rows:
        sorted_runs = [sorted(run.kl_per_dim, reverse=True) for run in row.runs if run.kl_per_dim]
        if not sorted_runs:
            continue
        width = max(len(values) for values in sorted_runs)
        padded = np.full((len(sorted_runs), width), np.nan)
        for i, values in enumerate(sorted_runs):
            padded[i, : len(values)] = values
        betas.append(row.beta)
        table.append(np.nanmean(padded, axis=0) if len(sorted_runs) > 1 else padded[0])
        counts.append(len(sorted_runs))
    width = max((len(values) for values in table), default=0)
    matrix = np.full((len(table), width), np.nan)
    for i, values in enumerate(table):
        matrix[i, : len(values)] = values
    return betas, matrix, counts


def normalised_mutual_information(details: Mapping[str, Any]) -> tuple[list[str], np.ndarray]:
    """(factor names, factors × latents matrix of I(z_j; v_k) / H(v_k)), factors with H = 0 left out."""
    mutual_info = np.asarray(details["mutual_info"], dtype=float)  # latents × factors
    entropy = np.asarray(details["factor_entropy"], dtype=float)
    names = list(details.get("factor_names") or [f"factor {k}" for k in range(len(entropy))])
    if mutual_info.ndim != 2 or mutual_info.shape[1] != len(entropy) or len(names) != len(entropy):
        raise ValueError(
            f"mutual_info {mutual_info.shape} does not match {len(entropy)} factor entropies / {len(names)} names"
        )
    keep = entropy > 0
    return [n for n, k in zip(names, keep, strict=True) if k], mutual_info[:, keep].T / entropy[keep][:, None]


def describe_filter(sweep: str | None = None, dataset: str | None = None, since: datetime | None = None) -> str:
    parts = [f"experiment '{EXPERIMENT_NAME}'"]
    if sweep is not None:
        parts.append(f"sweep '{sweep}'")
    if dataset is not None:
        parts.append(f"dataset '{dataset}'")
    if since is not None:
        parts.append(f"started since {since.isoformat(sep=' ', timespec='seconds')}")
    return ", ".join(parts) if len(parts) > 1 else parts[0] + " (all runs)"


def _csv_float(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "nan"


def summary_csv_rows(rows: Sequence[BetaRow]) -> list[dict[str, str]]:
    """One dict per β: beta, n_runs, n_seeds, seeds ('0;1'), then <metric>_mean/_std/_n for each metric."""
    out = []
    for row in rows:
        record = {
            "beta": _csv_float(row.beta),
            "n_runs": str(row.n_runs),
            "n_seeds": str(len(row.seeds)),
            "seeds": ";".join(map(str, row.seeds)),
        }
        for metric in METRICS:
            stat = row.stats[metric]
            record[f"{metric}_mean"] = _csv_float(stat.mean)
            record[f"{metric}_std"] = _csv_float(stat.std)
            record[f"{metric}_n"] = str(stat.n)
            record[f"{metric}_ci_low"] = _csv_float(stat.low)
            record[f"{metric}_ci_high"] = _csv_float(stat.high)
        out.append(record)
    return out


def group_runs(runs: Iterable[RunRecord]) -> dict[tuple[str, str, str], list[RunRecord]]:
    """Runs by (dataset, architecture, likelihood), in sorted group order: a report never averages across
    datasets, and ELBOs under different likelihoods are never put on one axis."""
    groups: dict[tuple[str, str, str], list[RunRecord]] = defaultdict(list)
    for run in runs:
        groups[run.group].append(run)
    return dict(sorted(groups.items()))


def group_slug(group: tuple[str, str, str]) -> str:
    """A folder name for a group's report page: `digits-mlp-continuous_bernoulli`."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", part) for part in group)


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
    """The seed warning, then one interval-checked trend sentence per score (MIG, the others, IWAE)."""
    text = [warning] if (warning := seed_warning(rows, weight)) else []
    for metric in (*FACTOR_SCORES, "iwae"):
        if (sentence := score_trend_sentence(rows, metric, weight)) is not None:
            text.append(sentence)
    return text
