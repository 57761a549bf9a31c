"""`vae-pipe report`: the experiment's MLflow runs → `reports/index.html` (figures, tables, text) + `summary.csv`.

Three layers, so the arithmetic can be tested on constructed runs:
- pure: `RunRecord` (one run as plain values), `aggregate` (runs → one `BetaRow` per β: mean, std, n over
  seeds), `best_run`, `trend`, `summary_sentences`, `kl_rank_matrix`, `normalised_mutual_information`,
  `mlflow_filter`, `summary_csv_rows`, `render_html`;
- figures: `pipeline.report_figures` (matplotlib from plain numbers);
- I/O: `fetch_runs` (MLflow search, paged) and `build_report`, which downloads each β's images and the best
  run's MI matrix and writes everything into a temp folder beside `out_dir`, swapped in only at the end.

The report opens from disk without a server: plain HTML, inline CSS, no script, images by relative path.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.tracking import EXPERIMENT_NAME, STORE_FILE, SWEEP_TAG, tracking_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

METRICS = ("elbo", "recon", "kl", "mig", "active_units")
METRIC_NAMES = {
    "elbo": "ELBO",
    "recon": "reconstruction",
    "kl": "KL",
    "mig": "MIG",
    "active_units": "active units",
}
RUN_FIGURES = ("reconstructions.png", "samples.png", "traversals.png")
RUN_FIGURE_TITLES = {
    "reconstructions.png": "Reconstructions",
    "samples.png": "Prior samples",
    "traversals.png": "Latent traversals",
}
DETAILS_ARTIFACT = "eval/details.json"
PAGE_SIZE = 1000
INDEX = "index.html"
SUMMARY_CSV = "summary.csv"


_EPOCH = datetime.fromtimestamp(0, tz=UTC)


class ReportError(ValueError):
    """Nothing to report (no store, no experiment, no matching run) or a bad filter; one line."""


@dataclass(frozen=True)
class ReportResult:
    index: Path  # reports/index.html
    summary_csv: Path  # reports/summary.csv
    n_runs: int
    best: dict[str, Any] | None  # best-MIG run: beta, seed, mig, run_id
    text: list[str]  # the sentences of the text summary


# ---------------------------------------------------------------------------------------------- pure part


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

    @classmethod
    def from_mlflow(cls, run: Run) -> RunRecord | None:
        """None for a run without a numeric `beta` param (not one of ours)."""
        params, tags = run.data.params, run.data.tags
        try:
            beta = float(params["beta"])
        except (KeyError, ValueError):
            return None
        try:
            seed: int | None = int(params["seed"])
        except (KeyError, ValueError):
            seed = None
        start = run.info.start_time
        return cls(
            run_id=run.info.run_id,
            beta=beta,
            seed=seed,
            metrics=dict(run.data.metrics),
            exp_name=tags.get("dvc.exp_name"),
            dataset=params.get("data.dataset"),
            sweep=tags.get(SWEEP_TAG),
            start_time=datetime.fromtimestamp(start / 1000, tz=UTC) if start else None,
            name=run.info.run_name or "",
        )

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
    """Mean and sample standard deviation (ddof 1; NaN for fewer than 2 values) over `n` finite values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        n = len(finite)
        if n == 0:
            return cls(math.nan, math.nan, 0)
        mean = math.fsum(finite) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else math.nan
        return cls(mean, std, n)


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


def _b(beta: float) -> str:
    return f"β={beta:g}"


def _num(metric: str, value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if metric == "mig":
        return f"{value:.3f}"
    if metric == "active_units":
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.1f}"


def _pm(metric: str, stat: Stat) -> str:
    if stat.n == 0:
        return "–"
    if stat.n == 1:
        return _num(metric, stat.mean)
    return f"{_num(metric, stat.mean)} ± {_num(metric, stat.std)}"


_SUBJECTS = {  # subject, plural, unit
    "kl": ("KL", False, " nats"),
    "recon": ("Reconstruction error", False, " nats"),
    "elbo": ("ELBO", False, " nats"),
    "active_units": ("Active units", True, ""),
}


