"""The report page: plain HTML with inline CSS and no script, images by relative path, so it opens from disk."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.report_data import METRIC_NAMES, METRICS, BetaRow, RunRecord, fmt_stat, fmt_value


INDEX = "index.html"
SUMMARY_CSV = "summary.csv"
RUN_FIGURES = ("reconstructions.png", "samples.png", "traversals.png")
RUN_FIGURE_TITLES = {
    "reconstructions.png": "Reconstructions",
    "samples.png": "Prior samples",
    "traversals.png": "Latent traversals",
}


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
        cells = "".join(f'<td class="num">{_e(fmt_stat(m, row.stats[m]))}</td>' for m in METRICS)
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
        cells = "".join(f'<td class="num">{_e(fmt_value(m, run.metric(m)))}</td>' for m in METRICS)
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
