"""2. Training throughput: ours (train_vae) against a bare loop and the usual per-item DataLoader path."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness.data import render_packed
from benchmarks.harness.machine import device_name, synchronizer
from benchmarks.harness.model import LR, bench_train_config, default_model, default_objective
from benchmarks.harness.plan import Plan
from benchmarks.harness.results import Out, Results, Target, median, pct


class OursPath:
    """vae.train.train_vae, exactly as the train stage calls it."""

    def __init__(self, model, packed, batch: int, precision: str, compile: bool = False) -> None:
        import torch

        self.model, self.packed, self.batch, self.precision = model, packed, batch, precision
        self.compile = compile
        self.generator = torch.Generator().manual_seed(0)
        self.internal: list[float] = []  # train_vae's own CurvePoint.images_per_s, for cross-checking

    def run(self, steps: int) -> None:
        from vae.train import train_vae

        config = bench_train_config(steps, self.batch, self.precision, self.compile)
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

        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            logits, mu, logvar = self.model(x)
        loss = default_objective().terms(logits, x, mu, logvar)["loss"]
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
        self.loader = DataLoader(
            Images(uint8_images),
            batch_size=batch,
            shuffle=True,
            num_workers=0,
            drop_last=True,
            generator=torch.Generator().manual_seed(0),
        )
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
        for name in names[r % len(names) :] + names[: r % len(names)]:
            rates[name].append(steps * batch / timed(variants[name], steps))
    return steps, rates, first_call_s


def bench_train(plan: Plan, devices: list, out: Out, res: Results) -> None:
    import torch

    from vae.batches import to_device
    from vae.train import resolve_precision

    imgs, packed, _ = render_packed(plan.train_images, seed=1)
    data: dict[str, Any] = {"images": plan.train_images}

    def fresh_model(device):
        torch.manual_seed(0)
        return default_model().to(device)

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
                group = {
                    "batch": batch,
                    "precision": precision,
                    "steps_per_window": steps,
                    "images_per_s": {k: median(v) for k, v in rates.items()},
                    "raw": rates,
                    "first_call_s": first_call_s,
                    "ours_internal_images_per_s": median(variants["ours"].internal[-plan.repeats :]),
                }
                groups.append(group)
                ips = group["images_per_s"]
                compiled = ips.get("compiled")
                rows.append(
                    [
                        f"{batch}",
                        precision + (" (auto)" if precision == auto else ""),
                        ips["ours"],
                        ips["bare"],
                        ips.get("dataloader"),
                        pct(ips["ours"] / ips["bare"]),
                        compiled,
                        pct(compiled / ips["ours"]) if compiled else None,
                        first_call_s.get("compiled"),
                        steps,
                    ]
                )
                del variants
        by = {(g["batch"], g["precision"]): g["images_per_s"] for g in groups}
        baseline = by[(64, "fp32")]["dataloader"]
        summary = {
            "auto_precision": auto,
            "ours_auto_b64_over_dataloader_fp32_b64": by[(64, auto)]["ours"] / baseline,
            "ours_fp32_b64_over_dataloader_fp32_b64": by[(64, "fp32")]["ours"] / baseline,
            "ours_over_bare": {f"b{b}.{p}": v["ours"] / v["bare"] for (b, p), v in by.items()},
            "compiled_over_ours": {
                f"b{b}.{p}": v["compiled"] / v["ours"] for (b, p), v in by.items() if "compiled" in v
            },
        }
        data[device.type] = {"groups": groups, **summary}
        out.table(
            f"2. Training throughput on {device_name(device)} (images/s; median of {plan.repeats} windows "
            f"after warm-up; {plan.train_images:,} real dSprites images)",
            [
                "batch",
                "precision",
                "ours",
                "bare loop",
                "DataLoader",
                "ours/bare",
                "compiled",
                "compiled/ours",
                "compile (s)",
                "steps/window",
            ],
            rows,
            caption=(
                "ours = vae.train.train_vae as the train stage calls it; DataLoader: FP32, batch 64 only; "
                "compiled = ours with train.compile: true (batch 64 only), compile (s) = its first step, with an empty "
                "compiler cache. "
                "All run PyTorch's defaults, plus on CUDA the cuDNN flags pick_device sets for the stages "
                "(deterministic kernels, no autotuning)."
            ),
        )
        out.note(
            f"[bold]ours (auto = {auto}, batch 64) / DataLoader FP32 batch 64 = "
            f"{summary['ours_auto_b64_over_dataloader_fp32_b64']:.2f}×[/bold]  (ours FP32 / DataLoader FP32 = "
            f"{summary['ours_fp32_b64_over_dataloader_fp32_b64']:.2f}×)"
        )
        res.targets.append(
            Target(
                f"ours (auto={auto}, b64) / DataLoader FP32 b64, {device.type}",
                summary["ours_auto_b64_over_dataloader_fp32_b64"],
                ">=",
                1.5,
                "×",
            )
        )
        for (b, p), v in by.items():
            res.targets.append(
                Target(f"ours / bare loop, {device.type} b{b} {p}", v["ours"] / v["bare"] * 100, ">=", 95, "%")
            )
        del packed_t, float_t
        if device.type == "cuda":
            torch.cuda.empty_cache()
    res.sections["train"] = data
