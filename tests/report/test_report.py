"""`vae-pipe report`: aggregation on constructed runs, then whole reports from a real MLflow store.

The store holds two sweeps logged through `ModelRun` exactly as the stages log:
- "main": β ∈ {0, 1, 4} × seeds {0, 1}, plus a second β=1 seed-0 run with another learning rate; values
  chosen so every mean/std is checkable by hand (see MAIN) and every trend is monotone;
- "bumpy", logged later: β ∈ {0, 1, 4}, seed 0, where KL is not monotone and MIG peaks at β=0.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import time
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.errors import ReportError
from pipeline.core.params import parse_params
from pipeline.core.paths import Figure, Outputs
from pipeline.report.build import build_report
from pipeline.report.data import RunRecord, aggregate, best_run, kl_rank_matrix, normalised_mutual_information
from pipeline.report.html import RUN_FIGURES
from pipeline.report.runs import mlflow_filter
from pipeline.report.sentences import summary_sentences, trend
from pipeline.stages import plotting
from pipeline.tracking.record import ARTIFACT_DIRS
from pipeline.tracking.store import SWEEP_TAG, ModelRun
from tests.browser import evaluate, image_widths, open_page, require_chromium, screenshot

# (beta, seed, lr, kl, recon, mig, active_units); elbo = -(recon + kl)
MAIN = [
    (0.0, 0, 5e-4, 30.0, 20.0, 0.10, 10),
    (0.0, 1, 5e-4, 32.0, 22.0, 0.14, 10),
    (1.0, 0, 5e-4, 20.0, 30.0, 0.20, 8),
    (1.0, 1, 5e-4, 24.0, 30.0, 0.30, 6),
    (1.0, 0, 1e-3, 22.0, 30.0, 0.25, 7),  # same β and seed, other lr: still aggregated under β=1
    (4.0, 0, 5e-4, 10.0, 50.0, 0.40, 4),  # best MIG; has eval/details.json but no plots
    (4.0, 1, 5e-4, 12.0, 54.0, 0.36, 4),
]
BUMPY = [
    (0.0, 0, 5e-4, 30.0, 50.0, 0.30, 9),
    (1.0, 0, 5e-4, 35.0, 40.0, 0.20, 9),
    (4.0, 0, 5e-4, 10.0, 30.0, 0.10, 3),
]
FACTORS = ["color", "shape", "scale", "orientation", "posX", "posY"]
ENTROPY = [0.0, math.log(3), math.log(6), 3.6, 3.4, 3.4]
N_DIMS = 6


def kl_dims(kl: float, beta: float, seed: int) -> dict[str, float]:
    """KL split over N_DIMS dimensions (summing to kl), in a seed-dependent order."""
    weights = np.arange(N_DIMS, 0, -1, dtype=float) ** (1 + beta / 2)
    values = np.roll(kl * weights / weights.sum(), seed + 1)
    return {f"kl_dim.z{i}": float(v) for i, v in enumerate(values)}


def details(best_latent_per_factor: dict[str, int]) -> dict:
    mi = np.full((N_DIMS, len(FACTORS)), 0.05)
    for k, name in enumerate(FACTORS):
        mi[:, k] *= ENTROPY[k]
        if name in best_latent_per_factor:
            mi[best_latent_per_factor[name], k] = 0.8 * ENTROPY[k]
    return {"factor_names": FACTORS, "factor_entropy": ENTROPY, "mutual_info": mi.tolist()}


def sprites(n: int, rng: np.random.Generator) -> np.ndarray:
    images = np.zeros((n, 64, 64))
    yy, xx = np.mgrid[:64, :64]
    for image in images:
        cy, cx, r = rng.integers(16, 48), rng.integers(16, 48), rng.integers(5, 12)
        if rng.random() < 0.5:
            image[(abs(yy - cy) < r) & (abs(xx - cx) < r)] = 1
        else:
            image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 1
    return images


def real_looking_plots(folder: Path, beta: float) -> list[Path]:
    """The three per-run figures drawn by the real plotting code, on synthetic sprites."""
    rng = np.random.default_rng(int(beta * 10))
    folder.mkdir(parents=True)
    originals = sprites(6, rng)
    figures = {
        Figure.RECONSTRUCTIONS: plotting.reconstructions(originals, np.clip(originals * 0.8 + 0.1, 0, 1), beta),
        Figure.SAMPLES: plotting.samples(sprites(16, rng), beta),
        Figure.TRAVERSALS: plotting.traversals(
            sprites(N_DIMS * 5, rng).reshape(N_DIMS, 5, 64, 64),
            list(range(N_DIMS)),
            [1.0] * N_DIMS,
            np.linspace(-2, 2, 5),
            beta,
        ),
    }
    for name, fig in figures.items():
        plotting.save(fig, folder / name)
    return [folder / name for name in figures]


def tiny_plots(folder: Path, width: int) -> list[Path]:
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True)
    paths = [folder / name for name in RUN_FIGURES]
    for path in paths:
        plt.imsave(path, np.linspace(0, 1, 8 * width).reshape(8, width))
    return paths


def log_run(root: Path, sweep: str, row: tuple, plots: list[Path] | None, extra: dict | None = None) -> str:
    beta, seed, lr, kl, recon, mig, active = row
    params = parse_params({"beta": beta, "seed": seed, "train": {"lr": lr}})
    name = f"{sweep}-b{beta:g}-s{seed}-lr{lr:g}"
    run = ModelRun.open(root, f"digest-{name}", params, {"dvc.exp_name": f"exp-{name}"})
    run.add_to_sweep(sweep)
    run.log_metrics(
        {"elbo": -(recon + kl), "recon": recon, "kl": kl, "mig": mig, "active_units": active, **kl_dims(kl, beta, seed)}
    )
    if plots:
        run.log_artifacts(plots, ARTIFACT_DIRS["plot"])
    if extra:
        path = Outputs(root / "staging" / name).details
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(extra))
        run.log_artifacts([path], ARTIFACT_DIRS["evaluate"])
    return run.run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A real MLflow store (SQLite at the root) with the MAIN and BUMPY sweeps; run ids by (sweep, row)."""
    root = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        staging = root / "staging"
        plots = {beta: real_looking_plots(staging / f"plots-{beta:g}", beta) for beta in (0.0, 1.0)}
        seed1 = {beta: tiny_plots(staging / f"tiny-{beta:g}", 10 + int(beta)) for beta in (0.0, 1.0, 4.0)}
        ids = {}
        for row in MAIN:
            beta, seed, lr = row[:3]
            if seed == 0 and lr == 5e-4 and beta in plots:
                shown = plots[beta]
            elif seed == 1:
                shown = seed1[beta]
            else:
                shown = None  # β=4 seed 0 and the duplicate β=1 seed 0 have no plots
            extra = (
                details({"shape": 2, "scale": 0, "orientation": 3, "posX": 1, "posY": 4})
                if beta == 4 and seed == 0
                else None
            )
            ids[("main", row)] = log_run(root, "main", row, shown, extra)
        time.sleep(0.05)
        cut = datetime.now()
        time.sleep(0.05)
        for row in BUMPY:
            ids[("bumpy", row)] = log_run(root, "bumpy", row, seed1[row[0]])
    return {"root": root, "ids": ids, "cut": cut, "plots": plots, "seed1": seed1}


