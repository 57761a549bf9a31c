"""`python -m pipeline.stages STAGE`: how dvc.yaml runs the stages. A queued experiment executes the code of
its own copy of the repository (the current directory comes first on sys.path), and only the stage's own
modules are imported, which is what tests/test_dvc_deps.py checks dvc.yaml's deps against."""

import sys
import time

from pipeline.core import timings
from pipeline.stages.entry import STAGES, stage_app

if timings.enabled():  # benchmarks/sweep.py: a stage process's start-up, imports and whole life
    started = timings.process_start()
    timings.record("startup", started, time.time() - started)
    stage = sys.argv[1] if sys.argv[1:2] and sys.argv[1] in STAGES else None
    with timings.phase("imports"):  # what the stage imports anyway, timed here as one phase
        if stage in ("train", "evaluate", "plot"):  # they log to MLflow and key runs by DVC's view of the inputs
            import dvc.repo  # noqa: F401
            import mlflow  # noqa: F401
        if stage:
            __import__(f"pipeline.stages.{stage}")

try:
    stage_app()(prog_name="python -m pipeline.stages")
finally:
    if timings.enabled():
        timings.record("process", started, time.time() - started, time.process_time())
