"""The training loop: batches drawn from a device-resident (bit-packed or uint8) tensor, no per-item Dataset."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from vae.batches import Stored, as_images
from vae.divergence import describe, finite_flag
from vae.errors import DeviceError, TrainingDiverged, TrainingInterrupted
from vae.model import VAE
from vae.objectives import Objective
from vae.resume import BatchOrder, Checkpoints, deferred_interrupt, rng_state, set_rng_state

__all__ = [
    "CurvePoint",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "lr_at",
    "resolve_compile",
    "train_vae",
]


@dataclass(frozen=True)
class CurvePoint:
    """Means of the objective's terms over the `log_every` steps that end at `step`."""

    step: int
    terms: Mapping[str, float]  # `loss` first, then the objective's own terms
    images_per_s: float

    def row(self) -> dict[str, float]:
        """One row of models/curves.csv: step, the terms, images/s."""
        return {"step": self.step, **self.terms, "images_per_s": self.images_per_s}


@dataclass(frozen=True)
class TrainConfig:
    """Built from validated params by pipeline.core.configs; no defaults of its own that could drift."""

    objective: Objective
    steps: int
    batch_size: int
    lr: float
    lr_schedule: str  # constant | cosine (lr_at)
    log_every: int
    precision: str  # fp32 | bf16 | fp16 (resolved, never auto): the forward pass's autocast dtype
    compile: bool  # torch.compile the model for training; eager if compilation fails


def lr_at(config: TrainConfig, step: int) -> float:
    """The learning rate of optimizer step `step` (1-based). A pure function of the step, so a resumed
    training continues the schedule exactly; cosine decays from `lr` at step 1 towards 0 at `steps`."""
    if config.lr_schedule == "constant":
        return config.lr
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / config.steps))
    raise ValueError(f"train.lr_schedule: unknown schedule {config.lr_schedule!r} (constant | cosine)")


COMPILE_MIN_STEPS = 8_000
"""`train.compile: auto` compiles runs of at least this many steps. Measured on a CPU core only (one thread,
as a sweep worker): compiled steps ~3.6% faster (2.3 ms a step) after a first step of 10-16 s, so the
break-even is 4,300-6,900 steps and a 12,000-step run saved 35 s of 948 (benchmarks/README.md)."""


def resolve_compile(requested: bool | str, steps: int) -> bool:
    """`auto`: compile where it pays over the run's length; true/false as asked."""
    if requested == "auto":
        return steps >= COMPILE_MIN_STEPS
    if isinstance(requested, bool):
        return requested
    raise ValueError(f"train.compile: {requested!r} is not auto, true or false")


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}  # fp32: no autocast


