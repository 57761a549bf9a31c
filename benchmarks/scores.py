"""Evaluation time of each disentanglement score and the IWAE bound, at params.yaml's fast defaults and at
the paper setting (Locatello et al. 2019, disentanglement_lib's study configs), through the evaluate
stage's own code (pipeline.stages.scores) on the default model (untrained: the time does not depend on the weights).

    .venv/bin/python benchmarks/scores.py                  # fast defaults and paper setting (~15-30 min on 2 cores)
    .venv/bin/python benchmarks/scores.py --setting fast   # fast defaults only (~1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core.params import Params  # noqa: E402

PAPER_EVAL = {
    "dci": {"num_train": 10_000, "num_test": 5_000},
    "sap": {"num_train": 10_000, "num_test": 5_000},
    "factor_vae": {"batch_size": 64, "num_train": 10_000, "num_eval": 5_000, "num_variance_estimate": 10_000},
    "beta_vae": {"batch_size": 64, "num_train": 10_000, "num_eval": 5_000},
    "modularity": {"num_train": 10_000, "num_test": 5_000},
    "irs": {"num_train": 10_000},
}
"""disentanglement_lib's study settings (its metric_configs/*.gin); the FactorVAE prune threshold is 0.05 in both."""


def settings(name: str, batch_size: int | None = None) -> Params:
    """An untrained encoder's codes barely vary, so FactorVAE's pruning would stop after the variance
    estimate: the threshold is set to 0 here, so the timing covers the whole estimator."""
    raw = Params().model_dump(mode="json")
    for score, sizes in PAPER_EVAL.items() if name == "paper" else ():
        raw["eval"][score] |= sizes
    raw["eval"]["factor_vae"]["prune_threshold"] = 0.0
    if batch_size is not None:
        raw["eval"]["batch_size"] = batch_size
    return Params.model_validate(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=("fast", "paper", "both"), default="both")
    parser.add_argument("--scores", default="dci,sap,factor_vae,beta_vae,modularity,irs", help="comma-separated subset")
    parser.add_argument("--no-iwae", action="store_true", help="skip the IWAE bound")
    parser.add_argument("--batch-size", type=int, help="eval.batch_size (images a forward pass); default params.yaml's")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from pipeline.core.configs import model_config
    from pipeline.stages.scores import disentanglement_scores, iwae_metrics
    from vae.batches import to_device
    from vae.dsprites import SPACE, render_images
    from vae.model import VAE
    from vae.seeding import pick_device

    torch.manual_seed(0)
    device = pick_device("auto")
    model = VAE(model_config(Params())).to(device).eval()
    threads = torch.get_num_threads()
    results = {"device": str(device), "threads": threads, "load_average_at_start": os.getloadavg()}
    results["eval_batch_size"] = settings("fast", args.batch_size).eval.batch_size
    for name in ("fast", "paper") if args.setting == "both" else (args.setting,):
        params = settings(name, args.batch_size)
        start = time.perf_counter()
        _, details = disentanglement_scores(params, model, device, tuple(args.scores.split(",")))
        results[name] = {"seconds": details["score_seconds"], "total_s": time.perf_counter() - start}
        results[name]["eval"] = params.eval.model_dump(mode="json")
        print(f"{name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in details["score_seconds"].items()), flush=True)
    import numpy as np

    from pipeline.stages.scores import encoder_means, unsupervised_scores

    # The unsupervised scores read held-out means evaluate has already encoded: only their own math is timed.
    n = Params().eval.unsupervised_points
    images = render_images(np.random.default_rng(1).choice(SPACE.n, n, replace=False))
    means = encoder_means(model, device)(images)
    start = time.perf_counter()
    unsupervised_scores(Params(), means)
    results["unsupervised_s"] = time.perf_counter() - start
    print(f"unsupervised: {n} held-out means {results['unsupervised_s']:.1f} s", flush=True)
    if args.no_iwae:
        print(json.dumps(results), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
        return
    held_out = render_images(np.random.default_rng(0).choice(SPACE.n, Params().eval.iwae_points, replace=False))
    packed = to_device(np.packbits(held_out.reshape(len(held_out), -1), axis=1), device)
    _, iwae = iwae_metrics(settings("fast", args.batch_size), model, packed)
    results["iwae"] = iwae
    print(
        f"iwae: K={iwae['iwae_k']} on {iwae['iwae_points']} images {iwae['iwae_seconds']:.1f} s ({device}, {threads} threads)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
