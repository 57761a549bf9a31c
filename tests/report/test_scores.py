"""The report's seeds-as-statistics part on constructed runs: intervals per β, the seed warning, trend
sentences only where the intervals separate, the CSV's interval columns and the score figures."""

from __future__ import annotations

import math

from pipeline.report.build import SCORE_FIGURES, _draw_figures
from pipeline.report.data import RunRecord, aggregate, summary_csv_rows
from pipeline.report.sentences import fmt_stat, score_sentences, seed_warning


def _runs(values_by_beta: dict[float, list[float]], metric: str = "mig") -> list[RunRecord]:
    return [
        RunRecord(f"r{beta:g}-{seed}", beta, seed, {metric: value, "elbo": -100.0 - seed, "iwae": -98.0 - seed})
        for beta, values in values_by_beta.items()
        for seed, value in enumerate(values)
    ]


def test_intervals_per_beta_and_in_the_csv():
    rows = aggregate(_runs({0.0: [0.1, 0.12, 0.11], 8.0: [0.4, 0.45, 0.5]}))
    stat = rows[1].stats["mig"]
    assert stat.low <= stat.mean <= stat.high and stat.low >= 0.4 and stat.high <= 0.5
    assert fmt_stat("mig", stat).endswith(f"[{stat.low:.3f}, {stat.high:.3f}]")
    record = summary_csv_rows(rows)[1]
    assert float(record["mig_ci_low"]) == stat.low and float(record["mig_ci_high"]) == stat.high
    assert math.isnan(aggregate(_runs({1.0: [0.3]}))[0].stats["mig"].low)


def test_trend_sentence_only_where_intervals_separate():
    separated = score_sentences(aggregate(_runs({0.0: [0.1, 0.12, 0.11], 8.0: [0.4, 0.45, 0.5]})))
    assert any(s.startswith("MIG grows with β: 0.110 at β=0 (n=3) vs 0.450 at β=8 (n=3)") for s in separated)
    overlapping = score_sentences(aggregate(_runs({0.0: [0.1, 0.5, 0.3], 8.0: [0.2, 0.6, 0.35]})))
    assert any(s.startswith("MIG: no trend with β is claimed (the intervals overlap)") for s in overlapping)
    assert not any("grows" in s for s in overlapping)
    falling = score_sentences(aggregate(_runs({0.0: [0.8, 0.82, 0.81], 4.0: [0.2, 0.22, 0.21]}, "sap")))
    assert any(s.startswith("SAP falls with β") for s in falling)


def test_warning_for_groups_with_fewer_than_three_seeds():
    rows = aggregate(_runs({0.0: [0.1, 0.2], 4.0: [0.3, 0.3, 0.4], 8.0: [0.5]}))
    warning = seed_warning(rows)
    assert warning.startswith("Warning: fewer than 3 seeds at β=0 (2), β=8 (1)")
    assert seed_warning(aggregate(_runs({0.0: [0.1, 0.2, 0.3]}))) is None
    single = score_sentences(aggregate(_runs({0.0: [0.1], 8.0: [0.9]})))
    assert any("no trend with β is claimed (fewer than 2 seeds at an end" in s for s in single)


def test_score_figures_drawn_for_the_scores_present(tmp_path):
    runs = [
        RunRecord(
            f"r{beta:g}-{seed}",
            beta,
            seed,
            {name: 0.1 * (seed + 1) + beta / 100 for panel in SCORE_FIGURES.values() for name in panel},
        )
        for beta in (0.0, 4.0)
        for seed in range(3)
    ]
    figures = _draw_figures(aggregate(runs), runs, tmp_path)
    for key in SCORE_FIGURES:
        assert (tmp_path / figures[key]).stat().st_size > 0
