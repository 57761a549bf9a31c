"""1. Dataset preparation: the full dSprites rendered and written, each repeat in a fresh process."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from benchmarks.harness.children import run_child
from benchmarks.harness.machine import maxrss_self_mb, rss_now_mb
from benchmarks.harness.plan import MB, Plan
from benchmarks.harness.results import Out, Results, median


def child_prepare(args: dict[str, Any]) -> dict[str, Any]:
    from vae import dsprites

    rss0 = rss_now_mb()
    indices = None if args["rows"] is None else dsprites.subsample_indices(dsprites.N_IMAGES, args["rows"], 0)
    start = time.perf_counter()
    rows = dsprites.write_dsprites(Path(args["path"]), indices)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows": rows,
        "bytes": os.path.getsize(args["path"]),
        "rss_after_imports_mb": rss0,
        "self_peak_rss_mb": maxrss_self_mb(),
    }


def bench_prepare(plan: Plan, work: Path, out: Out, res: Results) -> Path:
    path = work / "dsprites.npz"
    runs = []
    for r in range(plan.repeats):
        out.progress(f"prepare: write_dsprites in a fresh process, {r + 1}/{plan.repeats}")
        result, wall, peak = run_child("prepare", {"path": str(path), "rows": plan.prepare_rows})
        runs.append(dict(result, wall_s=wall, peak_rss_mb=peak))
    rows = runs[0]["rows"]
    data = {
        "rows": rows,
        "seconds": median([r["seconds"] for r in runs]),
        "peak_rss_mb": median([r["peak_rss_mb"] for r in runs]),
        "rss_after_imports_mb": median([r["rss_after_imports_mb"] for r in runs]),
        "bytes_on_disk": runs[0]["bytes"],
        "runs": runs,
    }
    res.sections["prepare"] = data
    label = f"{rows:,} images" + (" (quick: subsample)" if plan.prepare_rows else " (full dSprites)")
    out.table(
        f"1. Prepare: vae.dsprites.write_dsprites, {label}",
        ["figure", "value"],
        [
            ["time (s)", data["seconds"]],
            ["images/s", rows / data["seconds"]],
            ["peak RSS of the process (MB)", data["peak_rss_mb"]],
            ["  of which interpreter + imports (MB)", data["rss_after_imports_mb"]],
            ["dataset on disk (MB)", data["bytes_on_disk"] / MB],
        ],
    )
    return path
