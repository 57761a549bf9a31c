"""eval/codes.npz: the held-out sample every seed encodes for UDR, written deterministically and read back."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.codes import Codes, read_codes, write_codes
from pipeline.core.errors import OutputError
from pipeline.core.params import parse_params
from pipeline.stages.evaluate import udr_sample


def test_the_sample_depends_on_the_split_seed_not_the_seed():
    rng = np.random.default_rng(0)
    means, logvars = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    seed0 = udr_sample(parse_params({"seed": 0, "eval": {"udr_points": 50}}), means, logvars)
    seed1 = udr_sample(parse_params({"seed": 1, "eval": {"udr_points": 50}}), means, logvars)
    other_split = udr_sample(parse_params({"data": {"split_seed": 1}, "eval": {"udr_points": 50}}), means, logvars)
    np.testing.assert_array_equal(seed0.rows, seed1.rows)
    assert len(seed0.rows) == 50 == len(set(seed0.rows)) and not np.array_equal(seed0.rows, other_split.rows)
    np.testing.assert_array_equal(seed0.means, means[seed0.rows])
    np.testing.assert_array_equal(seed0.logvars, logvars[seed0.rows])
    capped = udr_sample(parse_params({}), means, logvars)  # 1000 asked, 300 held out
    np.testing.assert_array_equal(capped.rows, np.arange(300))


def test_codes_round_trip_with_equal_bytes_and_one_line_errors(tmp_path):
    rng = np.random.default_rng(1)
    codes = Codes(np.arange(5) * 3, rng.normal(size=(5, 2)), rng.normal(size=(5, 2)))
    write_codes(tmp_path / "a.npz", codes)
    write_codes(tmp_path / "b.npz", codes)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = read_codes(tmp_path / "a.npz", "rerun")
    np.testing.assert_array_equal(back.rows, codes.rows)
    np.testing.assert_allclose(back.means, codes.means, rtol=1e-6)  # stored as float32
    assert back.logvars.dtype == np.float32
    with pytest.raises(OutputError, match=r"missing\.npz: missing; run `dvc repro`$"):
        read_codes(tmp_path / "missing.npz", "run `dvc repro`")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(OutputError, match=r"bad\.npz: not a codes file"):
        read_codes(tmp_path / "bad.npz", "rerun")
    write_codes(tmp_path / "short.npz", Codes(np.arange(4), codes.means, codes.logvars))
    with pytest.raises(OutputError, match=r"shapes rows \(4,\), means \(5, 2\)"):
        read_codes(tmp_path / "short.npz", "rerun")
