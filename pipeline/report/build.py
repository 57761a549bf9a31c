"""`vae-pipe report`: the experiment's MLflow runs → `reports/index.html` (figures, tables, text) + `summary.csv`.

Split so the arithmetic can be tested on constructed runs: `pipeline.report.data` (pure: runs → per-β rows,
trends, sentences, CSV rows), `pipeline.report.html` (the page from those values, a Jinja2 template),
`pipeline.report.figures` (matplotlib from plain numbers) and `pipeline.report.runs` (MLflow search → runs).
This one does the rest of the I/O: `build_report` downloads each β's images and the best run's MI matrix
and writes everything into a temp folder beside `out_dir`, swapped in only at the end.
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core import figures as figure_files
from pipeline.core.codes import Codes, read_codes
from pipeline.core.details import read_details
from pipeline.core.errors import OutputError, ReportError
from pipeline.core.objectives import DEFAULT_OBJECTIVE
from pipeline.report.data import (
    METRICS,
    BetaRow,
    RunRecord,
    group_runs,
    group_slug,
    kl_rank_matrix,
    normalised_mutual_information,
)
from pipeline.report.html import INDEX, RUN_FIGURES, SUMMARY_CSV, RunImages, render_group_index, render_html
from pipeline.report.objectives import (
    objective_groups,
    objectives_figure,
    objectives_kl_heatmap,
    relabel_weight_axis,
)
from pipeline.report.runs import FoundRuns, find_runs
from pipeline.report.sections import objective_sections, section_csv_rows, section_sentences
from pipeline.report.udr import UDR, udr_candidates, udr_scores, with_udr
from pipeline.tracking.record import ARTIFACT_DIRS, CODES_ARTIFACT, DETAILS_ARTIFACT, figure_artifact
from pipeline.tracking.registry import registered_versions

if TYPE_CHECKING:
    from mlflow import MlflowClient


SCORE_FIGURES = {  # figure key → metrics shown side by side against β
    "bounds": ("elbo", "iwae"),
    "dci": ("dci_disentanglement", "dci_completeness", "dci_informativeness"),
    "scores": ("sap", "factor_vae", "beta_vae"),
    "modularity": ("modularity", "explicitness", "irs"),
    "unsupervised": ("gaussian_total_correlation", "gaussian_wasserstein_correlation_norm", "mutual_info_score"),
    "udr": ("udr",),
}


@dataclass(frozen=True)
class ReportResult:
    index: Path  # reports/index.html
    summary_csv: Path  # reports/summary.csv
    n_runs: int
    best: dict[str, Any] | None  # best-MIG run: beta, seed, mig, run_id
    text: list[str]  # the sentences of the text summary


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
                listed = {
                    Path(info.path).name for info in mlflow_client.list_artifacts(run.run_id, ARTIFACT_DIRS["plot"])
                }
            except Exception:
                continue
            wanted = [name for name in RUN_FIGURES if name in listed]
            if not wanted:
                continue
            files = {}
            for name in wanted:
                local = _download(mlflow_client, run.run_id, figure_artifact(name), scratch / run.run_id)
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


def _draw_figures(rows: Sequence[BetaRow], runs: Sequence[RunRecord], work: Path, weight: str = "β") -> dict[str, str]:
    """The per-β figures; `weight` names the x axis where the rows are keyed by another objective's weight."""
    from pipeline.report import figures as rf

    betas = [row.beta for row in rows]
    means = {m: [row.stats[m].mean for row in rows] for m in METRICS}
    stds = {m: [row.stats[m].std for row in rows] for m in METRICS}
    intervals = {m: [(row.stats[m].low, row.stats[m].high) for row in rows] for m in METRICS}
    points = {m: [(r.beta, r.metric(m)) for r in runs if math.isfinite(r.metric(m))] for m in METRICS}
    figures: dict[str, str] = {}

    def save(key: str, fig: Any) -> None:
        relative = f"figures/{key}.png"
        if weight != "β":
            relabel_weight_axis(fig, weight)
        figure_files.save(fig, work / relative)
        figures[key] = relative

    if any(points[m] for m in ("elbo", "recon", "kl")):
        save("terms", rf.metric_against_beta(["elbo", "recon", "kl"], betas, means, stds, points, intervals=intervals))
    rd = [
        (r.beta, r.metric("recon"), r.metric("kl"))
        for r in runs
        if math.isfinite(r.metric("recon")) and math.isfinite(r.metric("kl"))
    ]
    if rd:
        save("rate_distortion", rf.rate_distortion(rd))
    for metric in ("mig", "active_units"):
        if points[metric]:
            save(
                metric,
                rf.metric_against_beta(
                    [metric], betas, means, stds, points, width_per_panel=5.6, height=4.2, intervals=intervals
                ),
            )
    for key, panels in SCORE_FIGURES.items():
        shown = [m for m in panels if points[m]]
        if shown:
            save(key, rf.metric_against_beta(shown, betas, means, stds, points, intervals=intervals))
    heat_betas, matrix, counts = kl_rank_matrix(rows)
    if heat_betas:
        save("kl_heatmap", rf.kl_rank_heatmap(heat_betas, matrix, counts))
    return figures


