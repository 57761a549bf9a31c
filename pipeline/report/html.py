"""The report page, rendered from the package's Jinja2 template `templates/report.html.j2` with autoescaping:
run names, tags, params and sweep names come from users and MLflow, so they must reach the page as text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pipeline.core.paths import Figure
from pipeline.report.data import METRIC_NAMES, METRICS, BetaRow, RunRecord
from pipeline.report.sections import Section, objective_sections
from pipeline.report.sentences import fmt_stat, fmt_value

if TYPE_CHECKING:
    from pipeline.tracking.registry import Registered

INDEX = "index.html"
SUMMARY_CSV = "summary.csv"
RUN_FIGURE_TITLES = {  # the plot stage's figures shown per β, in this order
    Figure.RECONSTRUCTIONS: "Reconstructions",
    Figure.SAMPLES: "Prior samples",
    Figure.TRAVERSALS: "Latent traversals",
    Figure.LATENT_TABLE: "Latents: KL, active, factor carried, traversal",
    Figure.INTERPOLATIONS: "Interpolations between held-out pairs",
    Figure.LATENT_VS_FACTOR: "Latent vs factor",
    Figure.LATENT_SCATTER: "Two highest-KL latents by factor",
    Figure.LATENT_PCA: "PCA of all latents by factor",
    Figure.PRIOR_TRAVERSALS: "Traversals from the prior",
}
INTROSPECTION_FIGURES = (  # shown in a second row per β
    Figure.LATENT_TABLE,
    Figure.INTERPOLATIONS,
    Figure.LATENT_VS_FACTOR,
    Figure.LATENT_SCATTER,
    Figure.LATENT_PCA,
    Figure.PRIOR_TRAVERSALS,
)
RUN_FIGURES = tuple(RUN_FIGURE_TITLES)
TEMPLATE = "report.html.j2"
UI_BASE = "http://127.0.0.1:5000"  # where `vae-pipe ui` serves by default: the registered versions' links


@dataclass(frozen=True)
class RunImages:
    """The images shown for one β: which run they come from and the relative paths that exist."""

    beta: float
    run: RunRecord | None
    files: Mapping[str, str]  # artifact name → path relative to the report folder


@cache
def _environment() -> Environment:
    """Templates from the installed package (wheel or editable); an undefined name is an error, not blank."""
    env = Environment(
        loader=PackageLoader("pipeline.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        g=lambda number: f"{number:g}",
        stat=lambda stat, metric: fmt_stat(metric, stat),
        value=lambda number, metric: fmt_value(metric, number),
        local_time=lambda moment, pattern: moment.astimezone().strftime(pattern),
    )
    return env


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
    primary_objective: str | None = None,
    sections: Sequence[Section] = (),
    all_runs: Sequence[RunRecord] | None = None,
    registered: Sequence[Registered] = (),
) -> str:
    """The whole page. `figures`: figure key → relative path (only figures that were drawn). `sections`: one
    per objective (summary and table each, never pooled; by default those of `runs`), `all_runs` the
    runs table (default `runs`); `rows`, `runs` and `best` are the section the per-β figures show."""
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            rows=rows,
            runs=runs,
            best=best,
            sentences=sentences,
            figures=figures,
            run_images=run_images,
            filter_text=filter_text,
            store=store,
            generated=generated,
            skipped=skipped,
            mi_note=mi_note,
            primary_objective=primary_objective,
            sections=sections or objective_sections(runs),
            all_runs=all_runs if all_runs is not None else runs,
            metrics=METRICS,
            metric_names=METRIC_NAMES,
            run_figure_titles=RUN_FIGURE_TITLES,
            figure_names=Figure,
            introspection_figures=INTROSPECTION_FIGURES,
            summary_csv=SUMMARY_CSV,
            registered=registered,
            ui_base=UI_BASE,
        )
    )


GROUP_INDEX_TEMPLATE = "groups.html.j2"


def render_group_index(pages: Sequence[tuple[tuple[str, str, str], int, str]], filter_text: str) -> str:
    """The top page of a report over several (dataset, architecture, likelihood) groups: one link each."""
    return _environment().get_template(GROUP_INDEX_TEMPLATE).render(pages=pages, filter_text=filter_text)
