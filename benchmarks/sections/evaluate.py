"""5. Held-out evaluation: encoding + ELBO + KL per dimension, and MIG, timed separately."""

from __future__ import annotations

import time

from benchmarks.harness.data import render_packed
from benchmarks.harness.machine import device_name, synchronizer
from benchmarks.harness.model import default_model
from benchmarks.harness.plan import Plan
from benchmarks.harness.results import Out, Results, Target, median


def bench_eval(plan: Plan, device, out: Out, res: Results) -> None:
    import torch

    from metrics import compute_mig
    from pipeline.stages.evaluate import encode_held_out
    from vae.batches import to_device

    source = "pipeline.stages.evaluate.encode_held_out"
    _, packed, factors = render_packed(plan.eval_points, seed=3)
    packed_t = to_device(packed, device)
    sync = synchronizer(device)
    torch.manual_seed(0)
    model = default_model().to(device).eval()
    enc_times, mig_times, means = [], [], None
    encode_held_out(model, packed_t[:2000], 1000)  # warm-up
    for r in range(plan.repeats):
        out.progress(f"eval: {plan.eval_points:,} points, {r + 1}/{plan.repeats}")
        sync()
        start = time.perf_counter()
        _, _, means, _ = encode_held_out(model, packed_t, 1000)
        enc_times.append(time.perf_counter() - start)
    for _ in range(plan.repeats):
        start = time.perf_counter()
        compute_mig(means, factors, 20)
        mig_times.append(time.perf_counter() - start)
    data = {
        "points": plan.eval_points,
        "device": device.type,
        "encode_s": median(enc_times),
        "mig_s": median(mig_times),
        "encode_source": source,
    }
    res.sections["eval"] = data
    out.table(
        f"5. Evaluation on {plan.eval_points:,} held-out points ({device_name(device)})",
        ["figure", "value"],
        [
            ["encode + ELBO + KL per dim (s)  [" + source + ", batch 1000]", data["encode_s"]],
            ["metrics.compute_mig, 20 bins (s)", data["mig_s"]],
        ],
    )
    res.targets.append(
        Target(
            f"compute_mig on {plan.eval_points:,} points",
            data["mig_s"],
            "<=",
            2.0,
            "s",
            "" if plan.eval_points == 10_000 else "quick: fewer points",
        )
    )