def _mutual_info_figure(
    mlflow_client: MlflowClient, best: RunRecord, work: Path, scratch: Path, weight: str = "β"
) -> tuple[str | None, str | None]:
    """(relative path of the MI heatmap, or None with a note why not)."""
    from pipeline.report import figures as rf

    local = _download(mlflow_client, best.run_id, DETAILS_ARTIFACT, scratch / "best")
    if local is None:
        return None, f"The best-MIG run ({best.run_id}) has no {DETAILS_ARTIFACT} artifact: no MI matrix."
    try:
        names, matrix = normalised_mutual_information(read_details(local, "the run's evaluation is incomplete"))
    except (OutputError, KeyError, TypeError, ValueError) as error:
        return None, f"{DETAILS_ARTIFACT} of run {best.run_id} is unreadable ({error}): no MI matrix."
    if not names:
        return None, f"No factor varies in run {best.run_id}'s evaluation data: no MI matrix."
    title = (
        "Normalised mutual information\n"
        f"best-MIG run: {weight} = {best.beta:g}, seed {best.seed} (MIG {best.metric('mig'):.3f})"
    )
    relative = "figures/mutual_info.png"
    figure_files.save(rf.mutual_information(names, matrix, title), work / relative)
    return relative, None


def _add_udr(mlflow_client: MlflowClient, runs: Sequence[RunRecord], scratch: Path) -> list[RunRecord]:
    """`runs` with UDR where a setting has 2 or more seeds, from each seed's eval/codes.npz artifact (a run
    without a readable one is left out of its setting); each new value is also logged to its MLflow run."""
    candidates = udr_candidates(runs)
    codes: dict[str, Codes] = {}
    for run in (run for members in candidates for run in members):
        (scratch / run.run_id).mkdir(parents=True, exist_ok=True)  # MLflow's HTTP client needs it to exist
        local = _download(mlflow_client, run.run_id, CODES_ARTIFACT, scratch / run.run_id)
        if local is not None:
            try:
                codes[run.run_id] = read_codes(local, "rerun its evaluate stage")
            except OutputError:
                continue
    scores = udr_scores(candidates, codes)
    logged = {run.run_id: run.metric(UDR) for run in runs}
    for run_id, value in scores.items():
        if not math.isclose(logged[run_id], value, rel_tol=1e-12):  # each report adds no repeated point
            mlflow_client.log_metric(run_id, UDR, value)
    return with_udr(runs, scores)


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


