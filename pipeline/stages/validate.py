"""Stage `validate`: params.yaml checked as a whole before DVC runs any other stage, and so before DVC deletes
any stage's outputs. dvc.yaml tracks every param of the file for this stage alone, so an edit that no other
stage declares (`betta: 8`, `dvc exp run -S +betta=8`) runs it too and is refused. Its output never changes,
so a valid edit reruns nothing downstream by itself: every other stage depends on that output."""

from __future__ import annotations

from pipeline.core.params import Params
from pipeline.core.paths import Outputs, write_text_atomic

VALID = "params.yaml is valid. Every stage depends on this file (dvc.yaml), so no stage runs on invalid params.\n"


def main(params: Params, out: Outputs) -> list[str]:
    """The params were validated before this runs (pipeline/stages/entry.py); only the mark is left to write."""
    write_text_atomic(out.params_valid, VALID)
    return [f"validate: params valid → {out.params_valid.relative_to(out.root)}"]
