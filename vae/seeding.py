"""The one place randomness is fixed, so a seed names exactly one model on the CPU."""

from __future__ import annotations

import random

import numpy as np
import torch

from vae.errors import DeviceError


def seed_everything(seed: int) -> torch.Generator:
    """CPU kernels are already deterministic for a fixed thread count (tests/vae/test_model.py checks it);
    torch's deterministic mode is not switched on, since on the CPU it only costs time (it NaN-fills
    every new tensor) and imports torch's compiler stack."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else the CPU."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceError("train.device is 'cuda' but no CUDA device is available")
    if requested == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    # cuDNN picks kernels by timing unless told not to: pin them, so reruns agree as far as CUDA allows.
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    return torch.device("cuda")
