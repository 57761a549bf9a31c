"""`python -m pipeline STAGE`: how dvc.yaml runs the stages, so that a queued experiment executes the
code of its own copy of the repository (the current directory comes first on sys.path), not whatever
the installed package points at."""

import sys
import time

from pipeline import timings

if timings.enabled():  # benchmarks/sweep.py: a stage process's start-up, imports and whole life
    started = timings.process_start()
    timings.record("startup", started, time.time() - started)
    stage = sys.argv[1] if sys.argv[1:2] and sys.argv[1] in ("prepare", "train", "evaluate", "plot") else None
    with timings.phase("imports"):  # what the stage imports anyway, timed here as one phase
        if stage in ("train", "evaluate", "plot"):  # they log to MLflow and key runs by DVC's view of the inputs
            import dvc.repo  # noqa: F401
            import mlflow  # noqa: F401
        if stage:
            __import__(f"pipeline.stages.{stage}")

from pipeline.cli import app

try:
    app(prog_name="vae-pipe")
finally:
    if timings.enabled():
        timings.record("process", started, time.time() - started, time.process_time())
