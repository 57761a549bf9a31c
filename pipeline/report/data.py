"""The report's arithmetic on plain values, testable on constructed runs: one run as a `RunRecord`,
`aggregate` (runs → one `BetaRow` per β: mean, std, n over seeds), `best_run`, `kl_rank_matrix`,
`normalised_mutual_information`, the filter in words and `summary.csv`'s rows; the sentences are in
`pipeline.report.sentences`. No MLflow here: `pipeline.report.runs` turns MLflow runs into `RunRecord`s."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pipeline.core.catalogue import CATALOGUE, REPORTED
from pipeline.report.stats import bootstrap_ci
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
    setting: tuple[tuple[str, str], ...] = ()  # every param but the seed (pipeline.report.runs): UDR's seeds

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