@pytest.fixture(autouse=True)
def default_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def parse(index: Path) -> _Images:
    parser = _Images()
    parser.feed(index.read_text())
    return parser


def read_csv(path: Path) -> dict[float, dict[str, str]]:
    with path.open() as handle:
        return {float(row["beta"]): row for row in csv.DictReader(handle)}


# ------------------------------------------------------------------------------------ pure functions


def record(beta, seed, **metrics) -> RunRecord:
    return RunRecord(
        run_id=f"r-{beta}-{seed}-{len(metrics)}-{sorted(metrics.items())}", beta=beta, seed=seed, metrics=metrics
    )


def test_aggregate_means_stds_and_shared_seeds():
    runs = [record(b, s, kl=kl, recon=rc, mig=m) for b, s, _, kl, rc, m, _ in MAIN]
    rows = aggregate(runs)
    assert [row.beta for row in rows] == [0.0, 1.0, 4.0]
    one = rows[1]
    assert (one.n_runs, one.seeds) == (3, (0, 1))
    assert one.stats["kl"].mean == pytest.approx(22.0) and one.stats["kl"].std == pytest.approx(2.0)
    assert one.stats["mig"].mean == pytest.approx(0.25) and one.stats["mig"].std == pytest.approx(0.05)
    assert rows[0].stats["recon"].std == pytest.approx(math.sqrt(2))  # sample std (ddof 1)
    assert rows[0].stats["elbo"].n == 0 and math.isnan(rows[0].stats["elbo"].mean)  # no run has it
    single = aggregate([record(2.0, 0, kl=5.0)])[0].stats["kl"]
    assert (single.mean, single.n) == (5.0, 1) and math.isnan(single.std)
    best = best_run(runs)
    assert (best.beta, best.seed, best.metrics["mig"]) == (4.0, 0, 0.40)
    assert best_run([record(1.0, 0, kl=1.0)]) is None


