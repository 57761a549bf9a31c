"""Stopping a diverged training at the step it diverged, naming the term that went bad.

A NaN or inf in the loss poisons every weight at the next optimizer step, and everything after it is
wasted time that ends in a NaN model. So each step checks its terms (and, where no loss scaler already
does, its gradients) before the optimizer steps: one small reduction and one host sync per step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor


def finite_flag(values: Tensor, grads: Sequence[Tensor]) -> Tensor:
    """A 0-d bool tensor on the device: every term and every gradient entry is finite.
    The gradients are reduced to their norms first (one fused kernel), whose finiteness is theirs."""
    ok = torch.isfinite(values).all()
    if grads:
        ok = ok & torch.isfinite(torch.stack(torch._foreach_norm(list(grads)))).all()
    return ok


def describe(step: int, terms: Mapping[str, float], grads: Iterable[tuple[str, Tensor | None]]) -> str:
    """The one line of a divergence: the first bad objective term (its own terms before `loss`, which
    only sums them), else the first parameter whose gradient is not finite."""
    shown = ", ".join(f"{name} {value:.4g}" for name, value in terms.items())
    own = [name for name in terms if name != "loss"] + ["loss"]
    bad = next((name for name in own if name in terms and not math.isfinite(terms[name])), None)
    if bad is not None:
        return f"training diverged at step {step}: {bad} is {terms[bad]} ({shown})"
    for name, grad in grads:
        if grad is not None and not bool(torch.isfinite(grad).all()):
            return f"training diverged at step {step}: the gradient of {name} is not finite ({shown})"
    return f"training diverged at step {step} ({shown})"
