"""Reading earlier stages' outputs back, the same way in every later stage."""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.core.errors import OutputError
from pipeline.core.paths import Outputs
from vae.checkpoint import load_model, load_tensors
from vae.datasets import load_dataset
from vae.model import VAE, ModelConfig
from vae.objectives import Objective


@dataclass(frozen=True)
class HeldOut:
    images: np.ndarray  # as stored: bit-packed (n_test, bytes) for binary data, else uint8 (n_test, C, H, W)
    factors: np.ndarray | None  # ground-truth factor classes (n_test, F), or None (no factors: no MIG)
    labels: np.ndarray | None  # class labels (n_test,), or None
    texture: np.ndarray | None  # uint8 (H, W, 3) background image the sprites are drawn over, or None


def read_split(out: Outputs, *keys: str) -> list[np.ndarray | None]:
    """The split's arrays by name (None for an optional one the file lacks: `test_factors`, `test_labels`),
    or OutputError when data/split.npz is missing or damaged (a truncated zip fails only when read).
    Optional keys: `test_factors`, `test_labels`, `texture`."""
    restore = "run `dvc checkout data/split.npz` or `dvc repro -f prepare` to restore it"
    required = {"train", "test", "test_images"}
    try:
        with np.load(out.split, allow_pickle=False) as split:
            missing = sorted(required.intersection(keys) - set(split.files))
            if missing:
                raise OutputError(f"{out.split}: not a split file (no {missing[0]}); {restore}")
            return [split[key] if key in split.files else None for key in keys]
    except FileNotFoundError:
        raise OutputError(f"{out.split}: missing; {restore}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise OutputError(f"{out.split}: damaged ({type(error).__name__}); {restore}") from None


def load_train_images(out: Outputs, dataset: str = "dsprites", chunk: int = 65_536) -> np.ndarray:
    """Training images as stored, compacted in place: no second copy of the dataset."""
    (train,) = read_split(out, "train")
    packed = load_dataset(dataset, out.dataset).images
    # train is sorted, so train[i] >= i: every source row is read before any write reaches it.
    for start in range(0, len(train), chunk):
        rows = train[start : start + chunk]
        packed[start : start + len(rows)] = packed[rows]
    return packed[: len(train)]


def load_held_out(out: Outputs) -> HeldOut:
    images, factors, labels, texture = read_split(out, "test_images", "test_factors", "test_labels", "texture")
    return HeldOut(images, factors, labels, texture)


def load_texture(out: Outputs) -> np.ndarray | None:
    """The background image scream-dSprites' batches are drawn over (vae.batches.Textured), or None."""
    (texture,) = read_split(out, "texture")
    return texture


def load_trained(out: Outputs, device: torch.device) -> VAE:
    """The trained model, rebuilt from the config in its model card."""
    rerun = "run `dvc checkout` or `dvc repro -f train` to restore it"
    try:
        card = json.loads(out.model_card.read_text())
        config = ModelConfig(**card["config"])
    except FileNotFoundError:
        raise OutputError(f"{out.model_card}: missing; {rerun}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OutputError(f"{out.model_card}: not a model card ({type(error).__name__}); {rerun}") from None
    try:
        return load_model(out.model, config, device)
    except FileNotFoundError:
        raise OutputError(f"{out.model}: missing; {rerun}") from None
    except Exception as error:  # torch raises RuntimeError/UnpicklingError/EOFError for a damaged file
        raise OutputError(
            f"{out.model}: cannot be read as weights for {config} ({type(error).__name__}); {rerun}"
        ) from None


def load_objective_state(out: Outputs, objective: Objective) -> None:
    """The objective's trained parts (FactorVAE's discriminator) saved beside the model, into `objective`."""
    rerun = "run `dvc checkout` or `dvc repro -f train` to restore it"
    try:
        objective.load_trained_state(load_tensors(out.objective_state))
    except FileNotFoundError:
        raise OutputError(f"{out.objective_state}: missing; {rerun}") from None
    except Exception as error:  # damaged file, or one of another objective or discriminator shape
        raise OutputError(
            f"{out.objective_state}: cannot be read as the trained parts of objective {objective.name} "
            f"({type(error).__name__}); {rerun}"
        ) from None
