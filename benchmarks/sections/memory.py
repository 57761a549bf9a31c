"""4. Peak memory of a fresh process that trains on the whole dataset file, as the loader and as the stage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.harness.children import run_child
from benchmarks.harness.machine import maxrss_self_mb, rss_now_mb
from benchmarks.harness.model import bench_train_config, default_model
from benchmarks.harness.plan import MB, Plan
from benchmarks.harness.results import Out, Results, Target, median


def child_train_memory(args: dict[str, Any]) -> dict[str, Any]:
    """Peak memory of training on a whole dataset file: `loader` = load_dsprites_packed + to_device +
    train_vae; `stage` = what `vae-pipe train` does (its imports and load_train_images)."""
    import torch

    from vae.batches import to_device
    from vae.dsprites import load_dsprites_packed
    from vae.seeding import pick_device, seed_everything
    from vae.train import resolve_precision, train_vae

    if args["mode"] == "stage":
        import pipeline.stages.artifacts as artifacts
        import pipeline.stages.train  # noqa: F401  (the stage's import footprint: mlflow, pydantic, ...)
        from pipeline.core.paths import Outputs
    device = pick_device(args["device"])  # as the stage: on CUDA this also sets its cuDNN flags
    generator = seed_everything(0)
    rss0 = rss_now_mb()
    start = time.perf_counter()
    if args["mode"] == "stage":  # the train stage's loader
        out = Outputs(Path(args["stage_root"]))
        train_images = artifacts.load_train_images(out)
    else:
        train_images, _ = load_dsprites_packed(Path(args["path"]))
    load_s = time.perf_counter() - start
    rss_loaded = rss_now_mb()
    packed = to_device(train_images, device)
    precision = resolve_precision("auto", device)
    steps = args["steps"]
    config = bench_train_config(steps, 64, precision)
    train_vae(default_model(), packed, config, generator)
    cuda_peak = torch.cuda.max_memory_allocated(device) / MB if device.type == "cuda" else None
    return {
        "rows": int(train_images.shape[0]),
        "load_s": load_s,
        "rss_after_imports_mb": rss0,
        "rss_after_load_mb": rss_loaded,
        "self_peak_rss_mb": maxrss_self_mb(),
        "precision": precision,
        "cuda_peak_allocated_mb": cuda_peak,
    }


def bench_memory(plan: Plan, work: Path, data_path: Path, devices: list, out: Out, res: Results) -> None:
    import numpy as np

    from pipeline.stages.prepare import split_indices

    if not data_path.exists():
        out.progress("memory: no dataset file yet, writing it (untimed)")
        run_child("prepare", {"path": str(data_path), "rows": plan.prepare_rows})
    n = plan.prepare_rows or 737_280
    stage_root = work / "stage"
    (stage_root / "data").mkdir(parents=True, exist_ok=True)
    link = stage_root / "data" / "dataset.npz"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(data_path)
    train, test = split_indices(n, min(10_000, n // 10), 0)
    with (stage_root / "data" / "split.npz").open("wb") as handle:
        np.savez(handle, train=train, test=test)

    rows_out, data = [], {}
    for device in devices:
        for mode, label in (
            ("loader", "load_dsprites_packed + to_device + train_vae"),
            ("stage", "as `vae-pipe train` (its imports and loader)"),
        ):
            runs = []
            for r in range(plan.repeats):
                out.progress(f"memory [{device.type}, {mode}]: fresh process, {r + 1}/{plan.repeats}")
                args = {
                    "mode": mode,
                    "path": str(data_path),
                    "stage_root": str(stage_root),
                    "device": device.type,
                    "steps": plan.memory_steps,
                }
                result, wall, peak = run_child("train_memory", args)
                runs.append(dict(result, wall_s=wall, peak_rss_mb=peak))
            key = f"{device.type}.{mode}"
            fig = {
                "rows": runs[0]["rows"],
                "precision": runs[0]["precision"],
                "peak_rss_mb": median([r["peak_rss_mb"] for r in runs]),
                "rss_after_imports_mb": median([r["rss_after_imports_mb"] for r in runs]),
                "rss_after_load_mb": median([r["rss_after_load_mb"] for r in runs]),
                "load_s": median([r["load_s"] for r in runs]),
                "cuda_peak_allocated_mb": runs[0]["cuda_peak_allocated_mb"],
                "runs": runs,
            }
            data[key] = fig
            rows_out.append(
                [
                    f"{device.type}: {label}",
                    fig["rows"],
                    fig["load_s"],
                    fig["rss_after_imports_mb"],
                    fig["rss_after_load_mb"],
                    fig["peak_rss_mb"],
                    fig["cuda_peak_allocated_mb"],
                ]
            )
            res.targets.append(
                Target(
                    f"train peak RSS, {device.type}, {mode} ({fig['rows']:,} images)",
                    fig["peak_rss_mb"] / 1000,
                    "<=",
                    1.5,
                    "GB",
                    "" if n == 737_280 else "quick: subsample, not the full file",
                )
            )
    res.sections["memory"] = data
    out.table(
        f"4. Peak memory of a training process ({plan.memory_steps} steps, batch 64, auto precision)",
        [
            "path",
            "train images",
            "load (s)",
            "RSS after imports (MB)",
            "RSS after load (MB)",
            "peak RSS (MB)",
            "CUDA peak alloc (MB)",
        ],
        rows_out,
    )
