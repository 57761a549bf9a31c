"""Named random streams: each its own number, so no stream shifts another."""

from __future__ import annotations

import numpy as np
import torch

from pipeline.core.streams import NUMPY_STREAMS, TORCH_STREAMS, numpy_stream, torch_stream


def test_every_stream_has_its_own_number():
    numbers = list(NUMPY_STREAMS.values())
    assert len(set(numbers)) == len(numbers)
    seeded = list(TORCH_STREAMS.values())
    assert len(set(seeded)) == len(seeded)


def test_streams_draw_as_their_seeds_say():
    # [split_seed, k] for a numbered numpy stream, the split seed alone for None; seed + offset for torch.
    assert np.array_equal(numpy_stream("dci", 7).random(3), np.random.default_rng([7, 1]).random(3))
    assert np.array_equal(numpy_stream("held_out_rows", 7).random(3), np.random.default_rng(7).random(3))
    assert not np.array_equal(numpy_stream("dci", 7).random(3), numpy_stream("sap", 7).random(3))
    drawn = torch.rand(3, generator=torch_stream("held_out_codes", {"seed": 0, "data.split_seed": 7}))
    assert torch.equal(drawn, torch.rand(3, generator=torch.Generator().manual_seed(8)))