def resolve_precision(requested: str, device: torch.device) -> str:
    """`auto` is bf16 where the hardware computes it natively (CUDA with bf16, AVX512-BF16/AMX CPUs)."""
    if requested != "auto":
        if requested == "fp16" and device.type != "cuda":
            raise DeviceError("train.precision: fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bf16" if native else "fp32"


def train_vae(
    model: VAE,
    packed: Stored,
    config: TrainConfig,
    generator: torch.Generator,
    on_log: Callable[[CurvePoint], None] = lambda point: None,
    checkpoints: Checkpoints | None = None,
) -> list[CurvePoint]:
    """Adam on the config's objective; returns the training curve (also streamed to `on_log`).

    With `checkpoints`, training resumes from the saved state when there is one and saves its state when
    due and on Ctrl-C (then raises TrainingInterrupted). A non-finite term or gradient raises
    TrainingDiverged before the optimizer steps, so the weights never take a NaN update.
    """
    device = packed.device
    model.to(device).train()
    objective = config.objective.to(device)
    # One fused kernel per step instead of several per parameter tensor: a few % of a CPU step.
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    forward = torch.compile(model) if config.compile else model  # shares model's weights; saved as model
    batches = BatchOrder(packed.shape[0], config.batch_size, generator, device)
    sums: Tensor | None = None  # the objective's terms, summed on the device, read at log points only
    curve: list[CurvePoint] = []
    autocast_dtype = AUTOCAST_DTYPES.get(config.precision)
    # fp16 gradients underflow without loss scaling; bf16 has FP32's range and needs none.
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    # The scaler already skips steps with non-finite fp16 gradients; elsewhere they are divergence.
    parameters = [p for p in model.parameters() if p.requires_grad] if config.precision != "fp16" else []
    parts = _Parts(model, optimizer, scaler, batches, config.objective)
    state = checkpoints.load() if checkpoints is not None else None
    if state is not None:
        curve, sums = parts.restore(state, device)
    first = state["step"] + 1 if state is not None else 1
    window_start, window_images = time.perf_counter(), 0
    # A compiler failure (no C++ toolchain, unsupported op) makes dynamo warn and run the model eagerly.
    with torch._dynamo.config.patch(suppress_errors=True), deferred_interrupt() as interrupted:
        for step in range(first, config.steps + 1):
            x = as_images(packed[batches.next()], model.config.image_shape)
            if config.lr_schedule != "constant":
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(config, step)
            with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
                logits, mu, logvar, z = forward(x, return_code=True)
            # The terms are reduced in FP32 (metrics casts low-precision inputs up).
            terms = objective.terms(logits, x, mu, logvar, z=z, step=step)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms["loss"]).backward()
            values = torch.stack([value.detach() for value in terms.values()])
            grads = [p.grad for p in parameters if p.grad is not None]
            if not bool(finite_flag(values, grads)):  # the step's one host sync
                named = ((name, p.grad) for name, p in model.named_parameters())
                raise TrainingDiverged(describe(step, dict(zip(terms, values.tolist())), named))
            scaler.step(optimizer)
            scaler.update()
            extra = objective.after_step()  # the objective's own parts (a discriminator) train here
            if extra:
                terms |= extra
                values = torch.stack([value.detach() for value in terms.values()])
            sums = values if sums is None else sums + values
            window_images += x.shape[0]
            if step % config.log_every == 0 or step == config.steps:
                n_steps = step - (curve[-1].step if curve else 0)
                means = dict(zip(terms, (sums / n_steps).tolist()))
                elapsed = time.perf_counter() - window_start
                point = CurvePoint(step, means, window_images / max(elapsed, 1e-9))
                curve.append(point)
                on_log(point)
                sums = None
                window_start, window_images = time.perf_counter(), 0
            stop = interrupted()
            if checkpoints is not None and step < config.steps and (stop or checkpoints.due(step)):
                checkpoints.save(parts.capture(step, curve, sums))
            if stop:
                raise TrainingInterrupted(step, saved=checkpoints is not None)
    model.eval()
    return curve


@dataclass
class _Parts:
    """What a checkpoint holds besides the curve, gathered in one place for capture and restore."""

    model: VAE
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    batches: BatchOrder
    objective: Objective

    def capture(self, step: int, curve: list[CurvePoint], sums: Tensor | None) -> dict[str, Any]:
        objective_state = getattr(self.objective, "state_dict", None)
        return {
            "step": step,
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "batches": self.batches.state_dict(),
            "rng": rng_state(),
            "objective": objective_state() if callable(objective_state) else None,
            "curve": [{"step": p.step, "terms": dict(p.terms), "images_per_s": p.images_per_s} for p in curve],
            "sums": None if sums is None else sums.detach().cpu(),
        }

    def restore(self, state: dict[str, Any], device: torch.device) -> tuple[list[CurvePoint], Tensor | None]:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.batches.load_state_dict(state["batches"])
        set_rng_state(state["rng"])
        if state["objective"] is not None:
            self.objective.load_state_dict(state["objective"])  # type: ignore[attr-defined]
        curve = [CurvePoint(p["step"], p["terms"], p["images_per_s"]) for p in state["curve"]]
        sums = state["sums"]
        return curve, None if sums is None else sums.to(device)
