"""The training loop: batches drawn from a device-resident (bit-packed or uint8) tensor, no per-item Dataset."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from vae.batches import as_images
from vae.model import VAE
from vae.objectives import Objective
from vae.seeding import DeviceError


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
    """Built from validated params by pipeline.configs; no defaults of its own that could drift."""

    objective: Objective
    steps: int
    batch_size: int
    lr: float
    log_every: int
    precision: str  # fp32 | bf16 | fp16 (resolved, never auto): the forward pass's autocast dtype
    compile: bool  # torch.compile the model for training; eager if compilation fails


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


def _batch_indices(n: int, batch_size: int, generator: torch.Generator, device: torch.device):
    """Epochs of seeded permutations, so every image is seen once per epoch."""
    while True:
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]
        if n < batch_size:
            yield order


def train_vae(
    model: VAE,
    packed: Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    on_log: Callable[[CurvePoint], None] = lambda point: None,
) -> list[CurvePoint]:
    """Adam on the config's objective; returns the training curve (also streamed to `on_log`)."""
    device = packed.device
    model.to(device).train()
    # One fused kernel per step instead of several per parameter tensor: a few % of a CPU step.
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    forward = torch.compile(model) if config.compile else model  # shares model's weights; saved as model
    batches = _batch_indices(packed.shape[0], config.batch_size, generator, device)
    sums: Tensor | None = None  # the objective's terms, summed on the device, read at log points only
    curve: list[CurvePoint] = []
    autocast_dtype = AUTOCAST_DTYPES.get(config.precision)
    # fp16 gradients underflow without loss scaling; bf16 has FP32's range and needs none.
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    window_start, window_images = time.perf_counter(), 0
    # A compiler failure (no C++ toolchain, unsupported op) makes dynamo warn and run the model eagerly.
    with torch._dynamo.config.patch(suppress_errors=True):
        for step in range(1, config.steps + 1):
            x = as_images(packed[next(batches)], model.config.image_shape)
            with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
                logits, mu, logvar = forward(x)
            # The terms are reduced in FP32 (metrics casts low-precision inputs up).
            terms = config.objective.terms(logits, x, mu, logvar)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms["loss"]).backward()
            scaler.step(optimizer)
            scaler.update()
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
    model.eval()
    return curve
