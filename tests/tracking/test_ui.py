"""`vae-pipe ui`: the MLflow UI on a loopback port over the project's store, checked through its REST API
and in a real headless browser."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.core.catalogue import FACTOR_SCORES
from pipeline.core.params import parse_params
from pipeline.tracking.store import EXPERIMENT_NAME, ModelRun
from pipeline.tracking.ui import PARALLEL_METRICS, PARALLEL_PARAMS, SCATTER_METRICS
from testkit.project import project_env
from tests.browser import evaluate, open_page, require_chromium

pytestmark = pytest.mark.e2e

CHARTS_VIEWPORT = (1600, 2200)  # CSS px: tall enough for every chart of the saved view at once
CHARTS_WAIT_S = 60  # all drawn 4-7 s after the load event on 2 busy cores (see docs/report.md): slack for CI

# Every chart card on the charts page: its title, the points of a scatter chart (plotly), the axis names of
# a parallel-coordinates chart (d3 parcoords; a truncated name keeps the full one in its tooltip) and
# whether its lines are drawn (opaque pixels on the foreground canvas). MLflow mounts and draws a card only
# once it is in view: each poll scrolls the first card not drawn yet into view, or, when all mounted cards
# are drawn, the last one to the top, so the cards below it mount (a fallback to the tall viewport; cards
# scrolled out of view unmount, so each card is kept as last seen drawn, in the order first seen).
_CHART_CARDS = """() => {
  const cards = Array.from(document.querySelectorAll('[data-testid="experiment-view-compare-runs-card"]'),
    card => {
      const title = card.querySelector('h4');
      const axes = Array.from(card.querySelectorAll('.parcoords g.dimension'), dim => {
        const full = dim.querySelector('.axis-label-tooltip text') || dim.querySelector('text.label');
        return full ? full.textContent : '';
      });
      const canvas = card.querySelector('.parcoords canvas.foreground');
      let inked = false;
      if (canvas && canvas.width && canvas.height) {
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < pixels.length && !inked; i += 4) inked = pixels[i] > 0;
      }
      return {title: title ? title.textContent : '', points: card.querySelectorAll('.scatterlayer .point').length,
              axes, inked, card};
    });
  const blank = cards.find(c => !(c.points > 0 || c.inked));
  if (blank) blank.card.scrollIntoView({block: 'center'});
  else if (cards.length) cards[cards.length - 1].card.scrollIntoView({block: 'start'});
  return cards.map(({card, ...rest}) => rest);
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, payload: dict | None = None) -> dict | str:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read().decode()
    return json.loads(body) if body.startswith("{") else body


def _wait_until_up(url: str, server: subprocess.Popen, log: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"vae-pipe ui exited {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if _get(url) == "OK":
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"vae-pipe ui did not answer {url} within {seconds} s:\n{log.read_text()[-3000:]}")


def _drawn(card: dict) -> bool:
    return bool(card["points"] or card["inked"])


def _all_drawn(seen: dict[str, dict]) -> bool:
    return len(seen) == 1 + len(SCATTER_METRICS) and all(map(_drawn, seen.values()))


def _assert_charts(cards: list[dict]) -> None:
    """The saved view's charts, each drawn: the parallel-coordinates chart (β, seed → ELBO and every score,
    a line per run that has them all) and β against each score (a point per run that has the score)."""
    titles = [card["title"] for card in cards]
    expected = ["Parallel Coordinates", *(f"beta vs. {metric}" for metric in SCATTER_METRICS)]
    undrawn = [card["title"] for card in cards if not _drawn(card)]
    assert titles == expected, f"charts not shown: {sorted(set(expected) - set(titles))}; shown: {titles}"
    assert not undrawn, f"charts shown but not drawn within {CHARTS_WAIT_S} s: {undrawn}"
    parallel, *scatters = cards
    assert parallel["axes"] == [*PARALLEL_PARAMS, *PARALLEL_METRICS] and parallel["inked"], parallel
    assert all(card["points"] == 2 for card in scatters), scatters


def test_ui_serves_the_sweep_runs(tmp_path, monkeypatch):
    chromium = require_chromium()
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    for name in ("MLFLOW_TRACKING_URI", "DVC_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for beta in (1.0, 4.0):  # every score, as evaluate logs on a data set with factors
        params = parse_params({"beta": beta})
        run = ModelRun.open(root, f"digest-{beta}", params)
        run.add_to_sweep("ui-test")
        run.log_metrics(
            {"mig": beta / 10, "elbo": -100 - beta}
            | {k: beta / 8 + i / 100 for i, k in enumerate(("iwae", *FACTOR_SCORES[1:]))}
        )
    ModelRun.open(root, "digest-other", parse_params({"beta": 2.0}))

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "ui.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["vae-pipe", "ui", "--port", str(port)],
            cwd=root,
            env=project_env(root),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(f"{base}/health", server, log)
        experiment = _get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name={EXPERIMENT_NAME}")
        exp_id = experiment["experiment"]["experiment_id"]
        found = _get(
            f"{base}/api/2.0/mlflow/runs/search",
            {"experiment_ids": [exp_id], "filter": "tags.`vae_pipe.sweep.ui-test` = 'true'"},
        )
        betas = sorted(next(p["value"] for p in run["data"]["params"] if p["key"] == "beta") for run in found["runs"])
        assert betas == ["1.0", "4.0"]

        with open_page(chromium, f"{base}/#/experiments/{exp_id}/runs", timeout=120) as page:
            deadline, text = time.monotonic() + 60, ""
            while time.monotonic() < deadline and not ("beta=1 seed=0" in text and "beta=4 seed=0" in text):
                time.sleep(1)
                text = evaluate(page, "document.body.innerText")
            page.screenshot(path=tmp_path / "mlflow-ui.png")
        assert "beta=1 seed=0" in text and "beta=4 seed=0" in text, text[:2000]

        # The addresses `vae-pipe ui` prints: the saved view's columns and sort, then its charts.
        printed = dict(line.split(": http", 1) for line in log.read_text().splitlines() if ": http" in line)
        table, charts = ("http" + printed[key] for key in printed if key.startswith(("Runs table", "Charts")))
        assert "workflowType=machine_learning" in table and "compareRunsMode=CHART" in charts
        with open_page(chromium, table, width=1600, timeout=120) as page:
            wanted = ("Sort: mig", "Model training", "beta_vae", "dci_disentanglement")
            deadline, text = time.monotonic() + 90, ""
            while time.monotonic() < deadline and not all(word in text for word in wanted):
                time.sleep(1)
                text = evaluate(page, "document.body.innerText")
            page.screenshot(path=tmp_path / "mlflow-runs-table.png")
        assert all(word in text for word in wanted), (table, text[:3000])

        width, height = CHARTS_VIEWPORT
        with open_page(chromium, charts, width=width, height=height, timeout=120) as page:
            started, seen = time.monotonic(), {}
            while time.monotonic() < started + CHARTS_WAIT_S and not _all_drawn(seen):
                time.sleep(1)
                for card in evaluate(page, _CHART_CARDS):
                    if _drawn(card) or card["title"] not in seen:
                        seen[card["title"]] = card
            drawn_s = time.monotonic() - started
            shot = page.screenshot(path=tmp_path / "mlflow-charts.png")
        print(f"charts drawn {drawn_s:.1f} s after the page's load event")
        _assert_charts(list(seen.values()))
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "mlflow-charts.png").stat().st_size > 0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
