"""How far each running grid point's training is, read from MLflow while it trains: the train stage logs
every curve point (step, terms, images/s) into the experiment's run as it goes, tagged with the DVC
experiment's name. `vae-pipe sweep` prints this about once a minute when its output is not a terminal (CI
logs, nohup, batch jobs), where the live table cannot be drawn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.record import CURVE_PREFIX

IMAGES_PER_S = CURVE_PREFIX + "images_per_s"
EXP_NAME_TAG = "dvc.exp_name"


@dataclass(frozen=True)
class Training:
    step: int
    steps: int
    images_per_s: float
    batch_size: int

    @property
    def eta_s(self) -> float:
        """Seconds of training left at the latest speed (evaluation and plots come after)."""
        return max(self.steps - self.step, 0) * self.batch_size / max(self.images_per_s, 1e-9)

    def describe(self) -> str:
        return f"step {self.step:,}/{self.steps:,}, {self.images_per_s:,.0f} images/s, training eta {self.eta_s:,.0f} s"


def running_trainings(root: Path, names: set[str]) -> dict[str, Training]:
    """{DVC experiment name: its training's latest curve point} for the RUNNING MLflow runs among
    `names` that have logged one."""
    from pipeline.tracking import EXPERIMENT_NAME, client

    mlflow_client = client(root)
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None or not names:
        return {}
    runs = mlflow_client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'RUNNING'")
    found = {}
    for run in runs:
        name = run.data.tags.get(EXP_NAME_TAG)
        if name not in names:
            continue
        history = mlflow_client.get_metric_history(run.info.run_id, IMAGES_PER_S)
        if not history:
            continue
        last = max(history, key=lambda metric: metric.step)
        params = run.data.params
        found[name] = Training(last.step, int(params["train.steps"]), last.value, int(params["train.batch_size"]))
    return found
