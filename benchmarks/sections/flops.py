"""7. FLOPs per image, achieved FLOP/s against the peak and a measured GEMM, and where a step's time goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness.data import render_packed
from benchmarks.harness.machine import device_name, quiet_stderr, synchronizer
from benchmarks.harness.model import LR, bench_train_config, default_model, default_objective
from benchmarks.harness.plan import Plan
from benchmarks.harness.results import Out, Results, Target, median, pct
from benchmarks.sections.peaks import cpu_peak, cuda_peak


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

    torch.manual_seed(0)
    model = default_model().to(device).train()
    imgs, _, _ = render_packed(batch, seed=4)
    x = torch.from_numpy(imgs).to(device).unsqueeze(1).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    encoder_convs, decoder_convs = model.encoder.features, model.decoder.deconv
    z4 = torch.randn(batch, 32, 4, 4, device=device, requires_grad=True)
    grad_h = torch.randn(batch, 32 * 4 * 4, device=device)
    grad_y = torch.randn(batch, 1, 64, 64, device=device)

    def step() -> None:
        logits, mu, logvar = model(x)
        loss = default_objective().terms(logits, x, mu, logvar)["loss"]
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
    return {
        "batch": batch,
        "step_ms": step_s * 1e3,
        "convs_ms": conv_s * 1e3,
        "convs_share_of_time": conv_s / step_s,
        "step_flops": step_flops,
        "conv_flops": conv_flops,
        "convs_share_of_flops": conv_flops / step_flops,
        "step_flops_per_s": step_flops / step_s,
        "conv_flops_per_s": conv_flops / conv_s,
    }


SYNC_EVENTS = (
    "cudaStreamSynchronize",
    "cudaDeviceSynchronize",
    "Memcpy HtoD",
    "Memcpy DtoH",
    "aten::_local_scalar_dense",
    "aten::fill_",
)  # host round trips (.item()/.tolist(), copies) and fills


def profile_ours(device, batch: int, steps: int, top: int = 10) -> tuple[list[dict[str, Any]], dict[str, float]]:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from vae.batches import to_device
    from vae.train import train_vae

    _, packed, _ = render_packed(4 * batch, seed=5)
    data = to_device(packed, device)
    torch.manual_seed(0)
    model = default_model()
    generator = torch.Generator().manual_seed(0)
    config = bench_train_config(steps, batch, "fp32")
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
    return [
        {
            "op": e.key,
            "calls_per_step": e.count / steps,
            "ms_per_step": self_time(e) / 1e3 / steps,
            "share": self_time(e) / total,
        }
        for e in ranked
    ], calls


def bench_flops(plan: Plan, devices: list, out: Out, res: Results) -> None:
    import torch

    torch.manual_seed(0)
    model = default_model()
    x = (torch.rand(64, 1, 64, 64) > 0.5).float()

    def fwd_bwd() -> None:
        logits, mu, logvar = model(x)
        default_objective().terms(logits, x, mu, logvar)["loss"].backward()

    total, by_op = count_flops(fwd_bwd)
    per_image = total / 64
    conv_share = sum(v for k, v in by_op.items() if "convolution" in k) / total
    data: dict[str, Any] = {
        "flops_per_image_fwd_bwd": per_image,
        "flops_by_op_per_image": {k: v / 64 for k, v in by_op.items()},
        "conv_share_of_flops": conv_share,
    }
    out.note(
        f"[bold]7. FLOPs per image, forward + backward (FlopCounterMode): {per_image / 1e6:.1f} MFLOP[/bold] "
        f"({conv_share:.0%} in conv/deconv; Adam and elementwise ops not counted)"
    )
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
            rows.append(
                [
                    f"{label} b{batch} {precision}",
                    rate,
                    achieved / 1e9,
                    (ref / 1e9) if ref else None,
                    (achieved / ref * 100) if ref else None,
                    achieved / (gemm32 if precision == "fp32" else gemm16) * 100,
                ]
            )
        eff = per_image * ips[(64, "fp32")] / fp32_peak if fp32_peak else None
        data[device.type] = {
            "peak": peak,
            "assumptions": assumptions,
            "gemm_fp32_flops": gemm32,
            "gemm_bf16_flops": gemm16,
            "fp32_b64_efficiency": eff,
            "step_vs_convs": parts,
            "profile_top_ops_fp32_b64": ops,
            "profile_calls_per_step": sync_calls,
            "achieved": [
                dict(zip(["path", "images_per_s", "gflops", "peak_gflops", "pct_peak", "pct_gemm"], r)) for r in rows
            ],
        }
        for line in assumptions:
            out.note(f"[dim]assumption:[/dim] {line}")
        out.note(
            f"measured GEMM ({'8192' if device.type == 'cuda' else plan.gemm_n}²): FP32 {gemm32 / 1e9:,.0f} "
            f"GFLOP/s, BF16 {gemm16 / 1e9:,.0f} GFLOP/s"
        )
        out.table(
            f"7. Achieved FLOP/s on {device_name(device)}",
            ["path", "images/s", "achieved GFLOP/s", "peak GFLOP/s", "% of peak", "% of measured GEMM"],
            rows,
            caption="peak: FP32 rows vs the FP32 peak; BF16/FP16 rows vs the BF16 tensor peak (CUDA) or "
            "none (CPU: no datasheet figure assumed); GEMM: same dtype.",
        )
        out.table(
            f"   Where an FP32 batch-64 step goes on {device.type} (median of {plan.repeats})",
            ["part", "ms/step", "share of step time", "share of FLOPs", "GFLOP/s", "% of peak"],
            [
                [
                    "whole training step",
                    parts["step_ms"],
                    pct(1.0),
                    pct(1.0),
                    parts["step_flops_per_s"] / 1e9,
                    parts["step_flops_per_s"] / fp32_peak * 100 if fp32_peak else None,
                ],
                [
                    "conv + deconv stacks alone (fwd+bwd)",
                    parts["convs_ms"],
                    pct(parts["convs_share_of_time"]),
                    pct(parts["convs_share_of_flops"]),
                    parts["conv_flops_per_s"] / 1e9,
                    parts["conv_flops_per_s"] / fp32_peak * 100 if fp32_peak else None,
                ],
                [
                    "everything else (dense, loss, Adam, unpack)",
                    parts["step_ms"] - parts["convs_ms"],
                    pct(1 - parts["convs_share_of_time"]),
                    pct(1 - parts["convs_share_of_flops"]),
                    None,
                    None,
                ],
            ],
        )
        out.table(
            f"   Top ops by self {'GPU' if device.type == 'cuda' else 'CPU'} time, train_vae FP32 batch 64 "
            f"(torch.profiler, {plan.profile_steps} steps)",
            ["op", "calls/step", "ms/step", "share"],
            [[o["op"], o["calls_per_step"], o["ms_per_step"], pct(o["share"])] for o in ops],
        )
        out.note(
            "calls per step (host round trips, copies, tensor fills): "
            + (", ".join(f"{name} {count:.3g}" for name, count in sorted(sync_calls.items())) or "none")
        )
        if eff is not None:
            res.targets.append(
                Target(
                    f"FP32 step efficiency b64, {device.type}",
                    eff * 100,
                    ">=",
                    50,
                    "% of peak",
                    f"conv stacks alone reach {parts['conv_flops_per_s'] / fp32_peak:.0%}; "
                    f"GEMM {gemm32 / fp32_peak:.0%}",
                )
            )
    res.sections["flops"] = data
