"""The report per objective: runs split by objective and its other settings (the legend label), each section
aggregated over its own weight (β, C_max or γ) with its own seed statistics, trend sentences and summary.csv
rows, so two objectives are never pooled into one mean, one trend or one bootstrap interval. Pure: plain
`RunRecord`s in, plain values out (MLflow stays in `pipeline.report.runs`)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pipeline.core.objectives import DEFAULT_OBJECTIVE, TITLES, WEIGHT_KEYS, symbol
from pipeline.report.data import BetaRow, RunRecord, aggregate, best_run, summary_csv_rows
from pipeline.report.sentences import score_sentences, summary_sentences
from pipeline.report.udr import udr_sentences


@dataclass(frozen=True)
class Section:
    """One objective with fixed other settings: its runs keyed by the objective's weight (`RunRecord.beta`
    holds the weight here), their per-weight rows and best run, and the sentences that describe them."""

    objective: str  # model.objective
    label: str  # the legend: the objective, its other settings, and its x axis
    weight_key: str  # the param the rows are keyed by: beta, objective.capacity.c_max, …
    runs: tuple[RunRecord, ...]
    rows: tuple[BetaRow, ...]
    best: RunRecord | None
    sentences: tuple[str, ...]

    @property
    def weight(self) -> str:
        """The weight's symbol for text and axes: β, C_max, γ."""
        return symbol(self.weight_key)

    @property
    def title(self) -> str:
        """The objective and its other settings, without the axis: `β-TCVAE (α = 1, γ = 1, sampling mws)`."""
        return self.label.rsplit("; x: ", 1)[0]


def _label(run: RunRecord) -> str:
    if run.objective_label:
        return run.objective_label
    return f"{TITLES.get(run.objective, run.objective)}; x: {symbol(WEIGHT_KEYS.get(run.objective, 'beta'))}"


def _order(section: Section) -> tuple:
    """β-VAE first, then the other objectives weighed by β, then the rest; by label within each."""
    return (section.objective != DEFAULT_OBJECTIVE, section.weight_key != "beta", section.label)


def objective_sections(runs: Iterable[RunRecord]) -> list[Section]:
    """One section per legend label, in `_order`. Runs without their objective's weight are left out (they
    cannot be placed on its axis); `RunRecord.beta` of a section's runs is replaced by that weight."""
    grouped: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        if math.isfinite(run.weight):
            grouped[_label(run)].append(replace(run, beta=run.weight))
        elif WEIGHT_KEYS.get(run.objective, "beta") == "beta":
            grouped[_label(run)].append(run)  # weighed by β, which every run has
    sections = []
    for label, members in grouped.items():
        objective = members[0].objective
        key = WEIGHT_KEYS.get(objective, "beta")
        members.sort(key=lambda r: r.sort_key)
        rows = aggregate(members)
        best = best_run(members)
        weight = symbol(key)
        sentences = summary_sentences(rows, best, weight) + score_sentences(rows, weight) + udr_sentences(members)
        sections.append(Section(objective, label, key, tuple(members), tuple(rows), best, tuple(sentences)))
    return sorted(sections, key=_order)


def section_sentences(sections: Sequence[Section]) -> list[str]:
    """All sections' sentences; each prefixed with its objective and settings when there are several."""
    if len(sections) == 1:
        return list(sections[0].sentences)
    return [f"{section.title}: {text}" for section in sections for text in section.sentences]


def section_csv_rows(sections: Sequence[Section]) -> list[dict[str, str]]:
    """summary.csv: one row per (objective and settings, weight). `beta` keeps its meaning (the β of the row,
    NaN for objectives weighed by something else); `objective`, `settings`, `weight_name` and `weight` say
    which objective the statistics are over and at which value of its own weight."""
    out = []
    for section in sections:
        for record in summary_csv_rows(section.rows):
            weight = record["beta"]
            out.append(
                {
                    "beta": weight if section.weight_key == "beta" else "nan",
                    "objective": section.objective,
                    "settings": section.label,
                    "weight_name": section.weight_key,
                    "weight": weight,
                    **{k: v for k, v in record.items() if k != "beta"},
                }
            )
    return out
