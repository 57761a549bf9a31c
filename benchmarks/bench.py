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
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the working tree's vae/metrics/pipeline/testkit, not an installed copy

MARK = "BENCH_RESULT "  # a child's last stdout line: MARK + JSON
BETA, LR = 4.0, 5e-4
SECTIONS = ("prepare", "memory", "train", "flops", "threads", "eval", "cli")
MB = 1e6  # figures are in decimal MB/GB (the 1.5 GB target is 1,500 MB)


@dataclass(frozen=True)
class Plan:
    """How much work each measurement does. `--quick` only checks that everything runs."""

    quick: bool
    repeats: int
    prepare_rows: int | None  # None: the full 737,280 images
    train_images: int  # real dSprites images rendered for the throughput runs
    window_s: float  # target length of one timed window
    min_steps: int
    memory_steps: int
    thread_window_s: float
    eval_points: int
    profile_steps: int
    gemm_n: int

    @staticmethod
    def make(quick: bool, repeats: int | None) -> Plan:
        if quick:
            return Plan(quick=True, repeats=repeats or 2, prepare_rows=16_384, train_images=2_048, window_s=0.2,
                        min_steps=1, memory_steps=3, thread_window_s=0.4, eval_points=2_000, profile_steps=2,
                        gemm_n=512)
        return Plan(quick=False, repeats=repeats or 3, prepare_rows=None, train_images=16_384, window_s=1.5,
                    min_steps=5, memory_steps=20, thread_window_s=2.0, eval_points=10_000, profile_steps=8,
                    gemm_n=2_048)


# --------------------------------------------------------------------------------------------------
# small helpers


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def rss_now_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
    except OSError:
        pass
    return float("nan")


def maxrss_self_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # Linux: KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MB


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def child_env(threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DVC_NO_ANALYTICS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def run_child(kind: str, args: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """Run `bench.py --_child kind` in a fresh process: (its result, wall seconds, its own peak RSS in MB,
    read by the parent from wait4's rusage of exactly that child)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", kind, json.dumps(args)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env())
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024) / MB
    results = [line[len(MARK):] for line in out.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not results:
        raise RuntimeError(f"child {kind} failed (exit {proc.returncode}):\n{out[-3000:]}")
    return json.loads(results[-1]), wall, peak


@contextmanager
def quiet_stderr():
    """Silence native stderr (the profiler's kineto prints USDT/ERROR lines on machines without a GPU)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def synchronizer(device) -> Callable[[], None]:
    import torch

    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def render_packed(n: int, seed: int):
    """n real dSprites images (seeded random subset): (uint8 (n,64,64), packed uint8 (n,512), classes)."""
    import numpy as np

    from vae.dsprites import N_IMAGES, latents_for, render_images, subsample_indices

    idx = subsample_indices(N_IMAGES, n, seed)
    imgs = render_images(idx)
    packed = np.packbits(imgs.reshape(n, -1), axis=1)
    return imgs, packed, latents_for(idx)[0]


# --------------------------------------------------------------------------------------------------
# results


@dataclass
class Target:
    name: str
    value: float | None
    op: str  # ">=" | "<="
    goal: float
    unit: str
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.value is None or self.value != self.value:
            return None
        return self.value >= self.goal if self.op == ">=" else self.value <= self.goal


@dataclass
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "sections": self.sections,
            "targets": [dict(asdict(t), ok=t.ok) for t in self.targets],
            "section_seconds": self.timings,
        }


class Out:
    """Rich output: a table per section as soon as it is measured, progress lines in between."""

    def __init__(self) -> None:
        from rich.console import Console

        # A file or pipe gets 130 columns (rich's default there is 80, which wraps these tables badly).
        self.console = Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 130)))

    def progress(self, text: str) -> None:
        self.console.print(f"  … {text}", style="dim", markup=False, highlight=False)

    def error(self, text: str) -> None:
        self.console.print(text, style="red", markup=False, highlight=False)

    def note(self, text: str) -> None:
        self.console.print(f"  {text}")

    def table(self, title: str, columns: list[str], rows: list[list[Any]], caption: str | None = None) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
        for i, col in enumerate(columns):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*[cell if isinstance(cell, str) else fmt(cell) for cell in row])
        self.console.print(table)


def load_text(load: tuple[float, ...] | None) -> str:
    return "n/a" if load is None else ", ".join(f"{x:.2f}" for x in load)


def pct(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


# --------------------------------------------------------------------------------------------------
# children (fresh processes: peak RSS, thread counts, concurrent workers)


def child_prepare(args: dict[str, Any]) -> dict[str, Any]:
    from vae import dsprites

    rss0 = rss_now_mb()
    indices = None if args["rows"] is None else dsprites.subsample_indices(dsprites.N_IMAGES, args["rows"], 0)
    start = time.perf_counter()
    rows = dsprites.write_dsprites(Path(args["path"]), indices)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": rows, "bytes": os.path.getsize(args["path"]),
            "rss_after_imports_mb": rss0, "self_peak_rss_mb": maxrss_self_mb()}


def child_train_memory(args: dict[str, Any]) -> dict[str, Any]:
    """Peak memory of training on a whole dataset file: `loader` = load_dsprites_packed + to_device +
    train_vae; `stage` = what `vae-pipe train` does (its imports and load_train_images)."""
    import torch

    from vae.batches import to_device
    from vae.dsprites import load_dsprites_packed
    from vae.model import VAE, ModelConfig
    from vae.seeding import pick_device, seed_everything
    from vae.train import TrainConfig, resolve_precision, train_vae

    if args["mode"] == "stage":
        import pipeline.artifacts as artifacts
        import pipeline.stages.train  # noqa: F401  (the stage's import footprint: mlflow, pydantic, ...)
        from pipeline.paths import Outputs
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
    config = TrainConfig(beta=BETA, steps=steps, batch_size=64, lr=LR, log_every=steps, precision=precision)
    train_vae(VAE(ModelConfig()), packed, config, generator)
    cuda_peak = torch.cuda.max_memory_allocated(device) / MB if device.type == "cuda" else None
    return {"rows": int(train_images.shape[0]), "load_s": load_s, "rss_after_imports_mb": rss0,
            "rss_after_load_mb": rss_loaded, "self_peak_rss_mb": maxrss_self_mb(), "precision": precision,
            "cuda_peak_allocated_mb": cuda_peak}


