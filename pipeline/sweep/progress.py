"""How far each running grid point's training is, read from MLflow while it trains: the train stage logs
every curve point (step, terms, images/s) into the experiment's run as it goes, tagged with the DVC
experiment's name. `vae-pipe sweep` prints this about once a minute when its output is not a terminal (CI
logs, nohup, batch jobs), where the live table cannot be drawn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.tracking.record import CURVE_PREFIX
from pipeline.tracking.store import EXP_NAME_TAG

IMAGES_PER_S = CURVE_PREFIX + "images_per_s"


@dataclass(frozen=True)
class Training:
    step: int
    steps: int
    images_per_s: float
    batch_size: int
    finished: bool = False  # the training ended; the point is evaluating or plotting

    @property
    def eta_s(self) -> float:
        """Seconds of training left at the latest speed (evaluation and plots come after)."""
        return max(self.steps - self.step, 0) * self.batch_size / max(self.images_per_s, 1e-9)

    def describe(self) -> str:
        if self.finished:
            return f"trained {self.step:,} steps at {self.images_per_s:,.0f} images/s, evaluating"
        return f"step {self.step:,}/{self.steps:,}, {self.images_per_s:,.0f} images/s, training eta {self.eta_s:,.0f} s"


def running_trainings(root: Path, names: set[str]) -> dict[str, Training]:
    """{DVC experiment name: its training's latest curve point} for the points among `names` whose MLflow
    run (tagged with the experiment's name) has logged one; one query per point."""
    from pipeline.tracking.store import EXPERIMENT_NAME, client

    mlflow_client = client(root)
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None or not names:
        return {}
    found = {}
    for name in sorted(names):
        runs = mlflow_client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{EXP_NAME_TAG}` = '{name}'",  # experiment names are [a-z0-9-]
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if not runs:
            continue
        run = runs[0]
        history = mlflow_client.get_metric_history(run.info.run_id, IMAGES_PER_S)
        if not history:
            continue
        last = max(history, key=lambda metric: metric.step)
        params = run.data.params
        steps, batch = int(params["train.steps"]), int(params["train.batch_size"])
        found[name] = Training(last.step, steps, last.value, batch, finished=run.info.status != "RUNNING")
    return found