def test_sentences_state_what_the_data_shows():
    rising = aggregate(
        [record(b, 0, kl=k, recon=r, mig=m) for b, k, r, m in [(0, 9, 1, 0.1), (2, 5, 2, 0.5), (8, 1, 3, 0.2)]]
    )
    text = " ".join(summary_sentences(rising, None))
    assert "KL falls from 9.0 nats at β=0 to 1.0 nats at β=8 (monotone: yes)." in text
    assert "Reconstruction error rises from 1.0 nats at β=0 to 3.0 nats at β=8 (monotone: yes)." in text
    assert "MIG peaks at β=2 (0.500, n=1) vs 0.100 at β=0." in text  # no β=1: compared with the smallest β

    bumpy = aggregate([record(b, 0, kl=k, active_units=a) for b, k, a in [(0, 4, 3), (1, 6, 3), (4, 2, 5), (8, 9, 3)]])
    kl = trend(bumpy, "kl")
    assert (kl.direction, kl.monotone, kl.against, kl.against_size, kl.within_spread) == (
        "rises",
        False,
        (1.0, 4.0),
        4.0,
        None,
    )
    text = summary_sentences(bumpy, None)
    assert (
        "KL rises from 4.0 nats at β=0 to 9.0 nats at β=8 (monotone: no; it falls by 4.0 nats between β=1 and β=4)."
        in text
    )
    assert (
        "Active units end where they start: 3 at β=0 and at β=8 (monotone: no; they change by 2 between β=1 and β=4)."
        in text
    )
    assert "No run has a MIG metric yet (run the evaluate stage)." in text

    noisy = aggregate(
        [record(b, s, kl=k) for b, s, k in [(0, 0, 10), (0, 1, 12), (1, 0, 11.5), (1, 1, 12.5), (4, 0, 2), (4, 1, 2)]]
    )
    assert (
        "KL falls from 11.0 nats at β=0 to 2.0 nats at β=4 (monotone: no; it rises by 1.0 nats between β=0 and β=1, "
        "less than the spread over seeds)." in summary_sentences(noisy, None)
    )

    lone = summary_sentences(aggregate([record(4.0, 0, kl=1.0, mig=0.3)]), None)
    assert any("no trend across β" in s for s in lone) and not any("KL" in s for s in lone)


def test_kl_heatmap_sorts_each_run_before_averaging():
    rows = aggregate(
        [
            record(1.0, 0, **{"kl_dim.z0": 1.0, "kl_dim.z1": 5.0, "kl_dim.z2": 3.0}),
            record(1.0, 1, **{"kl_dim.z0": 7.0, "kl_dim.z1": 1.0, "kl_dim.z2": 1.0}),
            record(4.0, 0, **{"kl_dim.z0": 2.0, "kl_dim.z1": 0.0}),
            record(8.0, 0, kl=1.0),  # no per-dimension KL: no row
        ]
    )
    betas, matrix, counts = kl_rank_matrix(rows)
    assert betas == [1.0, 4.0] and counts == [2, 1]
    np.testing.assert_allclose(matrix[0], [6.0, 2.0, 1.0])
    np.testing.assert_allclose(matrix[1, :2], [2.0, 0.0])
    assert math.isnan(matrix[1, 2])


def test_mutual_information_is_normalised_per_factor_without_constant_factors():
    names, matrix = normalised_mutual_information(details({"shape": 2, "posX": 1}))
    assert names == FACTORS[1:]  # color has zero entropy
    assert matrix.shape == (5, N_DIMS)
    assert matrix[0, 2] == pytest.approx(0.8) and matrix[0, 0] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="does not match"):
        normalised_mutual_information({"factor_names": ["a"], "factor_entropy": [1.0, 2.0], "mutual_info": [[1.0]]})


