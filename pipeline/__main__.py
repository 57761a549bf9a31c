"""`python -m pipeline`: the `vae-pipe` command (stages run as `python -m pipeline.stages STAGE`)."""

from pipeline.cli import app

app(prog_name="vae-pipe")
