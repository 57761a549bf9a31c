"""The objective's trained parts saved beside the model (FactorVAE's discriminator): written by training,
read back safely (weights_only) into a fresh objective, and used by `evaluate` for FactorVAE's held-out TC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.core.configs import objective
from pipeline.core.errors import OutputError
from pipeline.core.paths import Outputs
from pipeline.stages.artifacts import load_objective_state
from pipeline.stages.evaluate import objective_terms
from tests.stages.test_objective_training import _params, _train
from vae.checkpoint import save_tensors


def _saved(tmp_path: Path, name: str) -> tuple[Outputs, object]:
    _, _, trained = _train(name)
    out = Outputs(tmp_path)
    out.objective_state.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(trained.trained_state(), out.objective_state)
    return out, trained


def test_the_trained_discriminator_is_saved_and_read_back_exactly(tmp_path):
    out, trained = _saved(tmp_path, "factor_vae")
    fresh = objective(_params("factor_vae"))
    codes = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    assert fresh.held_out_codes(codes) != trained.held_out_codes(codes)  # an untrained discriminator differs
    load_objective_state(out, fresh)
    for (key, a), (_, b) in zip(fresh.discriminator.state_dict().items(), trained.discriminator.state_dict().items()):
        assert torch.equal(a, b), key
    with torch.no_grad():
        by_hand = float(trained.discriminator.net(codes).squeeze(-1).mean())  # the TC estimate: mean logit
    assert fresh.held_out_codes(codes) == {"disc_tc": pytest.approx(by_hand, abs=1e-6)}


def test_factor_vae_held_out_loss_uses_the_discriminator_tc(tmp_path):
    out, _ = _saved(tmp_path, "factor_vae")
    params = _params("factor_vae")
    own = objective(params)
    load_objective_state(out, own)
    rng = np.random.default_rng(0)
    means, logvars = rng.normal(size=(300, 4)), rng.normal(-1.0, 0.1, size=(300, 4))
    terms = objective_terms(params, {"recon": 70.0, "kl": 9.0}, means, logvars, own)
    assert set(terms) == {"loss", "mi", "tc", "dim_kl", "disc_tc"}  # the sampled estimates stay beside it
    gamma = params.objective.factor_vae.gamma
    assert terms["loss"] == pytest.approx(70.0 + 9.0 + gamma * terms["disc_tc"])
    assert terms["disc_tc"] != pytest.approx(terms["tc"])
    # β-VAE owns no trained parts: nothing saved, nothing extra on held-out codes.
    plain = objective(_params("beta_vae"))
    assert plain.trained_state() == {}
    assert set(objective_terms(_params("beta_vae"), {"recon": 70.0, "kl": 9.0}, means, logvars, plain)) == {
        "loss",
        "mi",
        "tc",
        "dim_kl",
    }


def test_a_bad_objective_file_is_one_line_and_never_runs_code(tmp_path):
    out, _ = _saved(tmp_path, "beta_vae")
    with pytest.raises(
        OutputError, match=r"objective\.pt: cannot be read as the trained parts of objective factor_vae"
    ):
        load_objective_state(out, objective(_params("factor_vae")))  # an empty file: no discriminator in it
    load_objective_state(out, objective(_params("beta_vae")))
    out.objective_state.write_bytes(out.objective_state.read_bytes()[:20])
    with pytest.raises(OutputError, match="objective.pt: cannot be read") as error:
        load_objective_state(out, objective(_params("beta_vae")))
    assert "\n" not in str(error.value)
    torch.save({"x": Path("pickled")}, out.objective_state)  # not tensors: weights_only refuses it
    with pytest.raises(OutputError, match="UnpicklingError"):
        load_objective_state(out, objective(_params("beta_vae")))
    out.objective_state.unlink()
    with pytest.raises(OutputError, match="objective.pt: missing; run `dvc checkout`"):
        load_objective_state(out, objective(_params("beta_vae")))
