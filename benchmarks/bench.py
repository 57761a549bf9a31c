#!/usr/bin/env python
"""vae-pipe benchmarks: data preparation, training throughput (ours vs the usual PyTorch paths), thread
layout for sweeps, peak memory, evaluation, CLI/DVC overhead, FLOPs and hardware efficiency.

    .venv/bin/python benchmarks/bench.py                  # full run (~5-8 min on 2 CPU cores)
    .venv/bin/python benchmarks/bench.py --quick          # smoke run: subsamples, short windows
    .venv/bin/python benchmarks/bench.py --json out.json  # also write every figure as JSON

Every figure is the median over `--repeats` measurements taken after a warm-up. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the working tree's vae/metrics/pipeline/testkit, not an installed copy

from benchmarks.harness.children import MARK  # noqa: E402  (needs ROOT on sys.path)
from benchmarks.harness.machine import cpu_count, cpu_info, git_commit  # noqa: E402
from benchmarks.harness.plan import SECTIONS, Plan  # noqa: E402
from benchmarks.harness.results import Out, Results, fmt, load_text  # noqa: E402
from benchmarks.sections.cli import bench_cli  # noqa: E402
from benchmarks.sections.evaluate import bench_eval  # noqa: E402
from benchmarks.sections.flops import bench_flops  # noqa: E402
from benchmarks.sections.memory import bench_memory, child_train_memory  # noqa: E402
from benchmarks.sections.prepare import bench_prepare, child_prepare  # noqa: E402
from benchmarks.sections.threads import bench_threads, child_threads  # noqa: E402
from benchmarks.sections.train import bench_train  # noqa: E402

CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "prepare": child_prepare,
    "train_memory": child_train_memory,
    "threads": child_threads,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: subsamples, short windows, 2 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="measurements per figure (median); default 3")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write all figures as JSON")
    parser.add_argument("--only", default=None, help=f"comma-separated sections to run: {','.join(SECTIONS)}")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: the CPU, and CUDA too when present"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._child:
        kind, payload = args._child
        result = CHILDREN[kind](json.loads(payload))
        print(MARK + json.dumps(result), flush=True)
        return 0

    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    selected = set(args.only.split(",")) if args.only else set(SECTIONS)
    selected -= set(filter(None, args.skip.split(",")))
    unknown = selected - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    plan = Plan.make(args.quick, args.repeats)

    import torch

    from vae.seeding import pick_device

    devices = []
    if args.device in ("auto", "cpu"):
        devices.append(torch.device("cpu"))
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device available")
        devices.append(pick_device("cuda"))  # as every stage: it also sets the cuDNN flags the stages run with

    out = Out()
    res = Results()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vae-bench-", dir=args.workdir))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(work / "inductor")  # compile times as on a fresh machine
    res.meta = {
        "quick": plan.quick,
        "plan": asdict(plan),
        "sections": [s for s in SECTIONS if s in selected],
        "git": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu_info().get("model name", platform.processor()),
        "cpus": cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "devices": [d.type for d in devices],
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    out.console.rule(f"vae-pipe benchmarks{' (QUICK: smoke run, not representative)' if plan.quick else ''}")
    out.note(
        f"{res.meta['cpu']}, {res.meta['cpus']} CPUs, torch {torch.__version__} ({res.meta['torch_threads']} "
        f"threads){', ' + res.meta['cuda'] if res.meta['cuda'] else ''}; git {res.meta['git']}; "
        f"repeats {plan.repeats}; load average {load_text(res.meta['load_average_at_start'])}"
    )
    if res.meta["load_average_at_start"] and res.meta["load_average_at_start"][0] > 0.5:
        out.note("[yellow]the machine is busy (load average > 0.5): figures will be low and noisy[/yellow]")

    started = time.perf_counter()
    data_path = work / "dsprites.npz"
    try:
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("prepare", lambda: bench_prepare(plan, work, out, res)),
            ("memory", lambda: bench_memory(plan, work, data_path, devices, out, res)),
            ("train", lambda: bench_train(plan, devices, out, res)),
            ("flops", lambda: bench_flops(plan, devices, out, res)),
            ("threads", lambda: bench_threads(plan, work, out, res)),
            ("eval", lambda: bench_eval(plan, devices[-1], out, res)),
            ("cli", lambda: bench_cli(plan, work, out, res)),
        ]
        for name, fn in steps:
            if name not in selected:
                continue
            section_start = time.perf_counter()
            try:
                fn()
            except Exception as exc:
                res.sections.setdefault("errors", {})[name] = repr(exc)[-3000:]
                out.error(f"section {name} failed: {exc}"[:3000])
            res.timings[name] = time.perf_counter() - section_start
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            out.note(f"scratch kept: {work}")

    res.timings["total"] = time.perf_counter() - started
    res.meta["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "?"}
    if res.targets:
        out.table(
            "Targets",
            ["target", "measured", "goal", "met", "note"],
            [
                [t.name, f"{fmt(t.value)} {t.unit}", f"{t.op} {fmt(t.goal)} {t.unit}", mark[t.ok], t.note]
                for t in res.targets
            ],
        )
    out.note("section times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in res.timings.items()))
    end_load = res.meta["load_average_at_end"]
    if end_load and end_load[0] > 0.5:
        out.note(
            f"[yellow]load average at the end {load_text(end_load)}: something else ran alongside; figures "
            f"are low and noisy (OpenMP threads sharing a core with another process slow down a lot)[/yellow]"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res.to_json(), indent=2, default=str) + "\n")
        out.note(f"figures written to {args.json}")
    return 1 if "errors" in res.sections else 0


if __name__ == "__main__":
    sys.exit(main())