def trend_sentence(t: Trend) -> str:
    subject, plural, unit = _SUBJECTS[t.metric]
    a, b = f"{_num(t.metric, t.first)}{unit}", f"{_num(t.metric, t.last)}{unit}"
    if t.direction == "flat":
        verb = "end" if plural else "ends"
        where = "they start" if plural else "it starts"
        text = f"{subject} {verb} where {where}: {a} at {_b(t.betas[0])} and at {_b(t.betas[-1])}"
    else:
        verb = {"rises": "rise", "falls": "fall"}[t.direction] if plural else t.direction
        text = f"{subject} {verb} from {a} at {_b(t.betas[0])} to {b} at {_b(t.betas[-1])}"
    if t.monotone:
        return f"{text} (monotone: yes)."
    other = {"rises": "falls", "falls": "rises", "flat": "changes"}[t.direction]
    other = {"falls": "fall", "rises": "rise", "changes": "change"}[other] if plural else other
    spread = {True: ", less than the spread over seeds", False: ", more than the spread over seeds", None: ""}
    return (
        f"{text} (monotone: no; {'they' if plural else 'it'} {other} by {_num(t.metric, t.against_size)}{unit} "
        f"between {_b(t.against[0])} and {_b(t.against[1])}{spread[t.within_spread]})."
    )