def child_threads(args: dict[str, Any]) -> dict[str, Any]:
    """One sweep-like worker: `threads` threads training through train_vae on the CPU. Warms up, prints
    READY, waits for `GO <deadline>` on stdin, then records time windows until the shared deadline."""
    import torch

    from vae.batches import to_device
    from vae.model import VAE, ModelConfig
    from vae.train import TrainConfig, resolve_precision, train_vae

    torch.set_num_threads(args["threads"])
    device = torch.device("cpu")
    _, packed, _ = render_packed(args["images"], seed=10 + args["worker"])
    data = to_device(packed, device)
    torch.manual_seed(0)
    model = VAE(ModelConfig())
    generator = torch.Generator().manual_seed(args["worker"])
    precision = resolve_precision("auto", device)
    batch = 64

    def run(steps: int) -> float:
        config = TrainConfig(beta=BETA, steps=steps, batch_size=batch, lr=LR, log_every=steps, precision=precision)
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
    return {"rates": rates or [overall], "windows": len(rates), "overall_images_per_s": overall,
            "precision": precision, "threads": torch.get_num_threads(), "chunk_steps": chunk}


CHILDREN = {"prepare": child_prepare, "train_memory": child_train_memory, "threads": child_threads}


# --------------------------------------------------------------------------------------------------
# 1. dataset preparation


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
    out.table(f"1. Prepare: vae.dsprites.write_dsprites, {label}", ["figure", "value"], [
        ["time (s)", data["seconds"]],
        ["images/s", rows / data["seconds"]],
        ["peak RSS of the process (MB)", data["peak_rss_mb"]],
        ["  of which interpreter + imports (MB)", data["rss_after_imports_mb"]],
        ["dataset on disk (MB)", data["bytes_on_disk"] / MB],
    ])
    return path


# --------------------------------------------------------------------------------------------------
# 4. peak memory of training on the whole file


