"""Model shapes, the packed-batch path, and seeded determinism of training on the CPU."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from vae.batches import iterate, to_device, unpack
from vae.checkpoint import load_model, save_weights, weights_digest
from vae.model import VAE, ModelConfig
from vae.objectives import BetaVAE
from vae.seeding import seed_everything
from vae.train import TrainConfig, lr_at, train_vae


def _packed_blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 64, 64), dtype=np.uint8)
    for image, (r, c) in zip(images, rng.integers(8, 48, size=(n, 2))):
        image[r : r + 10, c : c + 10] = 1
    return images, np.packbits(images.reshape(n, -1), axis=1)


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_shapes(arch):
    model = VAE(
        ModelConfig(
            arch=arch, latent_dim=5, hidden_dim=16, image_shape=(1, 64, 64), likelihood="bernoulli", gaussian_std=0.1
        )
    )
    logits, mu, logvar = model(torch.zeros(3, 1, 64, 64))
    assert logits.shape == (3, 1, 64, 64)
    assert mu.shape == logvar.shape == (3, 5)


def test_unpack_matches_numpy():
    images, packed = _packed_blobs(7)
    unpacked = unpack(to_device(packed, torch.device("cpu")))
    assert unpacked.dtype == torch.float32
    assert np.array_equal(unpacked.squeeze(1).numpy(), images.astype(np.float32))
    batches = list(iterate(torch.from_numpy(packed), 3))
    assert [len(b) for b in batches] == [3, 3, 1]


def _train(seed: int, steps: int = 12, compile: bool = False, schedule: str = "constant") -> tuple[VAE, list]:
    _, packed = _packed_blobs(64)
    generator = seed_everything(seed)
    model = VAE(
        ModelConfig(
            arch="conv", latent_dim=4, hidden_dim=32, image_shape=(1, 64, 64), likelihood="bernoulli", gaussian_std=0.1
        )
    )
    config = TrainConfig(
        objective=BetaVAE(beta=4.0),
        steps=steps,
        batch_size=16,
        lr=1e-3,
        lr_schedule=schedule,
        log_every=4,
        precision="fp32",
        compile=compile,
    )
    curve = train_vae(model, torch.from_numpy(packed), config, generator)
    return model, curve


def test_training_is_deterministic_for_a_seed():
    (a, curve_a), (b, curve_b), (c, _) = _train(0), _train(0), _train(1)
    assert weights_digest(a) == weights_digest(b)
    assert [p.terms["loss"] for p in curve_a] == [p.terms["loss"] for p in curve_b]
    assert weights_digest(a) != weights_digest(c)
    assert [p.step for p in curve_a] == [4, 8, 12]


def test_cosine_schedule_values():
    config = TrainConfig(
        objective=BetaVAE(beta=1.0),
        steps=10,
        batch_size=4,
        lr=0.4,
        lr_schedule="cosine",
        log_every=1,
        precision="fp32",
        compile=False,
    )
    assert lr_at(config, 1) == pytest.approx(0.4)  # full rate at the first step
    assert lr_at(config, 6) == pytest.approx(0.2)  # half way: cos(π/2) = 0
    assert lr_at(config, 10) == pytest.approx(0.4 * 0.5 * (1 + math.cos(math.pi * 0.9)))  # ≈ 0.0098, never 0
    rates = [lr_at(config, step) for step in range(1, 11)]
    assert rates == sorted(rates, reverse=True)
    assert lr_at(dataclasses.replace(config, lr_schedule="constant"), 10) == 0.4


def test_the_loop_follows_the_schedule():
    # Step 1 runs at the full rate under both schedules; after it, cosine's smaller rates change the weights.
    assert weights_digest(_train(0, steps=1)[0]) == weights_digest(_train(0, steps=1, schedule="cosine")[0])
    assert weights_digest(_train(0, steps=12)[0]) != weights_digest(_train(0, steps=12, schedule="cosine")[0])


def test_training_lowers_the_loss():
    _, curve = _train(0, steps=60)
    assert curve[-1].terms["loss"] < 0.5 * curve[0].terms["loss"]


@pytest.mark.slow
def test_compiled_training_trains_the_model_itself():
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    model, curve = _train(0, steps=60, compile=True)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it really ran compiled
    assert curve[-1].terms["loss"] < 0.5 * curve[0].terms["loss"]
    eager, _ = _train(0, steps=2)
    assert model.state_dict().keys() == eager.state_dict().keys()  # saved weights load into a plain VAE


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken_backend(graph, example_inputs):
        raise RuntimeError("no C++ compiler")

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model: real_compile(model, backend=broken_backend))
    torch._dynamo.reset()
    fallback, fallback_curve = _train(0, compile=True)
    eager, eager_curve = _train(0)
    assert weights_digest(fallback) == weights_digest(eager)
    assert [p.terms["loss"] for p in fallback_curve] == [p.terms["loss"] for p in eager_curve]


def test_weights_roundtrip_without_pickled_code(tmp_path):
    model, _ = _train(0, steps=2)
    path = tmp_path / "model.pt"
    save_weights(model, path)
    loaded = load_model(path, model.config)
    assert weights_digest(loaded) == weights_digest(model)
    save_weights(model, tmp_path / "again.pt")
    assert (tmp_path / "again.pt").read_bytes() == path.read_bytes()  # bytes do not depend on the file name
    torch.save({"evil": object()}, tmp_path / "pickled.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        load_model(tmp_path / "pickled.pt", model.config)
