"""`python -m pipeline STAGE`: how dvc.yaml runs the stages, so that a queued experiment executes the
code of its own copy of the repository (the current directory comes first on sys.path), not whatever
the installed package points at."""

from pipeline.cli import app

app(prog_name="vae-pipe")