def test_filters_use_mlflow_syntax():
    since = datetime(2024, 5, 1, 12, 0, 0).astimezone()
    text = mlflow_filter("s1", "dsprites", since)
    assert text == (
        "tags.`vae_pipe.sweep.s1` = 'true' and params.`data.dataset` = 'dsprites' "
        f"and attributes.start_time >= {int(since.timestamp() * 1000)}"
    )
    assert mlflow_filter() == ""
    with pytest.raises(ReportError, match="quotes"):
        mlflow_filter(sweep="it's")
    with pytest.raises(ReportError, match="not a sweep name"):
        mlflow_filter(sweep="a b")
    assert mlflow_filter("s1", legacy=True) == f"tags.`{SWEEP_TAG}` = 's1'"  # runs recorded before member tags


def test_the_arithmetic_imports_no_mlflow():
    """report_data stays pure: MLflow runs become RunRecords in report_runs, not here."""
    check = "import sys, pipeline.report.data; print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------ real MLflow store


def test_report_of_a_sweep(store, tmp_path):
    out = tmp_path / "reports"
    result = build_report(store["root"], out, sweep="main")

    assert result.index == out / "index.html" and result.summary_csv == out / "summary.csv"
    assert result.n_runs == len(MAIN)
    assert result.best == {"beta": 4.0, "seed": 0, "mig": 0.40, "run_id": store["ids"][("main", MAIN[5])]}

    table = read_csv(result.summary_csv)
    assert sorted(table) == [0.0, 1.0, 4.0]
    zero, one, four = table[0.0], table[1.0], table[4.0]
    assert (one["n_runs"], one["n_seeds"], one["seeds"]) == ("3", "2", "0;1")
    assert float(one["kl_mean"]) == pytest.approx(22.0) and float(one["kl_std"]) == pytest.approx(2.0)
    assert float(one["active_units_mean"]) == pytest.approx(7.0) and float(one["active_units_std"]) == pytest.approx(
        1.0
    )
    assert float(one["recon_std"]) == 0.0
    assert float(zero["elbo_mean"]) == pytest.approx(-52.0) and float(zero["elbo_std"]) == pytest.approx(
        2 * math.sqrt(2)
    )
    assert float(four["mig_mean"]) == pytest.approx(0.38) and float(four["mig_std"]) == pytest.approx(
        0.02 * math.sqrt(2)
    )
    assert float(four["recon_mean"]) == pytest.approx(52.0) and four["recon_n"] == "2"

    text = result.text
    assert "KL falls from 31.0 nats at β=0 to 11.0 nats at β=4 (monotone: yes)." in text
    assert "Reconstruction error rises from 21.0 nats at β=0 to 52.0 nats at β=4 (monotone: yes)." in text
    assert "Active units fall from 10 at β=0 to 4 at β=4 (monotone: yes)." in text
    assert "MIG peaks at β=4 (0.380 ± 0.028, n=2) vs 0.250 at β=1." in text
    assert any("β=1 has 3 runs over 2 seed(s)" in s for s in text)

    page = result.index.read_text()
    parsed = parse(result.index)
    assert not parsed.tags & {"script", "link", "iframe"}  # self-contained: no JS, no external CSS
    assert parsed.sources and all(not src.startswith(("/", "http:", "https:", "file:")) for src in parsed.sources)
    for src in parsed.sources:
        assert (out / src).is_file() and (out / src).resolve().is_relative_to(out.resolve()), src
    for key in ("terms", "rate_distortion", "mig", "active_units", "kl_heatmap", "mutual_info"):
        assert f"figures/{key}.png" in parsed.sources
    for (sweep, row), run_id in store["ids"].items():
        if sweep == "main":
            name = f"exp-main-b{row[0]:g}-s{row[1]}-lr{row[2]:g}"
            assert run_id in page and name in page
    assert "bumpy" not in page

    # Per β the lowest seed's images; β=4 seed 0 has none, so seed 1's are shown.
    beta0 = out / "runs" / "beta_0"
    assert (beta0 / "samples.png").read_bytes() == (store["plots"][0.0][1]).read_bytes()
    assert (out / "runs" / "beta_4" / "traversals.png").read_bytes() == store["seed1"][4.0][2].read_bytes()
    assert not (out / ".downloads").exists() and not list(out.parent.glob(".reports.*"))


