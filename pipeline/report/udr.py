"""UDR in the report: model selection without labels (Duan et al. 2020, metrics/udr.py), computed across the
seeds of each setting from their codes of one held-out sample (eval/codes.npz), and how far its ranking
agrees with the labelled scores. Pure: plain `RunRecord`s and codes in, plain values out (the downloads
and the MLflow logging are in pipeline.report.build).

A setting is every param except `seed` (and the sweep's grid, which describes a sweep, not a model). Of
several runs of one setting and seed, the latest counts. A run's UDR is over the runs the report reads, so
a filter that drops seeds changes it; a setting with fewer than 2 seeds has none.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from pipeline.core.catalogue import label
from pipeline.core.codes import Codes
from pipeline.report.data import RunRecord

UDR = "udr"
COMPARED = ("mig", "dci_disentanglement")  # the labelled scores UDR's ranking is checked against
MIN_RUNS_FOR_CORRELATION = 3  # two runs always rank ±1


def udr_candidates(runs: Iterable[RunRecord]) -> list[list[RunRecord]]:
    """Per setting with at least 2 seeds, one run per seed (the latest), by seed."""
    settings: dict[tuple, dict[int, RunRecord]] = defaultdict(dict)
    oldest = datetime.fromtimestamp(0, tz=UTC)
    for run in runs:
        if run.seed is None or not run.setting:
            continue
        seen = settings[run.setting].get(run.seed)
        if seen is None or (run.start_time or oldest, run.run_id) > (seen.start_time or oldest, seen.run_id):
            settings[run.setting][run.seed] = run
    return [[by_seed[s] for s in sorted(by_seed)] for by_seed in settings.values() if len(by_seed) >= 2]


def udr_scores(candidates: Sequence[Sequence[RunRecord]], codes: Mapping[str, Codes]) -> dict[str, float]:
    """run id → UDR (Lasso, as disentanglement_lib's default) within each setting, over the runs whose codes
    were read and encode the same held-out rows as the setting's first such run; a setting left with fewer
    than 2 such runs gets none."""
    from metrics.udr import compute_udr, gaussian_kl_mean

    scores: dict[str, float] = {}
    for members in candidates:
        read = [run for run in members if run.run_id in codes]
        if not read:
            continue
        first = codes[read[0].run_id]
        same = [
            run
            for run in read
            if np.array_equal(codes[run.run_id].rows, first.rows) and codes[run.run_id].means.shape == first.means.shape
        ]
        if len(same) < 2:
            continue
        result = compute_udr(
            [codes[run.run_id].means for run in same],
            [gaussian_kl_mean(codes[run.run_id].means, codes[run.run_id].logvars) for run in same],
        )
        scores |= {run.run_id: float(score) for run, score in zip(same, result.scores)}
    return scores


def with_udr(runs: Iterable[RunRecord], scores: Mapping[str, float]) -> list[RunRecord]:
    """`runs` with metric `udr` as computed now; a value logged by an earlier report is dropped where none
    was computed now (its setting's seeds may have changed)."""
    out = []
    for run in runs:
        metrics = {key: value for key, value in run.metrics.items() if key != UDR}
        if run.run_id in scores:
            metrics[UDR] = scores[run.run_id]
        out.append(replace(run, metrics=metrics))
    return out


def rank_correlation(runs: Iterable[RunRecord], other: str) -> tuple[float, int]:
    """(Spearman ρ between UDR and `other` over the runs that have both, the number of those runs); ρ is NaN
    for fewer than MIN_RUNS_FOR_CORRELATION runs or when either is constant."""
    import scipy.stats

    pairs = [(r.metric(UDR), r.metric(other)) for r in runs]
    pairs = [(u, o) for u, o in pairs if math.isfinite(u) and math.isfinite(o)]
    if len(pairs) < MIN_RUNS_FOR_CORRELATION or len({u for u, _ in pairs}) < 2 or len({o for _, o in pairs}) < 2:
        return math.nan, len(pairs)
    rho = scipy.stats.spearmanr([u for u, _ in pairs], [o for _, o in pairs])[0]
    return float(rho), len(pairs)


def udr_sentences(runs: Sequence[RunRecord]) -> list[str]:
    """What UDR says, where it was computed: over how many runs and settings, and its rank correlation with
    each labelled score the runs have."""
    scored = [r for r in runs if math.isfinite(r.metric(UDR))]
    if not scored:
        return []
    n_settings = len({r.setting for r in scored})
    text = (
        f"UDR (model selection without labels, Duan et al. 2020) was computed for {len(scored)} runs in "
        f"{n_settings} setting{'s' if n_settings > 1 else ''} with at least 2 seeds, each against its setting's "
        "other seeds."
    )
    compared = []
    for other in COMPARED:
        rho, n = rank_correlation(scored, other)
        if n == 0:
            continue
        if math.isnan(rho):
            compared.append(
                f"with {label(other)} not measurable (needs {MIN_RUNS_FOR_CORRELATION} or more runs that vary, has {n})"
            )
        else:
            compared.append(f"with {label(other)} ρ = {rho:.2f} (n = {n})")
    if compared:
        text += " Its Spearman rank correlation across these runs: " + "; ".join(compared) + "."
    return [text]
