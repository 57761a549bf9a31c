"""Nothing lost in training: a killed training resumes bit-identically, a diverging one stops at its step."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.checkpoint import weights_digest
from vae.errors import TrainingDiverged
from vae.model import VAE, ModelConfig
from vae.objectives import BetaVAE, Stateless
from vae.resume import BatchOrder, Checkpoints
from vae.seeding import seed_everything
from vae.train import TrainConfig, train_vae

# One tiny training, the same in this process and in the subprocesses that get killed.
SCRIPT = """
import sys
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
from vae.checkpoint import weights_digest
from vae.model import VAE, ModelConfig
from vae.objectives import BetaVAE
from vae.resume import Checkpoints
from vae.seeding import seed_everything
from vae.train import TrainConfig, train_vae

def tiny(folder, steps, pause=0.0, schedule="constant"):
    packed = np.packbits((np.random.default_rng(0).random((88, 4096)) < 0.1).astype(np.uint8), axis=1)
    generator = seed_everything(0)
    model = VAE(ModelConfig(arch="mlp", latent_dim=4, hidden_dim=32, image_shape=(1, 64, 64), likelihood="bernoulli", gaussian_std=0.1))
    config = TrainConfig(
        objective=BetaVAE(beta=4.0), steps=steps, batch_size=16, lr=1e-3, lr_schedule=schedule, log_every=2, precision="fp32", compile=False
    )
    checkpoints = None if folder is None else Checkpoints(folder, 1, 0)
    def on_log(point):
        print("step", point.step, flush=True)
        time.sleep(pause)  # slow enough for the test to kill it before it ends

    curve = train_vae(model, torch.from_numpy(packed), config, generator, on_log, checkpoints)
    return model, curve