def test_filters_on_a_real_store(store, tmp_path):
    root = store["root"]
    bumpy = build_report(root, tmp_path / "bumpy", sweep="bumpy")
    assert bumpy.n_runs == 3
    assert (
        "KL falls from 30.0 nats at β=0 to 10.0 nats at β=4 (monotone: no; it rises by 5.0 nats between β=0 and β=1)."
        in bumpy.text
    )
    assert "Reconstruction error falls from 50.0 nats at β=0 to 30.0 nats at β=4 (monotone: yes)." in bumpy.text
    assert "MIG peaks at β=0 (0.300, n=1) vs 0.200 at β=1." in bumpy.text
    assert bumpy.best["run_id"] == store["ids"][("bumpy", BUMPY[0])]
    assert "has no eval/details.json artifact" in bumpy.index.read_text()

    since = build_report(root, tmp_path / "since", since=store["cut"])
    assert since.n_runs == 3 and since.best == bumpy.best
    assert "started since" in since.index.read_text()

    everything = build_report(root, tmp_path / "all", dataset="dsprites")
    assert everything.n_runs == len(MAIN) + len(BUMPY)
    assert read_csv(everything.summary_csv)[1.0]["n_runs"] == "4"

    for kwargs in ({"sweep": "nope"}, {"dataset": "mnist"}, {"sweep": "main", "since": store["cut"]}):
        with pytest.raises(ReportError, match="no MLflow run matches"):
            build_report(root, tmp_path / "none", **kwargs)
    assert not (tmp_path / "none").exists()


def test_a_failed_build_keeps_the_previous_report(store, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    build_report(store["root"], out, sweep="bumpy")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    with pytest.raises(ReportError):
        build_report(store["root"], out, sweep="nope")

    from pipeline.report import figures as report_figures

    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(report_figures, "rate_distortion", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        build_report(store["root"], out, sweep="main")

    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # no temp folders left behind


def test_no_store_is_a_one_line_error(tmp_path):
    with pytest.raises(ReportError, match="no MLflow store") as error:
        build_report(tmp_path, tmp_path / "reports")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "mlflow.db").exists()


SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> Path:
    """index.html of a run whose name, tags, dataset param and sweep name are all `SCRIPT`."""
    from pipeline.tracking.store import client, experiment_id

    root = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mlflow_client = client(root)
        run = mlflow_client.create_run(
            experiment_id(mlflow_client, root), run_name=SCRIPT, tags={SWEEP_TAG: SCRIPT, "dvc.exp_name": SCRIPT}
        )
        for key, value in {"beta": "1.0", "seed": "0", "data.dataset": SCRIPT}.items():
            mlflow_client.log_param(run.info.run_id, key, value)
        mlflow_client.log_metric(run.info.run_id, "mig", 0.5)
        return build_report(root, root / "reports", dataset=SCRIPT).index


def test_values_from_runs_are_text_not_markup(hostile_report):
    page = hostile_report.read_text()
    parsed = parse(hostile_report)
    assert "script" not in parsed.tags and "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert page.count(escaped) >= 4  # the filter line, the dataset, sweep and DVC experiment cells


@pytest.mark.browser
def test_values_from_runs_show_as_text_in_a_browser(hostile_report):
    chromium = require_chromium()
    with open_page(chromium, hostile_report.as_uri()) as page:
        scripts = evaluate(page, "document.scripts.length")
        text = evaluate(page, "document.body.innerText")
    assert scripts == 0
    assert text.count(SCRIPT) >= 4


@pytest.mark.browser
def test_report_renders_in_a_browser(store, tmp_path):
    chromium = require_chromium()
    result = build_report(store["root"], tmp_path / "reports", sweep="main")
    n_images = len(parse(result.index).sources)

    widths = image_widths(chromium, result.index.as_uri())
    assert len(widths) == n_images and all(width > 0 for width in widths), widths

    shot = screenshot(chromium, result.index.as_uri(), tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
def test_browser_check_sees_a_broken_image(tmp_path):
    chromium = require_chromium()
    (tmp_path / "page.html").write_text('<html><body><img src="missing.png"><p>text</p></body></html>')
    assert image_widths(chromium, (tmp_path / "page.html").as_uri()) == [0]


def test_a_sweep_recorded_before_runs_had_member_tags_is_still_found(tmp_path, monkeypatch):
    from pipeline.report.runs import find_runs

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ModelRun.open(tmp_path, "digest-old", parse_params({"beta": 2.0}), {SWEEP_TAG: "old"})  # the earlier tagging
    ModelRun.open(tmp_path, "digest-new", parse_params({"beta": 4.0})).add_to_sweep("old")
    ModelRun.open(tmp_path, "digest-other", parse_params({"beta": 8.0})).add_to_sweep("other")
    assert sorted(run.beta for run in find_runs(tmp_path, sweep="old").runs) == [2.0, 4.0]