def summary_sentences(rows: Sequence[BetaRow], best: RunRecord | None) -> list[str]:
    """What the data shows, computed from it: counts, trends of the per-β means, where MIG peaks."""
    n_runs = sum(row.n_runs for row in rows)
    seeds = sorted({s for row in rows for s in row.seeds})
    text = [
        f"{n_runs} run{'s' if n_runs != 1 else ''} at {len(rows)} β value{'s' if len(rows) != 1 else ''} "
        f"({', '.join(f'{row.beta:g}' for row in rows)}), "
        + (f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}." if seeds else "seeds unknown.")
    ]
    shared = [row for row in rows if row.n_runs > len(row.seeds)]
    if shared:
        parts = ", ".join(f"{_b(row.beta)} has {row.n_runs} runs over {len(row.seeds)} seed(s)" for row in shared)
        text.append(f"Some runs share β and seed (they differ in other params) and are averaged together: {parts}.")
    if len(rows) == 1:
        text.append(f"Only one β value ({_b(rows[0].beta)}): no trend across β can be measured.")
    for metric in ("kl", "recon", "elbo", "active_units"):
        found = trend(rows, metric)
        if found:
            text.append(trend_sentence(found))
    with_mig = [row for row in rows if math.isfinite(row.stats["mig"].mean)]
    if not with_mig:
        text.append("No run has a MIG metric yet (run the evaluate stage).")
    elif len(with_mig) == 1:
        row = with_mig[0]
        text.append(f"MIG is {_pm('mig', row.stats['mig'])} at {_b(row.beta)}, the only β with MIG.")
    else:
        peak = min(with_mig, key=lambda row: (-row.stats["mig"].mean, row.beta))
        others = [row for row in with_mig if row is not peak]
        reference = next((row for row in others if row.beta == 1.0), others[0])
        stat = peak.stats["mig"]
        spread = f" ± {_num('mig', stat.std)}, n={stat.n}" if stat.n > 1 else ", n=1"
        text.append(
            f"MIG peaks at {_b(peak.beta)} ({_num('mig', stat.mean)}{spread}) "
            f"vs {_num('mig', reference.stats['mig'].mean)} at {_b(reference.beta)}."
        )
    if best is not None:
        where = f"DVC experiment {best.exp_name}" if best.exp_name else "no DVC experiment name"
        text.append(
            f"The best single run by MIG is {_b(best.beta)}, seed {best.seed} "
            f"(MIG {_num('mig', best.metric('mig'))}; MLflow run {best.run_id}, {where})."
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


def _escape_filter_value(what: str, value: str) -> str:
    if "'" in value or "`" in value:
        raise ReportError(f"{what} {value!r}: quotes are not allowed in a filter value")
    return value


def mlflow_filter(sweep: str | None = None, dataset: str | None = None, since: datetime | None = None) -> str:
    """MLflow search syntax for the filters (a naive `since` is local time)."""
    clauses = []
    if sweep is not None:
        clauses.append(f"tags.`{SWEEP_TAG}` = '{_escape_filter_value('sweep', sweep)}'")
    if dataset is not None:
        clauses.append(f"params.`data.dataset` = '{_escape_filter_value('dataset', dataset)}'")
    if since is not None:
        clauses.append(f"attributes.start_time >= {int(since.timestamp() * 1000)}")
    return " and ".join(clauses)


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
        out.append(record)
    return out


# ---------------------------------------------------------------------------------------------- HTML

_CSS = """
:root { --fg: #1d2330; --muted: #5c6677; --line: #d9dee7; --band: #f4f6fa; --accent: #2f5fb3; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fff; }
main { max-width: 1320px; margin: 0 auto; padding: 28px 32px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 38px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.meta { color: var(--muted); margin: 2px 0; font-size: 14px; }
code { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: var(--band);
       padding: 1px 4px; border-radius: 3px; }
ul.summary { background: var(--band); border-left: 4px solid var(--accent); padding: 12px 16px 12px 36px;
             margin: 12px 0; border-radius: 0 6px 6px 0; }
ul.summary li { margin: 3px 0; }
table { border-collapse: collapse; font-size: 13.5px; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #fff6d6; }
.scroll { overflow-x: auto; }
figure { margin: 10px 0 18px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; max-width: 900px; }
.pair { display: flex; flex-wrap: wrap; gap: 22px; align-items: flex-start; }
.pair figure { flex: 1 1 460px; max-width: 640px; }
.grid { display: grid; grid-template-columns: 110px minmax(0, 1fr) minmax(0, 1fr); gap: 0 18px;
        align-items: start; margin-top: 10px; }
.grid > div { border-top: 1px solid var(--line); padding: 10px 0 14px; }
.grid .label { font-size: 17px; }
.grid .label span { display: block; color: var(--muted); font-size: 12px; line-height: 1.5; margin-top: 4px;
                    overflow-wrap: anywhere; }
.grid figure { margin: 0 0 10px; }
.grid figure.samples { max-width: 80%; }
.grid img { width: 100%; }
.note { color: var(--muted); font-style: italic; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(src: str, alt: str, caption: str) -> str:
    return f'<figure><img src="{_e(src)}" alt="{_e(alt)}"><figcaption>{caption}</figcaption></figure>'


def _summary_table(rows: Sequence[BetaRow]) -> str:
    head = "".join(f'<th class="num">{_e(METRIC_NAMES[m])}</th>' for m in METRICS)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{_e(_pm(m, row.stats[m]))}</td>' for m in METRICS)
        body.append(
            f'<tr><td class="num">{row.beta:g}</td><td class="num">{row.n_runs}</td>'
            f"<td>{_e(', '.join(map(str, row.seeds)) or '–')}</td>{cells}</tr>"
        )
    return (
        '<div class="scroll"><table><thead><tr><th class="num">β</th><th class="num">runs</th><th>seeds</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _runs_table(runs: Sequence[RunRecord], best: RunRecord | None) -> str:
    head = "".join(f'<th class="num">{_e(METRIC_NAMES[m])}</th>' for m in METRICS)
    body = []
    for run in runs:
        cells = "".join(f'<td class="num">{_e(_num(m, run.metric(m)))}</td>' for m in METRICS)
        started = run.start_time.astimezone().strftime("%Y-%m-%d %H:%M") if run.start_time else "–"
        mark = ' class="best"' if best is not None and run.run_id == best.run_id else ""
        seed = run.seed if run.seed is not None else "–"
        body.append(
            f'<tr{mark}><td class="num">{run.beta:g}</td><td class="num">{_e(seed)}</td>'
            f"{cells}<td>{_e(run.dataset or '–')}</td><td>{_e(run.sweep or '–')}</td><td>{_e(started)}</td>"
            f"<td>{_e(run.exp_name or '–')}</td><td><code>{_e(run.run_id)}</code></td></tr>"
        )
    return (
        '<div class="scroll"><table><thead><tr><th class="num">β</th><th class="num">seed</th>'
        f"{head}<th>dataset</th><th>sweep</th><th>started</th><th>DVC experiment</th><th>MLflow run id</th>"
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


@dataclass(frozen=True)
class RunImages:
    """The images shown for one β: which run they come from and the relative paths that exist."""

    beta: float
    run: RunRecord | None
    files: Mapping[str, str]  # artifact name → path relative to the report folder


def render_html(
    rows: Sequence[BetaRow],
    runs: Sequence[RunRecord],
    best: RunRecord | None,
    sentences: Sequence[str],
    figures: Mapping[str, str],
    run_images: Sequence[RunImages],
    filter_text: str,
    store: str,
    generated: datetime,
    skipped: int = 0,
    mi_note: str | None = None,
) -> str:
    """The whole page. `figures`: figure key → relative path (only figures that were drawn)."""
    n = len(runs)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>vae-pipe report: {n} runs</title><style>{_CSS}</style></head><body><main>",
        "<h1>β-VAE sweep report</h1>",
        f'<p class="meta"><b>Filter:</b> {_e(filter_text)} &nbsp;·&nbsp; <b>Runs:</b> {n} '
        f"&nbsp;·&nbsp; <b>β values:</b> {len(rows)}</p>",
        f'<p class="meta"><b>MLflow store:</b> <code>{_e(store)}</code> &nbsp;·&nbsp; '
        f"generated {_e(generated.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z'))}"
        f' &nbsp;·&nbsp; machine-readable: <a href="{SUMMARY_CSV}">{SUMMARY_CSV}</a></p>',
    ]
    if skipped:
        parts.append(f'<p class="meta note">{skipped} matching run(s) without a numeric β param were left out.</p>')
    parts.append('<h2>Summary</h2><ul class="summary">')
    parts += [f"<li>{_e(s)}</li>" for s in sentences]
    parts.append("</ul>")
    parts.append(
        '<p class="meta">Per β: mean ± sample standard deviation over its runs (seeds); a single run shows its '
        "value. ELBO, reconstruction and KL in nats per image on held-out data.</p>"
    )
    parts.append(_summary_table(rows))

    def figure(key: str, alt: str, caption: str) -> None:
        if key in figures:
            parts.append(_img(figures[key], alt, caption))

    parts.append("<h2>Loss terms and the rate–distortion trade-off</h2>")
    figure(
        "terms",
        "ELBO, reconstruction and KL against beta",
        "Blue: mean ± standard deviation over seeds; grey rings: single runs. The β axis is symlog "
        "(linear below 1), so β = 0 shows.",
    )
    parts.append('<div class="pair">')
    figure(
        "rate_distortion",
        "rate-distortion plane",
        "Each point is one run; the dashed line joins the per-β means in β order. Larger β trades rate "
        "(KL) for distortion (reconstruction error).",
    )
    figure(
        "active_units",
        "active units against beta",
        "Latent dimensions whose posterior mean varies across held-out images (variance above the "
        "evaluate stage's threshold).",
    )
    parts.append("</div>")

    parts.append("<h2>What each latent dimension carries</h2>")
    if "kl_heatmap" in figures:
        figure(
            "kl_heatmap",
            "KL per latent dimension, sorted, per beta",
            "Each row sorts one β's dimensions by KL (column = rank; a run's dimensions are sorted before "
            "averaging over its β's runs), so the number of informative dimensions reads left to right.",
        )
    else:
        parts.append('<p class="note">No run has KL per dimension (kl_dim.*) metrics.</p>')

    parts.append("<h2>Disentanglement</h2>")
    parts.append('<div class="pair">')
    figure(
        "mig",
        "MIG against beta",
        "Mutual information gap (Chen et al. 2018): per factor, the gap between the two most informative "
        "latents divided by the factor's entropy, averaged over the factors that vary.",
    )
    if "mutual_info" in figures:
        figure(
            "mutual_info",
            "normalised mutual information matrix of the best-MIG run",
            "Best-MIG run: mutual information between each latent (posterior mean, histogrammed) and each "
            "ground-truth factor over the factor's entropy; constant factors left out. A disentangled code "
            "has one bright cell per row, each in its own column.",
        )
    elif mi_note:
        parts.append(f'<p class="note">{_e(mi_note)}</p>')
    parts.append("</div>")

    parts.append("<h2>Reconstructions, prior samples and latent traversals per β</h2>")
    parts.append(
        '<p class="meta">One row per β, from its lowest-seed run that logged them. '
        "Click an image to open it at full size.</p>"
    )
    parts.append('<div class="grid">')
    for shown in run_images:
        if shown.run:
            who = f"seed {shown.run.seed}<br><code>{_e(shown.run.run_id[:8])}</code>"
            if shown.run.exp_name:
                who += f"<br>{_e(shown.run.exp_name)}"
        else:
            who = "no images logged"
        parts.append(f'<div class="label"><b>β = {shown.beta:g}</b><span>{who}</span></div>')

        def cell(name: str, shown: RunImages = shown) -> str:
            if name not in shown.files:
                return f'<p class="note">no {RUN_FIGURE_TITLES[name].lower()}</p>'
            src = _e(shown.files[name])
            alt = _e(f"{RUN_FIGURE_TITLES[name]}, beta {shown.beta:g}")
            return (
                f'<figure class="{name.removesuffix(".png")}"><a href="{src}"><img src="{src}" alt="{alt}"></a>'
                f"<figcaption>{_e(RUN_FIGURE_TITLES[name])}</figcaption></figure>"
            )

        parts.append(f'<div class="cell">{cell("reconstructions.png")}{cell("samples.png")}</div>')
        parts.append(f'<div class="cell">{cell("traversals.png")}</div>')
    parts.append("</div>")

    parts.append("<h2>Runs</h2>")
    parts.append(
        '<p class="meta">Find a run in MLflow by its run id (<code>vae-pipe ui</code>) or in DVC by its experiment '
        "name (<code>dvc exp show</code>). Highlighted: the best run by MIG.</p>"
    )
    parts.append(_runs_table(runs, best))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- I/O


def fetch_runs(mlflow_client: MlflowClient, experiment_ids: Sequence[str], filter_string: str) -> list[Run]:
    """Every active run matching the filter, following MLflow's page tokens."""
    runs: list[Run] = []
    token = None
    while True:
        page = mlflow_client.search_runs(
            list(experiment_ids),
            filter_string=filter_string,
            max_results=PAGE_SIZE,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _safe_name(beta: float) -> str:
    return "beta_" + re.sub(r"[^A-Za-z0-9._-]", "_", f"{beta:g}")


def _download(mlflow_client: MlflowClient, run_id: str, artifact: str, scratch: Path) -> Path | None:
    try:
        return Path(mlflow_client.download_artifacts(run_id, artifact, str(scratch)))
    except Exception:  # a missing or unreadable artifact leaves a note in the report, not a failed build
        return None


def _collect_run_images(
    mlflow_client: MlflowClient, rows: Sequence[BetaRow], work: Path, scratch: Path
) -> list[RunImages]:
    """Per β, the lowest-seed run that logged plots/: its images downloaded to runs/beta_<β>/."""
    found = []
    for row in rows:
        candidates = sorted(row.runs, key=lambda r: r.seed_key)
        shown = RunImages(row.beta, None, {})
        for run in candidates:
            try:
                listed = {Path(info.path).name for info in mlflow_client.list_artifacts(run.run_id, "plots")}
            except Exception:
                continue
            wanted = [name for name in RUN_FIGURES if name in listed]
            if not wanted:
                continue
            files = {}
            for name in wanted:
                local = _download(mlflow_client, run.run_id, f"plots/{name}", scratch / run.run_id)
                if local is not None:
                    relative = f"runs/{_safe_name(row.beta)}/{name}"
                    (work / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(local), work / relative)
                    files[name] = relative
            if files:
                shown = RunImages(row.beta, run, files)
                break
        found.append(shown)
    return found


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _draw_figures(rows: Sequence[BetaRow], runs: Sequence[RunRecord], work: Path) -> dict[str, str]:
    from pipeline import report_figures as rf

    betas = [row.beta for row in rows]
    means = {m: [row.stats[m].mean for row in rows] for m in METRICS}
    stds = {m: [row.stats[m].std for row in rows] for m in METRICS}
    points = {m: [(r.beta, r.metric(m)) for r in runs if math.isfinite(r.metric(m))] for m in METRICS}
    figures: dict[str, str] = {}

    def save(key: str, fig: Any) -> None:
        relative = f"figures/{key}.png"
        _save(fig, work / relative)
        figures[key] = relative

    if any(points[m] for m in ("elbo", "recon", "kl")):
        save("terms", rf.metric_against_beta(["elbo", "recon", "kl"], betas, means, stds, points))
    rd = [
        (r.beta, r.metric("recon"), r.metric("kl"))
        for r in runs
        if math.isfinite(r.metric("recon")) and math.isfinite(r.metric("kl"))
    ]
    if rd:
        save("rate_distortion", rf.rate_distortion(rd))
    for metric in ("mig", "active_units"):
        if points[metric]:
            save(metric, rf.metric_against_beta([metric], betas, means, stds, points, width_per_panel=5.6, height=4.2))
    heat_betas, matrix, counts = kl_rank_matrix(rows)
    if heat_betas:
        save("kl_heatmap", rf.kl_rank_heatmap(heat_betas, matrix, counts))
    return figures


def _mutual_info_figure(
    mlflow_client: MlflowClient, best: RunRecord, work: Path, scratch: Path
) -> tuple[str | None, str | None]:
    """(relative path of the MI heatmap, or None with a note why not)."""
    from pipeline import report_figures as rf

    local = _download(mlflow_client, best.run_id, DETAILS_ARTIFACT, scratch / "best")
    if local is None:
        return None, f"The best-MIG run ({best.run_id}) has no {DETAILS_ARTIFACT} artifact: no MI matrix."
    try:
        names, matrix = normalised_mutual_information(json.loads(local.read_text()))
    except (ValueError, KeyError, TypeError) as error:
        return None, f"{DETAILS_ARTIFACT} of run {best.run_id} is unreadable ({error}): no MI matrix."
    if not names:
        return None, f"No factor varies in run {best.run_id}'s evaluation data: no MI matrix."
    title = (
        "Normalised mutual information\n"
        f"best-MIG run: β = {best.beta:g}, seed {best.seed} (MIG {best.metric('mig'):.3f})"
    )
    relative = "figures/mutual_info.png"
    _save(rf.mutual_information(names, matrix, title), work / relative)
    return relative, None


def _swap_in(work: Path, out_dir: Path) -> None:
    """Replace out_dir by the finished work folder; the old report survives until the new one is in place."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        os.replace(out_dir, old)
    try:
        os.replace(work, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_report(
    root: Path,
    out_dir: Path,
    sweep: str | None = None,
    dataset: str | None = None,
    since: datetime | None = None,
) -> ReportResult:
    """Read the experiment's runs (optionally filtered) and write the report folder `out_dir` atomically."""
    from pipeline.tracking import client as make_client

    root, out_dir = Path(root), Path(out_dir)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per image otherwise
    filter_text = describe_filter(sweep, dataset, since)
    filter_string = mlflow_filter(sweep, dataset, since)
    store = tracking_uri(root)
    if "MLFLOW_TRACKING_URI" not in os.environ and not (root / STORE_FILE).exists():
        raise ReportError(f"no MLflow store at {root / STORE_FILE}: train and evaluate a model first (dvc repro)")
    mlflow_client = make_client(root)
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None or experiment.lifecycle_stage != "active":
        raise ReportError(f"no MLflow experiment '{EXPERIMENT_NAME}' in {store}: train and evaluate a model first")
    found = fetch_runs(mlflow_client, [experiment.experiment_id], filter_string)
    records = [RunRecord.from_mlflow(run) for run in found]
    runs = sorted((r for r in records if r is not None), key=lambda r: r.sort_key)
    if not runs:
        why = f" ({len(found)} without a beta param)" if found else ""
        raise ReportError(f"no MLflow run matches {filter_text}{why} in {store}")

    rows = aggregate(runs)
    best = best_run(runs)
    sentences = summary_sentences(rows, best)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        scratch = work / ".downloads"
        figures = _draw_figures(rows, runs, work)
        mi_note = "No run has a MIG metric, so there is no best-MIG run to show."
        if best is not None:
            mi_path, mi_note = _mutual_info_figure(mlflow_client, best, work, scratch)
            if mi_path:
                figures["mutual_info"] = mi_path
        run_images = _collect_run_images(mlflow_client, rows, work, scratch)
        shutil.rmtree(scratch, ignore_errors=True)

        with (work / SUMMARY_CSV).open("w", newline="") as handle:
            table = summary_csv_rows(rows)
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
        page = render_html(
            rows,
            runs,
            best,
            sentences,
            figures,
            run_images,
            filter_text,
            store,
            generated=datetime.now(UTC),
            skipped=len(found) - len(runs),
            mi_note=mi_note,
        )
        (work / INDEX).write_text(page, encoding="utf-8")
        work.chmod(0o755)  # mkdtemp makes 0700; the report folder should read like any other output
        _swap_in(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    best_info = (
        {"beta": best.beta, "seed": best.seed, "mig": best.metric("mig"), "run_id": best.run_id} if best else None
    )
    return ReportResult(out_dir / INDEX, out_dir / SUMMARY_CSV, len(runs), best_info, sentences)