def bench_memory(plan: Plan, work: Path, data_path: Path, devices: list, out: Out, res: Results) -> None:
    import numpy as np

    from pipeline.stages.prepare import split_indices

    if not data_path.exists():
        out.progress("memory: no dataset file yet, writing it (untimed)")
        run_child("prepare", {"path": str(data_path), "rows": plan.prepare_rows})
    n = plan.prepare_rows or 737_280
    stage_root = work / "stage"
    (stage_root / "data").mkdir(parents=True, exist_ok=True)
    link = stage_root / "data" / "dsprites.npz"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(data_path)
    train, test = split_indices(n, min(10_000, n // 10), 0)
    with (stage_root / "data" / "split.npz").open("wb") as handle:
        np.savez(handle, train=train, test=test)

    rows_out, data = [], {}
    for device in devices:
        for mode, label in (("loader", "load_dsprites_packed + to_device + train_vae"),
                            ("stage", "as `vae-pipe train` (its imports and loader)")):
            runs = []
            for r in range(plan.repeats):
                out.progress(f"memory [{device.type}, {mode}]: fresh process, {r + 1}/{plan.repeats}")
                args = {"mode": mode, "path": str(data_path), "stage_root": str(stage_root),
                        "device": device.type, "steps": plan.memory_steps}
                result, wall, peak = run_child("train_memory", args)
                runs.append(dict(result, wall_s=wall, peak_rss_mb=peak))
            key = f"{device.type}.{mode}"
            fig = {
                "rows": runs[0]["rows"], "precision": runs[0]["precision"],
                "peak_rss_mb": median([r["peak_rss_mb"] for r in runs]),
                "rss_after_imports_mb": median([r["rss_after_imports_mb"] for r in runs]),
                "rss_after_load_mb": median([r["rss_after_load_mb"] for r in runs]),
                "load_s": median([r["load_s"] for r in runs]),
                "cuda_peak_allocated_mb": runs[0]["cuda_peak_allocated_mb"],
                "runs": runs,
            }
            data[key] = fig
            rows_out.append([f"{device.type}: {label}", fig["rows"], fig["load_s"], fig["rss_after_imports_mb"],
                             fig["rss_after_load_mb"], fig["peak_rss_mb"], fig["cuda_peak_allocated_mb"]])
            res.targets.append(Target(f"train peak RSS, {device.type}, {mode} ({fig['rows']:,} images)",
                                      fig["peak_rss_mb"] / 1000, "<=", 1.5, "GB",
                                      "" if n == 737_280 else "quick: subsample, not the full file"))
    res.sections["memory"] = data
    out.table(f"4. Peak memory of a training process ({plan.memory_steps} steps, batch 64, auto precision)",
              ["path", "train images", "load (s)", "RSS after imports (MB)", "RSS after load (MB)",
               "peak RSS (MB)", "CUDA peak alloc (MB)"], rows_out)


# --------------------------------------------------------------------------------------------------
# 2. training throughput


class OursPath:
    """vae.train.train_vae, exactly as the train stage calls it."""

    def __init__(self, model, packed, batch: int, precision: str, compile: bool = False) -> None:
        import torch

        self.model, self.packed, self.batch, self.precision = model, packed, batch, precision
        self.compile = compile
        self.generator = torch.Generator().manual_seed(0)
        self.internal: list[float] = []  # train_vae's own CurvePoint.images_per_s, for cross-checking

    def run(self, steps: int) -> None:
        from vae.train import TrainConfig, train_vae

        config = TrainConfig(beta=BETA, steps=steps, batch_size=self.batch, lr=LR, log_every=steps,
                             precision=self.precision, compile=self.compile)
        curve = train_vae(self.model, self.packed, config, self.generator)
        self.internal.append(curve[-1].images_per_s)


class BareLoop:
    """The leanest loop: an in-memory float tensor on the device, a random batch index per step."""

    def __init__(self, model, images, batch: int, precision: str) -> None:
        import torch

        self.model, self.images, self.batch = model, images, batch
        self.device = images.device
        from vae.train import AUTOCAST_DTYPES

        self.dtype = AUTOCAST_DTYPES.get(precision)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        self.generator = torch.Generator(device=self.device).manual_seed(0)

    def step(self, x) -> Any:
        import torch

        from metrics import beta_vae_loss

        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            logits, mu, logvar = self.model(x)
        loss, _, _ = beta_vae_loss(logits, x, mu, logvar, BETA)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return loss

    def batches(self, steps: int):
        import torch

        n = self.images.shape[0]
        for _ in range(steps):
            idx = torch.randint(n, (self.batch,), device=self.device, generator=self.generator)
            yield self.images[idx]

    def run(self, steps: int) -> None:
        self.model.train()
        loss = None
        for x in self.batches(steps):
            loss = self.step(x)
        if loss is not None:
            loss.item()


class DataLoaderLoop(BareLoop):
    """The reference implementations' data path: a per-item Dataset of uint8 images, each __getitem__ one
    float32 (1, 64, 64) tensor, batched by DataLoader(shuffle=True, num_workers=0), moved to the device."""

    def __init__(self, model, uint8_images, batch: int, device) -> None:
        import torch
        from torch.utils.data import DataLoader, Dataset

        class Images(Dataset):
            def __init__(self, imgs) -> None:
                self.imgs = imgs

            def __len__(self) -> int:
                return len(self.imgs)

            def __getitem__(self, i: int):
                return torch.from_numpy(self.imgs[i]).unsqueeze(0).float()

        self.model, self.batch, self.device = model, batch, device
        self.dtype, self.scaler = None, None
        self.optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        self.loader = DataLoader(Images(uint8_images), batch_size=batch, shuffle=True, num_workers=0,
                                 drop_last=True, generator=torch.Generator().manual_seed(0))
        self.iterator = iter(self.loader)

    def batches(self, steps: int):
        for _ in range(steps):
            try:
                x = next(self.iterator)
            except StopIteration:
                self.iterator = iter(self.loader)
                x = next(self.iterator)
            yield x.to(self.device)


def measure_group(variants: dict[str, Any], batch: int, plan: Plan, sync: Callable[[], None]):
    """Size a window from ours' speed after a first call, warm every variant up with one untimed window, then
    time `repeats` windows of the same step count per variant, interleaved (rotating order) so that load
    drift hits all alike. Warm-up and calibration are bounded in time, not in steps."""

    def timed(variant, steps: int) -> float:
        sync()
        start = time.perf_counter()
        variant.run(steps)
        sync()
        return time.perf_counter() - start

    first_call_s = {name: timed(variant, 1) for name, variant in variants.items()}  # primitives, compilation
    calibration = max(2, plan.min_steps)
    rate = calibration * batch / timed(variants["ours"], calibration)
    steps = max(plan.min_steps, round(rate * plan.window_s / batch))
    for variant in variants.values():
        variant.run(steps)  # one untimed window: steady state
    rates: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(plan.repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            rates[name].append(steps * batch / timed(variants[name], steps))
    return steps, rates, first_call_s


def bench_train(plan: Plan, devices: list, out: Out, res: Results) -> None:
    import torch

    from vae.batches import to_device
    from vae.model import VAE, ModelConfig
    from vae.train import resolve_precision

    imgs, packed, _ = render_packed(plan.train_images, seed=1)
    data: dict[str, Any] = {"images": plan.train_images}

    def fresh_model(device):
        torch.manual_seed(0)
        return VAE(ModelConfig()).to(device)

    for device in devices:
        sync = synchronizer(device)
        auto = resolve_precision("auto", device)
        packed_t = to_device(packed, device)
        float_t = torch.from_numpy(imgs).to(device).unsqueeze(1).float()  # (n, 1, 64, 64) float32
        precisions = ["fp32", "bf16"] + (["fp16"] if device.type == "cuda" else [])
        groups, rows = [], []
        for batch in (64, 256):
            for precision in precisions:
                out.progress(f"train [{device.type}] batch {batch} {precision}")
                variants: dict[str, Any] = {
                    "ours": OursPath(fresh_model(device), packed_t, batch, precision),
                    "bare": BareLoop(fresh_model(device), float_t, batch, precision),
                }
                if precision == "fp32" and batch == 64:
                    variants["dataloader"] = DataLoaderLoop(fresh_model(device), imgs, batch, device)
                if batch == 64:  # train.compile: true, timed after its compilation
                    variants["compiled"] = OursPath(fresh_model(device), packed_t, batch, precision, compile=True)
                steps, rates, first_call_s = measure_group(variants, batch, plan, sync)
                group = {"batch": batch, "precision": precision, "steps_per_window": steps,
                         "images_per_s": {k: median(v) for k, v in rates.items()}, "raw": rates,
                         "first_call_s": first_call_s,
                         "ours_internal_images_per_s": median(variants["ours"].internal[-plan.repeats:])}
                groups.append(group)
                ips = group["images_per_s"]
                compiled = ips.get("compiled")
                rows.append([f"{batch}", precision + (" (auto)" if precision == auto else ""),
                             ips["ours"], ips["bare"], ips.get("dataloader"), pct(ips["ours"] / ips["bare"]),
                             compiled, pct(compiled / ips["ours"]) if compiled else None,
                             first_call_s.get("compiled"), steps])
                del variants
        by = {(g["batch"], g["precision"]): g["images_per_s"] for g in groups}
        baseline = by[(64, "fp32")]["dataloader"]
        summary = {
            "auto_precision": auto,
            "ours_auto_b64_over_dataloader_fp32_b64": by[(64, auto)]["ours"] / baseline,
            "ours_fp32_b64_over_dataloader_fp32_b64": by[(64, "fp32")]["ours"] / baseline,
            "ours_over_bare": {f"b{b}.{p}": v["ours"] / v["bare"] for (b, p), v in by.items()},
            "compiled_over_ours": {f"b{b}.{p}": v["compiled"] / v["ours"] for (b, p), v in by.items()
                                   if "compiled" in v},
        }
        data[device.type] = {"groups": groups, **summary}
        out.table(
            f"2. Training throughput on {device_name(device)} (images/s; median of {plan.repeats} windows "
            f"after warm-up; {plan.train_images:,} real dSprites images)",
            ["batch", "precision", "ours", "bare loop", "DataLoader", "ours/bare", "compiled", "compiled/ours",
             "compile (s)", "steps/window"], rows,
            caption=("ours = vae.train.train_vae as the train stage calls it; DataLoader: FP32, batch 64 only; "
                     "compiled = ours with train.compile: true (batch 64 only), compile (s) = its first step, with an empty "
                     "compiler cache. "
                     "All run PyTorch's defaults, plus on CUDA the cuDNN flags pick_device sets for the stages "
                     "(deterministic kernels, no autotuning)."))
        out.note(f"[bold]ours (auto = {auto}, batch 64) / DataLoader FP32 batch 64 = "
                 f"{summary['ours_auto_b64_over_dataloader_fp32_b64']:.2f}×[/bold]  (ours FP32 / DataLoader FP32 = "
                 f"{summary['ours_fp32_b64_over_dataloader_fp32_b64']:.2f}×)")
        res.targets.append(Target(f"ours (auto={auto}, b64) / DataLoader FP32 b64, {device.type}",
                                  summary["ours_auto_b64_over_dataloader_fp32_b64"], ">=", 1.5, "×"))
        for (b, p), v in by.items():
            res.targets.append(Target(f"ours / bare loop, {device.type} b{b} {p}", v["ours"] / v["bare"] * 100,
                                      ">=", 95, "%"))
        del packed_t, float_t
        if device.type == "cuda":
            torch.cuda.empty_cache()
    res.sections["train"] = data


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return f"CPU ({cpu_info().get('model name', platform.processor())}, {torch.get_num_threads()} threads)"


# --------------------------------------------------------------------------------------------------
# 3. threads and concurrent workers (the `vae-pipe sweep` layout)


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
    script = str(Path(__file__).resolve())
    procs, logs = [], []
    for worker in range(jobs):
        args = {"threads": threads, "worker": worker, "images": 4_096,
                "chunk_s": min(0.1, plan.thread_window_s / 4), "window_s": plan.thread_window_s}
        log = (work / f"worker-{jobs}x{threads}-{worker}.log").open("w")
        logs.append(log)
        procs.append(subprocess.Popen([sys.executable, script, "--_child", "threads", json.dumps(args)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                      env=child_env(threads)))
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
            lines = [line[len(MARK):] for line in text.splitlines() if line.startswith(MARK)]
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
    from pipeline.sweep import default_jobs as sweep_default_jobs

    default_jobs = sweep_default_jobs(cores)
    default = (default_jobs, max(1, cores // default_jobs))
    rows, data = [], {"cores": cores, "sweep_default": list(default), "layouts": []}
    for jobs, threads in thread_layouts(cores):
        out.progress(f"threads: {jobs} worker process(es) × {threads} thread(s)")
        workers = run_workers(jobs, threads, plan, work)
        per_worker = [median(w["rates"]) for w in workers]  # a worker too slow for whole windows: its overall rate
        total = sum(per_worker)
        entry = {"jobs": jobs, "threads": threads, "total_images_per_s": total, "per_worker": per_worker,
                 "precision": workers[0]["precision"], "windows": [w["windows"] for w in workers]}
        data["layouts"].append(entry)
        rows.append([f"{jobs} × {threads}" + ("  ← sweep default" if (jobs, threads) == default else ""),
                     jobs * threads, total, total / jobs, entry["precision"],
                     ", ".join(str(w) for w in entry["windows"])])
    best = max(data["layouts"], key=lambda e: e["total_images_per_s"])
    one = next(e for e in data["layouts"] if (e["jobs"], e["threads"]) == (1, 1))
    allc = next(e for e in data["layouts"] if (e["jobs"], e["threads"]) == (1, cores))
    data["best"] = [best["jobs"], best["threads"]]
    data["all_cores_over_one_thread"] = allc["total_images_per_s"] / one["total_images_per_s"]
    res.sections["threads"] = data
    out.table(f"3. Threads and concurrent workers on the CPU ({cores} cores; batch 64, train_vae, auto precision; "
              f"total images/s of all workers together)",
              ["workers × threads", "threads used", "total images/s", "per worker", "precision", "windows"], rows,
              caption="windows: timed windows per worker (0: slower than one window; its overall rate is used)")
    dflt = next(e for e in data["layouts"] if (e["jobs"], e["threads"]) == default)
    out.note(f"1 process: {cores} threads / 1 thread = {data['all_cores_over_one_thread']:.2f}×.  Best layout: "
             f"{best['jobs']} × {best['threads']} ({best['total_images_per_s']:,.0f} images/s); sweep default "
             f"{default[0]} × {default[1]} reaches {dflt['total_images_per_s'] / best['total_images_per_s']:.0%} of it.")


# --------------------------------------------------------------------------------------------------
# 5. evaluation


def bench_eval(plan: Plan, device, out: Out, res: Results) -> None:
    import torch

    from metrics import compute_mig
    from vae.batches import to_device
    from vae.model import VAE, ModelConfig

    from pipeline.stages.evaluate import encode_held_out

    source = "pipeline.stages.evaluate.encode_held_out"
    _, packed, factors = render_packed(plan.eval_points, seed=3)
    packed_t = to_device(packed, device)
    sync = synchronizer(device)
    torch.manual_seed(0)
    model = VAE(ModelConfig()).to(device).eval()
    enc_times, mig_times, means = [], [], None
    encode_held_out(model, packed_t[:2000], 1000)  # warm-up
    for r in range(plan.repeats):
        out.progress(f"eval: {plan.eval_points:,} points, {r + 1}/{plan.repeats}")
        sync()
        start = time.perf_counter()
        _, _, means = encode_held_out(model, packed_t, 1000)
        enc_times.append(time.perf_counter() - start)
    for r in range(plan.repeats):
        start = time.perf_counter()
        compute_mig(means, factors, 20)
        mig_times.append(time.perf_counter() - start)
    data = {"points": plan.eval_points, "device": device.type, "encode_s": median(enc_times),
            "mig_s": median(mig_times), "encode_source": source}
    res.sections["eval"] = data
    out.table(f"5. Evaluation on {plan.eval_points:,} held-out points ({device_name(device)})", ["figure", "value"], [
        ["encode + ELBO + KL per dim (s)  [" + source + ", batch 1000]", data["encode_s"]],
        ["metrics.compute_mig, 20 bins (s)", data["mig_s"]],
    ])
    res.targets.append(Target(f"compute_mig on {plan.eval_points:,} points", data["mig_s"], "<=", 2.0, "s",
                              "" if plan.eval_points == 10_000 else "quick: fewer points"))


# --------------------------------------------------------------------------------------------------
# 6. CLI and DVC overhead


def import_time_top(module: str, top: int = 4) -> list[tuple[str, float]]:
    """The slowest imports under `module` (cumulative seconds), from `python -X importtime`."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                          text=True, env=child_env(), cwd=ROOT)
    entries, inside = [], False
    for line in reversed(done.stderr.splitlines()):  # a package is printed after everything it imports
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", line)
        if not match:
            continue
        depth = (len(match.group(3)) - 1) // 2
        if depth == 0:
            inside = match.group(4) == module
            if inside:
                entries.append((match.group(4), int(match.group(2)) / 1e6))
        elif inside and depth <= 2:
            entries.append((match.group(4), int(match.group(2)) / 1e6))
    return sorted(entries, key=lambda e: -e[1])[:top]


def bench_cli(plan: Plan, work: Path, out: Out, res: Results) -> None:
    vae_pipe = Path(sys.executable).parent / "vae-pipe"
    help_cmd = [str(vae_pipe), "--help"] if vae_pipe.exists() else [sys.executable, "-m", "pipeline.cli", "--help"]
    subprocess.run(help_cmd, capture_output=True, env=child_env(), cwd=ROOT, check=True)  # warm caches, .pyc
    help_times = []
    for _ in range(plan.repeats):
        start = time.perf_counter()
        subprocess.run(help_cmd, capture_output=True, env=child_env(), cwd=ROOT, check=True)
        help_times.append(time.perf_counter() - start)
    imports = import_time_top("pipeline.cli")
    data: dict[str, Any] = {"help_s": median(help_times), "help_runs": help_times,
                            "top_imports_s": dict(imports)}
    res.targets.append(Target("vae-pipe --help", data["help_s"], "<=", 1.0, "s"))

    out.progress("cli: creating a temporary git + DVC project (testkit.project.create_project), first dvc repro")
    rows = [["vae-pipe --help (s)", data["help_s"]]]
    try:
        from testkit.project import create_project

        project = create_project(work / "dvc" / "repo")
        start = time.perf_counter()
        project.run("dvc", "repro")
        data["first_repro_s"] = time.perf_counter() - start
        noop_times, ran_stage = [], False
        for r in range(plan.repeats):
            out.progress(f"cli: no-op dvc repro {r + 1}/{plan.repeats}")
            start = time.perf_counter()
            done = project.run("dvc", "repro")
            noop_times.append(time.perf_counter() - start)
            ran_stage |= "Running stage" in done.stdout
        data.update(noop_repro_s=median(noop_times), noop_repro_runs=noop_times, noop_ran_a_stage=ran_stage)
        rows += [["first dvc repro, tiny params (s)", data["first_repro_s"]],
                 ["no-op dvc repro (s)" + ("  (!! a stage ran)" if ran_stage else ""), data["noop_repro_s"]]]
    except Exception as exc:  # noqa: BLE001  (report, keep the other figures)
        data["dvc_error"] = str(exc)[-2000:]
        rows.append(["dvc repro", f"failed: {str(exc).splitlines()[0][:100]}"])
    rows += [[f"  import {name} (s, cumulative; python -X importtime)", seconds] for name, seconds in imports]
    res.sections["cli"] = data
    out.table("6. CLI and DVC overhead (wall time)", ["figure", "value"], rows)


# --------------------------------------------------------------------------------------------------
# 7. FLOPs, peak and efficiency


def cpu_info() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                if info:
                    break
                continue
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def cpu_peak() -> dict[str, Any]:
    """Theoretical FP32 peak = cores × clock × FLOP/cycle/core, with every assumption spelled out."""
    info = cpu_info()
    flags = set(info.get("flags", "").split())
    vendor, family = info.get("vendor_id", "?"), int(info.get("cpu family", "0") or 0)
    name = info.get("model name", platform.processor() or "?")
    logical = cpu_count()
    siblings, cores_per_pkg = int(info.get("siblings", "0") or 0), int(info.get("cpu cores", "0") or 0)
    smt = siblings // cores_per_pkg if siblings and cores_per_pkg and siblings >= cores_per_pkg else 1
    cores = max(1, logical // smt)
    notes = []
    fma = "fma" in flags
    if "avx512f" in flags:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flags:
        lanes, isa = 8, "AVX2"
    elif "avx" in flags:
        lanes, isa = 8, "AVX"
    else:
        lanes, isa = 4, "SSE"
    units = 2
    if vendor == "AuthenticAMD" and family == 25 and lanes == 16:  # Zen 4
        lanes = 8
        notes.append("AMD family 25 (Zen 4) with AVX-512: 512-bit ops run as two 256-bit halves → 8 lanes/FMA unit")
    elif vendor == "AuthenticAMD" and family == 26 and lanes == 16:  # Zen 5
        if "Ryzen AI" in name:
            lanes = 8
            notes.append("AMD family 26 mobile (Zen 5, Strix): 256-bit datapath → 8 lanes/FMA unit")
        else:
            notes.append("AMD family 26 (Zen 5, EPYC 9005/Ryzen 9000): full 512-bit datapath, 2 FMA pipes "
                         "→ 16 lanes/FMA unit (Zen 4 would be half)")
    elif vendor == "GenuineIntel" and lanes == 16:
        notes.append("Intel AVX-512: assumes 2 FMA-512 units (Xeon Gold/Platinum; some parts have 1)")
    per_cycle = lanes * units * (2 if fma else 1)
    mhz = float(info.get("cpu MHz", "0") or 0)
    clock_source = "/proc/cpuinfo cpu MHz"
    try:
        max_khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        if max_khz / 1000 > mhz:
            mhz, clock_source = max_khz / 1000, "cpufreq cpuinfo_max_freq"
    except (OSError, ValueError):
        notes.append("no cpufreq (VM?): clock is the reported cpu MHz, often the base clock; boost would raise peak")
    peak = cores * mhz * 1e6 * per_cycle
    return {"vendor": vendor, "family": family, "model": name, "isa": isa, "fma": fma, "logical_cpus": logical,
            "smt": smt, "cores": cores, "mhz": mhz, "clock_source": clock_source, "lanes": lanes, "fma_units": units,
            "flop_per_cycle_per_core": per_cycle, "fp32_peak_flops": peak, "notes": notes,
            "bf16_native": "avx512_bf16" in flags or "amx_bf16" in flags}


CUDA_PEAKS = [  # (name fragment, dense FP32 non-tensor, dense BF16 tensor) in FLOP/s, from datasheets
    ("H200", 67e12, 989e12), ("H100 NVL", 60e12, 835e12), ("H100 PCIe", 51e12, 756e12),
    ("H100", 67e12, 989e12), ("A100", 19.5e12, 312e12), ("L40S", 91.6e12, 362e12), ("L4", 30.3e12, 121e12),
]


def cuda_peak(device) -> dict[str, Any]:
    import torch

    name = torch.cuda.get_device_name(device)
    for fragment, fp32, bf16 in CUDA_PEAKS:
        if fragment in name:
            return {"model": name, "fp32_peak_flops": fp32, "bf16_peak_flops": bf16,
                    "notes": [f"datasheet peaks for {fragment} (dense)",
                              f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}: FP32 convs may run as TF32 "
                              "on tensor cores, so 'FP32' efficiency against the non-tensor FP32 peak can exceed 100%"]}
    return {"model": name, "fp32_peak_flops": None, "bf16_peak_flops": None, "notes": ["peak unknown for this GPU"]}


def count_flops(fn: Callable[[], None]) -> tuple[int, dict[str, int]]:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    by_op: dict[str, int] = {}
    for op, count in counter.get_flop_counts().get("Global", {}).items():
        by_op[str(op)] = by_op.get(str(op), 0) + int(count)
    return int(counter.get_total_flops()), by_op


def gemm_flops(device, dtype, n: int, repeats: int) -> float:
    import torch

    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = synchronizer(device)
    reps = 20 if device.type == "cuda" else 3
    times = []
    for _ in range(repeats + 1):
        sync()
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        sync()
        times.append(time.perf_counter() - start)
    return 2 * n**3 * reps / median(times[1:])


def step_vs_convs(device, batch: int, plan: Plan) -> dict[str, Any]:
    """The whole FP32 training step vs its conv/deconv stacks alone (fwd + bwd, same shapes)."""
    import torch

    from metrics import beta_vae_loss
    from vae.model import VAE, ModelConfig

    torch.manual_seed(0)
    model = VAE(ModelConfig()).to(device).train()
    imgs, _, _ = render_packed(batch, seed=4)
    x = torch.from_numpy(imgs).to(device).unsqueeze(1).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    encoder_convs, decoder_convs = model.encoder.features, model.decoder.deconv
    z4 = torch.randn(batch, 32, 4, 4, device=device, requires_grad=True)
    grad_h = torch.randn(batch, 32 * 4 * 4, device=device)
    grad_y = torch.randn(batch, 1, 64, 64, device=device)

    def step() -> None:
        logits, mu, logvar = model(x)
        loss, _, _ = beta_vae_loss(logits, x, mu, logvar, BETA)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def convs() -> None:
        model.zero_grad(set_to_none=True)
        torch.autograd.backward([encoder_convs(x), decoder_convs(z4)], [grad_h, grad_y])

    step_flops, _ = count_flops(step)
    conv_flops, _ = count_flops(convs)
    sync = synchronizer(device)
    parts = {"step": step, "convs": convs}
    for fn in parts.values():
        fn()  # first call
    calibration = max(2, plan.min_steps)
    sync()
    start = time.perf_counter()
    for _ in range(calibration):
        step()
    sync()
    steps = max(plan.min_steps, round(plan.window_s / ((time.perf_counter() - start) / calibration)))
    for fn in parts.values():
        for _ in range(steps):  # one untimed window: steady state
            fn()
    times: dict[str, list[float]] = {k: [] for k in parts}
    for _ in range(plan.repeats):
        for name, fn in parts.items():
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            sync()
            times[name].append((time.perf_counter() - start) / steps)
    step_s, conv_s = median(times["step"]), median(times["convs"])
    return {"batch": batch, "step_ms": step_s * 1e3, "convs_ms": conv_s * 1e3, "convs_share_of_time": conv_s / step_s,
            "step_flops": step_flops, "conv_flops": conv_flops, "convs_share_of_flops": conv_flops / step_flops,
            "step_flops_per_s": step_flops / step_s, "conv_flops_per_s": conv_flops / conv_s}


SYNC_EVENTS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "Memcpy HtoD", "Memcpy DtoH",
               "aten::_local_scalar_dense", "aten::fill_")  # host round trips (.item()/.tolist(), copies) and fills


def profile_ours(device, batch: int, steps: int, top: int = 10) -> tuple[list[dict[str, Any]], dict[str, float]]:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from vae.batches import to_device
    from vae.model import VAE, ModelConfig
    from vae.train import TrainConfig, train_vae

    _, packed, _ = render_packed(4 * batch, seed=5)
    data = to_device(packed, device)
    torch.manual_seed(0)
    model = VAE(ModelConfig())
    generator = torch.Generator().manual_seed(0)
    config = TrainConfig(beta=BETA, steps=steps, batch_size=batch, lr=LR, log_every=steps, precision="fp32")
    train_vae(model, data, config, generator)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with quiet_stderr(), profile(activities=activities) as prof:
        train_vae(model, data, config, generator)
    events = prof.key_averages()

    def self_time(event) -> float:
        if device.type == "cuda":
            return float(getattr(event, "self_device_time_total", getattr(event, "self_cuda_time_total", 0)))
        return float(event.self_cpu_time_total)

    total = sum(self_time(e) for e in events) or 1.0
    ranked = sorted(events, key=self_time, reverse=True)[:top]
    calls: dict[str, float] = {}
    for event in events:
        for name in SYNC_EVENTS:
            if event.key.startswith(name):
                calls[event.key] = calls.get(event.key, 0) + event.count / steps
    return [{"op": e.key, "calls_per_step": e.count / steps, "ms_per_step": self_time(e) / 1e3 / steps,
             "share": self_time(e) / total} for e in ranked], calls


def bench_flops(plan: Plan, devices: list, out: Out, res: Results) -> None:
    import torch

    from metrics import beta_vae_loss
    from vae.model import VAE, ModelConfig

    torch.manual_seed(0)
    model = VAE(ModelConfig())
    x = (torch.rand(64, 1, 64, 64) > 0.5).float()

    def fwd_bwd() -> None:
        logits, mu, logvar = model(x)
        beta_vae_loss(logits, x, mu, logvar, BETA)[0].backward()

    total, by_op = count_flops(fwd_bwd)
    per_image = total / 64
    conv_share = sum(v for k, v in by_op.items() if "convolution" in k) / total
    data: dict[str, Any] = {"flops_per_image_fwd_bwd": per_image, "flops_by_op_per_image":
                            {k: v / 64 for k, v in by_op.items()}, "conv_share_of_flops": conv_share}
    out.note(f"[bold]7. FLOPs per image, forward + backward (FlopCounterMode): {per_image / 1e6:.1f} MFLOP[/bold] "
             f"({conv_share:.0%} in conv/deconv; Adam and elementwise ops not counted)")
    train = res.sections.get("train", {})
    for device in devices:
        out.progress(f"flops [{device.type}]: peak, GEMM, step vs convs, profiler")
        if device.type == "cuda":
            peak = cuda_peak(device)
            assumptions = [f"device {peak['model']}"] + peak["notes"]
        else:
            peak = cpu_peak()
            assumptions = [
                f"{peak['model']} ({peak['vendor']} family {peak['family']}), {peak['logical_cpus']} logical CPUs, "
                f"SMT {peak['smt']} → {peak['cores']} cores",
                f"{peak['isa']}: {peak['lanes']} FP32 lanes × {peak['fma_units']} FMA units × "
                f"{2 if peak['fma'] else 1} (FMA) = {peak['flop_per_cycle_per_core']} FLOP/cycle/core",
                f"clock {peak['mhz']:.0f} MHz ({peak['clock_source']})",
                f"FP32 peak = {peak['cores']} × {peak['mhz'] / 1e3:.3f} GHz × {peak['flop_per_cycle_per_core']} "
                f"= {peak['fp32_peak_flops'] / 1e9:,.0f} GFLOP/s",
            ] + peak["notes"]
        gemm32 = gemm_flops(device, torch.float32, plan.gemm_n if device.type == "cpu" else 8192, plan.repeats)
        gemm16 = gemm_flops(device, torch.bfloat16, plan.gemm_n if device.type == "cpu" else 8192, plan.repeats)
        parts = step_vs_convs(device, 64, plan)
        ops, sync_calls = profile_ours(device, 64, plan.profile_steps)
        fp32_peak = peak.get("fp32_peak_flops")
        rows = []
        ips = {}
        for g in train.get(device.type, {}).get("groups", []):
            ips[(g["batch"], g["precision"])] = g["images_per_s"]["ours"]
        label = "ours"
        if (64, "fp32") not in ips:  # train section skipped: fall back to the step timing above
            ips[(64, "fp32")] = 64 / (parts["step_ms"] / 1e3)
            label = "step of the parts timing"
        for (batch, precision), rate in sorted(ips.items()):
            achieved = per_image * rate
            ref = fp32_peak if precision == "fp32" else (peak.get("bf16_peak_flops") or None)
            rows.append([f"{label} b{batch} {precision}", rate, achieved / 1e9,
                         (ref / 1e9) if ref else None, (achieved / ref * 100) if ref else None,
                         achieved / (gemm32 if precision == "fp32" else gemm16) * 100])
        eff = per_image * ips[(64, "fp32")] / fp32_peak if fp32_peak else None
        data[device.type] = {"peak": peak, "assumptions": assumptions, "gemm_fp32_flops": gemm32,
                             "gemm_bf16_flops": gemm16, "fp32_b64_efficiency": eff, "step_vs_convs": parts,
                             "profile_top_ops_fp32_b64": ops, "profile_calls_per_step": sync_calls,
                             "achieved": [dict(zip(["path", "images_per_s", "gflops", "peak_gflops", "pct_peak",
                                                    "pct_gemm"], r)) for r in rows]}
        for line in assumptions:
            out.note(f"[dim]assumption:[/dim] {line}")
        out.note(f"measured GEMM ({'8192' if device.type == 'cuda' else plan.gemm_n}²): FP32 {gemm32 / 1e9:,.0f} "
                 f"GFLOP/s, BF16 {gemm16 / 1e9:,.0f} GFLOP/s")
        out.table(f"7. Achieved FLOP/s on {device_name(device)}",
                  ["path", "images/s", "achieved GFLOP/s", "peak GFLOP/s", "% of peak", "% of measured GEMM"], rows,
                  caption="peak: FP32 rows vs the FP32 peak; BF16/FP16 rows vs the BF16 tensor peak (CUDA) or "
                          "none (CPU: no datasheet figure assumed); GEMM: same dtype.")
        out.table(f"   Where an FP32 batch-64 step goes on {device.type} (median of {plan.repeats})",
                  ["part", "ms/step", "share of step time", "share of FLOPs", "GFLOP/s", "% of peak"], [
                      ["whole training step", parts["step_ms"], pct(1.0), pct(1.0), parts["step_flops_per_s"] / 1e9,
                       parts["step_flops_per_s"] / fp32_peak * 100 if fp32_peak else None],
                      ["conv + deconv stacks alone (fwd+bwd)", parts["convs_ms"], pct(parts["convs_share_of_time"]),
                       pct(parts["convs_share_of_flops"]), parts["conv_flops_per_s"] / 1e9,
                       parts["conv_flops_per_s"] / fp32_peak * 100 if fp32_peak else None],
                      ["everything else (dense, loss, Adam, unpack)", parts["step_ms"] - parts["convs_ms"],
                       pct(1 - parts["convs_share_of_time"]), pct(1 - parts["convs_share_of_flops"]), None, None],
                  ])
        out.table(f"   Top ops by self {'GPU' if device.type == 'cuda' else 'CPU'} time, train_vae FP32 batch 64 "
                  f"(torch.profiler, {plan.profile_steps} steps)",
                  ["op", "calls/step", "ms/step", "share"],
                  [[o["op"], o["calls_per_step"], o["ms_per_step"], pct(o["share"])] for o in ops])
        out.note("calls per step (host round trips, copies, tensor fills): " + (", ".join(
            f"{name} {count:.3g}" for name, count in sorted(sync_calls.items())) or "none"))
        if eff is not None:
            res.targets.append(Target(f"FP32 step efficiency b64, {device.type}", eff * 100, ">=", 50, "% of peak",
                                      f"conv stacks alone reach {parts['conv_flops_per_s'] / fp32_peak:.0%}; "
                                      f"GEMM {gemm32 / fp32_peak:.0%}"))
    res.sections["flops"] = data


# --------------------------------------------------------------------------------------------------
# main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: subsamples, short windows, 2 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="measurements per figure (median); default 3")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write all figures as JSON")
    parser.add_argument("--only", default=None, help=f"comma-separated sections to run: {','.join(SECTIONS)}")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: the CPU, and CUDA too when present")
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
        "quick": plan.quick, "plan": asdict(plan), "sections": [s for s in SECTIONS if s in selected],
        "git": git_commit(), "python": platform.python_version(), "torch": torch.__version__,
        "cpu": cpu_info().get("model name", platform.processor()), "cpus": cpu_count(),
        "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available()
        else None, "devices": [d.type for d in devices], "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    out.console.rule(f"vae-pipe benchmarks{' (QUICK: smoke run, not representative)' if plan.quick else ''}")
    out.note(f"{res.meta['cpu']}, {res.meta['cpus']} CPUs, torch {torch.__version__} ({res.meta['torch_threads']} "
             f"threads){', ' + res.meta['cuda'] if res.meta['cuda'] else ''}; git {res.meta['git']}; "
             f"repeats {plan.repeats}; load average {load_text(res.meta['load_average_at_start'])}")
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
            except Exception as exc:  # noqa: BLE001  (one broken section must not hide the others)
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
        out.table("Targets", ["target", "measured", "goal", "met", "note"], [
            [t.name, f"{fmt(t.value)} {t.unit}", f"{t.op} {fmt(t.goal)} {t.unit}", mark[t.ok], t.note]
            for t in res.targets])
    out.note("section times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in res.timings.items()))
    end_load = res.meta["load_average_at_end"]
    if end_load and end_load[0] > 0.5:
        out.note(f"[yellow]load average at the end {load_text(end_load)}: something else ran alongside; figures "
                 f"are low and noisy (OpenMP threads sharing a core with another process slow down a lot)[/yellow]")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res.to_json(), indent=2, default=str) + "\n")
        out.note(f"figures written to {args.json}")
    return 1 if "errors" in res.sections else 0


if __name__ == "__main__":
    sys.exit(main())