def _write_page(found: FoundRuns, runs: list[RunRecord], work: Path) -> tuple[list[str], RunRecord | None]:
    """One report page (index.html, summary.csv, figures) for `runs` into the folder `work`.

    Each objective (with its other settings) is its own section of the summary, the table and summary.csv,
    over its own weight; the objectives are compared side by side in their own figures, and the per-weight
    figures and images show the first section (β-VAE when present)."""
    mlflow_client = found.client
    groups = objective_groups(runs)
    sections = objective_sections(runs)
    if not sections:
        raise ReportError(f"no run of {found.filter_text} has its objective's weight param: nothing to place")
    primary = sections[0]
    all_runs, runs = runs, list(primary.runs)
    rows, best = list(primary.rows), primary.best
    sentences = section_sentences(sections)
    scratch = work / ".downloads"
    figures = _draw_figures(rows, runs, work, primary.weight)
    if len(sections) > 1 or any(run.objective != DEFAULT_OBJECTIVE for run in all_runs):
        figure_files.save(objectives_figure(groups), work / "figures/objectives.png")
        figures["objectives"] = "figures/objectives.png"
        heatmap = objectives_kl_heatmap(groups)
        if heatmap is not None:
            figure_files.save(heatmap, work / "figures/objectives_kl.png")
            figures["objectives_kl"] = "figures/objectives_kl.png"
    mi_note = "No run has a MIG metric, so there is no best-MIG run to show."
    if best is not None:
        mi_path, mi_note = _mutual_info_figure(mlflow_client, best, work, scratch, primary.weight)
        if mi_path:
            figures["mutual_info"] = mi_path
    run_images = _collect_run_images(mlflow_client, rows, work, scratch)
    shutil.rmtree(scratch, ignore_errors=True)

    with (work / SUMMARY_CSV).open("w", newline="") as handle:
        table = section_csv_rows(sections)
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
        found.filter_text,
        found.store,
        generated=datetime.now(UTC),
        skipped=found.skipped,
        mi_note=mi_note,
        primary_objective=primary.title if len(sections) > 1 else None,
        sections=sections,
        all_runs=all_runs,
        registered=[r for r in registered_versions(mlflow_client) if r.run_id in {run.run_id for run in all_runs}],
    )
    (work / INDEX).write_text(page, encoding="utf-8")
    return sentences, best


def build_report(
    root: Path,
    out_dir: Path,
    sweep: str | None = None,
    dataset: str | None = None,
    since: datetime | None = None,
) -> ReportResult:
    """Read the experiment's runs (optionally filtered) and write the report folder `out_dir` atomically.

    Runs of several (dataset, architecture, likelihood) groups get one page each, in a subfolder named
    after the group, and index.html links them: numbers are never averaged or plotted across groups."""
    root, out_dir = Path(root), Path(out_dir)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per image otherwise
    found = find_runs(root, sweep, dataset, since)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        runs = _add_udr(found.client, found.runs, work / ".codes")
        shutil.rmtree(work / ".codes", ignore_errors=True)
        groups = group_runs(runs)
        if len(groups) <= 1:
            sentences, best = _write_page(found, runs, work)
        else:
            pages = []
            sentences, best = [], None
            for group, runs in groups.items():
                folder = work / group_slug(group)
                folder.mkdir()
                group_sentences, group_best = _write_page(found, runs, folder)
                pages.append((group, len(runs), f"{folder.name}/{INDEX}"))
                sentences += [f"{' / '.join(group)}: {text}" for text in group_sentences]
                best = best or group_best
            (work / INDEX).write_text(render_group_index(pages, found.filter_text), encoding="utf-8")
            with (work / SUMMARY_CSV).open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["dataset", "arch", "likelihood", "n_runs", "summary_csv"])
                for group, n, page in pages:
                    writer.writerow([*group, n, page.replace(INDEX, SUMMARY_CSV)])
        for folder in (work, *work.iterdir()):
            if folder.is_dir():
                folder.chmod(0o755)  # mkdtemp makes 0700; the report folder should read like any other output
        _swap_in(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    best_info = (
        {"beta": best.beta, "seed": best.seed, "mig": best.metric("mig"), "run_id": best.run_id} if best else None
    )
    return ReportResult(out_dir / INDEX, out_dir / SUMMARY_CSV, len(found.runs), best_info, sentences)