if __name__ == "__main__":
    model, _ = tiny(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    print("digest", weights_digest(model), flush=True)
"""
STEPS = 40


def _tiny_module():
    namespace: dict = {"__name__": "tiny"}
    exec(SCRIPT, namespace)
    return namespace["tiny"]


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_batch_order_resumes_mid_epoch():
    def stream(order: BatchOrder, n: int) -> list[list[int]]:
        return [order.next().tolist() for _ in range(n)]

    full = stream(BatchOrder(10, 3, torch.Generator().manual_seed(1), torch.device("cpu")), 8)
    first = BatchOrder(10, 3, torch.Generator().manual_seed(1), torch.device("cpu"))
    head = stream(first, 5)
    second = BatchOrder(10, 3, torch.Generator().manual_seed(99), torch.device("cpu"))
    second.load_state_dict(first.state_dict())
    assert head + stream(second, 3) == full


@pytest.mark.slow
def test_sigkill_twice_then_resume_gives_the_uninterrupted_weights(tmp_path, one_thread):
    reference, reference_curve = _tiny_module()(None, STEPS, schedule="cosine")  # the LR follows the step
    folder = tmp_path / "ckpt"
    rng = random.Random()
    first = rng.randrange(4, 18, 2)
    for kill_at in (first, rng.randrange(first + 6, STEPS - 4, 2)):  # the second after the first's resume point
        with subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(folder), str(STEPS), "0.05", "cosine"], stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:
                if line.split()[:2] == ["step", str(kill_at)]:
                    break
            time.sleep(rng.uniform(0, 0.08))  # some moment around the next steps, mid-step or not
            child.send_signal(signal.SIGKILL)
        assert child.returncode == -signal.SIGKILL, f"the training ended before it was killed at step {kill_at}"
        assert (folder / "state.pt").is_file()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), str(STEPS), "0", "cosine"],
        capture_output=True,
        text=True,
        check=True,
    )
    steps = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("step")]
    assert steps and steps[0] > 2, "the last run started from scratch instead of resuming"
    assert done.stdout.splitlines()[-1] == f"digest {weights_digest(reference)}"
    assert steps[-1] == reference_curve[-1].step == STEPS


def test_in_process_resume_keeps_the_curve(tmp_path, one_thread):
    tiny = _tiny_module()
    _, reference_curve = tiny(None, STEPS)
    folder = tmp_path / "ckpt"
    tiny(folder, STEPS // 2)  # stops early: the checkpoint of step STEPS/2 - 1 stays
    model, curve = tiny(folder, STEPS)
    assert [p.step for p in curve] == [p.step for p in reference_curve]
    assert [p.terms for p in curve] == [p.terms for p in reference_curve]
    assert model is not None


def _packed() -> torch.Tensor:
    return torch.from_numpy(np.packbits((np.random.default_rng(0).random((64, 4096)) < 0.1).astype(np.uint8), axis=1))


def _config(objective, lr: float = 1e-3, steps: int = 10) -> TrainConfig:
    return TrainConfig(
        objective=objective,
        steps=steps,
        batch_size=16,
        lr=lr,
        lr_schedule="constant",
        log_every=5,
        precision="fp32",
        compile=False,
    )


class NanAt(Stateless):
    """β-VAE whose `kl` turns NaN at one step: a monkeypatched objective."""

    name = "nan_at"

    def __init__(self, step: int) -> None:
        self.step, self.calls = step, 0

    def terms(self, logits, x, mu, logvar, *, z=None, step=0):
        self.calls += 1
        terms = BetaVAE(beta=1.0).terms(logits, x, mu, logvar)
        if self.calls == self.step:
            terms["kl"] = terms["kl"] * float("nan")
            terms["loss"] = terms["recon"] + terms["kl"]
        return terms


class InfiniteGradient(Stateless):
    """A finite loss whose gradient is not: d sqrt(u)/du at u = 0."""

    name = "inf_grad"

    def terms(self, logits, x, mu, logvar, *, z=None, step=0):
        terms = BetaVAE(beta=1.0).terms(logits, x, mu, logvar)
        terms["loss"] = terms["loss"] + 0.0 * (mu * 0).abs().sum().sqrt()
        return terms


def test_a_nan_term_stops_at_its_step_and_names_it():
    seed_everything(0)
    model = VAE(
        ModelConfig(
            arch="mlp", latent_dim=4, hidden_dim=16, image_shape=(1, 64, 64), likelihood="bernoulli", gaussian_std=0.1
        )
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logged = []
    with pytest.raises(
        TrainingDiverged, match=r"^training diverged at step 3: kl is nan \(loss nan, recon [\d.]+, kl nan\)$"
    ):
        train_vae(model, _packed(), _config(NanAt(3)), torch.Generator().manual_seed(0), logged.append)
    assert logged == []  # no log point reached
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed and all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_a_non_finite_gradient_stops_at_once():
    seed_everything(0)
    model = VAE(
        ModelConfig(
            arch="mlp", latent_dim=4, hidden_dim=16, image_shape=(1, 64, 64), likelihood="bernoulli", gaussian_std=0.1
        )
    )
    with pytest.raises(
        TrainingDiverged, match=r"^training diverged at step 1: the gradient of encoder\.\S+ is not finite"
    ):
        train_vae(model, _packed(), _config(InfiniteGradient()), torch.Generator().manual_seed(0))


def test_a_huge_learning_rate_diverges_with_the_step_named():
    seed_everything(0)
    model = VAE(
        ModelConfig(
            arch="mlp", latent_dim=4, hidden_dim=16, image_shape=(1, 64, 64), likelihood="bernoulli", gaussian_std=0.1
        )
    )
    with pytest.raises(TrainingDiverged, match=r"^training diverged at step \d+: (recon|kl|loss) is (nan|inf)"):
        train_vae(model, _packed(), _config(BetaVAE(beta=4.0), lr=1e30, steps=50), torch.Generator().manual_seed(0))
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_checkpoints_clear_removes_their_folder(tmp_path):
    checkpoints = Checkpoints(tmp_path / "k", every_steps=2, every_seconds=0)
    assert checkpoints.load() is None and not checkpoints.due(1) and checkpoints.due(2)
    checkpoints.save({"step": 2})
    assert Checkpoints(tmp_path / "k", 2, 0).load() == {"step": 2}
    checkpoints.clear()
    assert not (tmp_path / "k").exists()


def test_the_checkpoint_folder_is_git_ignored():
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert "/.checkpoints/" in ignored


def test_ctrl_c_stops_after_the_step_with_a_checkpoint_and_resumes_identically(tmp_path, one_thread):
    import os

    from vae.errors import TrainingInterrupted

    tiny = _tiny_module()
    reference, _ = tiny(None, STEPS)
    namespace: dict = {"__name__": "tiny"}
    exec(SCRIPT.replace('print("step", point.step, flush=True)', "hook(point)"), namespace)

    def interrupt_at_10(point):
        if point.step == 10:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in a terminal

    namespace["hook"] = interrupt_at_10
    folder = tmp_path / "ckpt"
    # Python's own Ctrl-C handler, as in a terminal (a test run started in a script's background inherits
    # SIGINT ignored instead).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(TrainingInterrupted) as stopped:
            namespace["tiny"](folder, STEPS)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert (stopped.value.step, stopped.value.saved) == (10, True)
    assert torch.load(folder / "state.pt", weights_only=True)["step"] == 10
    namespace["hook"] = lambda point: None
    model, _ = namespace["tiny"](folder, STEPS)
    assert weights_digest(model) == weights_digest(reference)


def test_the_cli_says_how_to_resume():
    from typer import Typer
    from typer.testing import CliRunner

    from pipeline.cli import user_errors
    from vae.errors import TrainingInterrupted

    app = Typer()

    @app.command()
    @user_errors
    def train() -> None:
        raise TrainingInterrupted(1234, saved=True)

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 130
    assert result.output.strip() == (
        "interrupted after step 1234: checkpoint saved; run the same command again "
        "(dvc repro, dvc exp run or vae-pipe sweep) to resume"
    )


def test_an_unreadable_checkpoint_means_starting_over(tmp_path):
    (tmp_path / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        assert Checkpoints(tmp_path, 1, 0).load() is None
