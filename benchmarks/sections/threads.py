"""3. Threads and concurrent workers on the CPU: the layouts `vae-pipe sweep` can choose between."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness.children import MARK, child_env
from benchmarks.harness.data import render_packed
from benchmarks.harness.machine import cpu_count
from benchmarks.harness.model import bench_train_config, default_model
from benchmarks.harness.paths import SCRIPT
from benchmarks.harness.plan import Plan
from benchmarks.harness.results import Out, Results, median


def child_threads(args: dict[str, Any]) -> dict[str, Any]:
    """One sweep-like worker: `threads` threads training through train_vae on the CPU. Warms up, prints
    READY, waits for `GO <deadline>` on stdin, then records time windows until the shared deadline."""
    import torch

    from vae.batches import to_device
    from vae.train import resolve_precision, train_vae

    torch.set_num_threads(args["threads"])
    device = torch.device("cpu")
    _, packed, _ = render_packed(args["images"], seed=10 + args["worker"])
    data = to_device(packed, device)
    torch.manual_seed(0)
    model = default_model()
    generator = torch.Generator().manual_seed(args["worker"])
    precision = resolve_precision("auto", device)
    batch = 64

    def run(steps: int) -> float:
        config = bench_train_config(steps, batch, precision)
        start = time.perf_counter()
        train_vae(model, data, config, generator)
        return time.perf_counter() - start

    run(1)  # first call: oneDNN primitives, allocator
    chunk = max(1, round(2 / run(2) * args["chunk_s"]))  # steps per ~chunk_s
    print("READY", flush=True)
    deadline = float(sys.stdin.readline().split()[1])
    rates: list[float] = []
    go, total_images = time.perf_counter(), 0
    while time.time() < deadline:
        start, images = time.perf_counter(), 0
        while time.perf_counter() - start < args["window_s"] and time.time() < deadline:
            run(chunk)
            images += chunk * batch
        total_images += images
        elapsed = time.perf_counter() - start
        if elapsed >= 0.5 * args["window_s"]:
            rates.append(images / elapsed)
    rates = rates[1:]  # the first window is the warm-up, with every worker running
    overall = total_images / (time.perf_counter() - go)
    return {
        "rates": rates or [overall],
        "windows": len(rates),
        "overall_images_per_s": overall,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "chunk_steps": chunk,
    }


def thread_layouts(cores: int) -> list[tuple[int, int]]:
    layouts = [(1, 1), (1, cores)]
    for jobs in sorted({2, 4, cores // 2, cores}):
        if 1 < jobs <= cores and cores % jobs == 0:
            layouts.append((jobs, cores // jobs))
    seen, unique = set(), []
    for layout in layouts:
        if layout not in seen:
            seen.add(layout)
            unique.append(layout)
    return unique


def run_workers(jobs: int, threads: int, plan: Plan, work: Path) -> list[dict[str, Any]]:
    script = str(SCRIPT)
    procs, logs = [], []
    for worker in range(jobs):
        args = {
            "threads": threads,
            "worker": worker,
            "images": 4_096,
            "chunk_s": min(0.1, plan.thread_window_s / 4),
            "window_s": plan.thread_window_s,
        }
        log = (work / f"worker-{jobs}x{threads}-{worker}.log").open("w")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [sys.executable, script, "--_child", "threads", json.dumps(args)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=child_env(threads),
            )
        )
    try:
        for proc in procs:
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"worker exited before READY (exit {proc.wait()})")
                if line.strip() == "READY":
                    break
        deadline = time.time() + (plan.repeats + 1.5) * plan.thread_window_s + 0.1
        for proc in procs:
            proc.stdin.write(f"GO {deadline}\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            text, _ = proc.communicate(timeout=600)
            lines = [line[len(MARK) :] for line in text.splitlines() if line.startswith(MARK)]
            if proc.returncode != 0 or not lines:
                raise RuntimeError(f"worker failed (exit {proc.returncode})")
            results.append(json.loads(lines[-1]))
        return results
    except Exception as exc:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        tails = "\n".join(Path(log.name).read_text()[-1500:] for log in logs)
        raise RuntimeError(f"{jobs}×{threads} workers: {exc}\n{tails}") from exc
    finally:
        for log in logs:
            log.close()


def bench_threads(plan: Plan, work: Path, out: Out, res: Results) -> None:
    cores = cpu_count()
    from pipeline.sweep.local.run import default_jobs as sweep_default_jobs

    default_jobs = sweep_default_jobs(cores)
    default = (default_jobs, max(1, cores // default_jobs))
    rows, data = [], {"cores": cores, "sweep_default": list(default), "layouts": []}
    for jobs, threads in thread_layouts(cores):
        out.progress(f"threads: {jobs} worker process(es) × {threads} thread(s)")
        workers = run_workers(jobs, threads, plan, work)
        per_worker = [median(w["rates"]) for w in workers]  # a worker too slow for whole windows: its overall rate
        total = sum(per_worker)
        entry = {
            "jobs": jobs,
            "threads": threads,
            "total_images_per_s": total,
            "per_worker": per_worker,
            "precision": workers[0]["precision"],
            "windows": [w["windows"] for w in workers],
        }
        data["layouts"].append(entry)
        rows.append(
            [
                f"{jobs} × {threads}" + ("  ← sweep default" if (jobs, threads) == default else ""),
                jobs * threads,
                total,
                total / jobs,
                entry["precision"],
                ", ".join(str(w) for w in entry["windows"]),
            ]
        )
    best = max(data["layouts"], key=lambda e: e["total_images_per_s"])
    one = next(e for e in data["layouts"] if (e["jobs"], e["threads"]) == (1, 1))
    allc = next(e for e in data["layouts"] if (e["jobs"], e["threads"]) == (1, cores))
    data["best"] = [best["jobs"], best["threads"]]
    data["all_cores_over_one_thread"] = allc["total_images_per_s"] / one["total_images_per_s"]
    res.sections["threads"] = data
    out.table(
        f"3. Threads and concurrent workers on the CPU ({cores} cores; batch 64, train_vae, auto precision; "
        f"total images/s of all workers together)",
        ["workers × threads", "threads used", "total images/s", "per worker", "precision", "windows"],
        rows,
        caption="windows: timed windows per worker (0: slower than one window; its overall rate is used)",
    )
    dflt = next(e for e in data["layouts"] if (e["jobs"], e["threads"]) == default)
    out.note(
        f"1 process: {cores} threads / 1 thread = {data['all_cores_over_one_thread']:.2f}×.  Best layout: "
        f"{best['jobs']} × {best['threads']} ({best['total_images_per_s']:,.0f} images/s); sweep default "
        f"{default[0]} × {default[1]} reaches {dflt['total_images_per_s'] / best['total_images_per_s']:.0%} of it."
    )
