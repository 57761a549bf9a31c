"""disentanglement_lib's datasets read from the user's files (3D Shapes, MPI3D, SmallNORB, Cars3D): tiny files in
each real format are prepared, read back with their factors, sized for the 64×64 conv net, and scored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.core.configs import model_config
from pipeline.core.errors import ParamsError
from pipeline.core.params import parse_params
from pipeline.core.paths import Outputs
from pipeline.stages import prepare
from pipeline.stages.ground_truth import IncompleteGrid, ground_truth, scored_factors
from pipeline.stages.scores import add_scores, disentanglement_scores
from testkit.project import TINY_PARAMS
from testkit.suite_files import MPI3D_SIZES, write_cars3d, write_mpi3d, write_shapes3d, write_smallnorb
from vae import datasets
from vae.datasets import load_dataset, mpi3d
from vae.datasets.factored import FactorGrid
from vae.errors import DatasetError
from vae.model import VAE


def _prepare(tmp_path, dataset: str, source, **data) -> datasets.ImageData:
    out = Outputs(tmp_path / "work")
    params = parse_params({"data": {"dataset": dataset, "source": str(source), "test_size": 4, **data}})
    prepare.run(params, out)
    return load_dataset(dataset, out.dataset)


def _lanczos(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((64, 64), Image.Resampling.LANCZOS))


def test_shapes3d_reads_the_h5_images_and_ranks_each_label_into_classes(tmp_path):
    images, classes = write_shapes3d(tmp_path / "3dshapes.h5")
    loaded = _prepare(tmp_path, "shapes3d", tmp_path / "3dshapes.h5")
    np.testing.assert_array_equal(loaded.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(loaded.factors, classes)  # label values 0, 0.2 → classes 0, 1
    assert loaded.info.factor_names == ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    subsample = _prepare(tmp_path, "shapes3d", tmp_path / "3dshapes.h5", subsample=20)
    rows = [np.flatnonzero((images == image.transpose(1, 2, 0)).all(axis=(1, 2, 3)))[0] for image in subsample.images]
    np.testing.assert_array_equal(subsample.factors, classes[rows])  # a row keeps its classes in a subsample


def test_mpi3d_takes_its_factor_grid_from_the_image_count(tmp_path, monkeypatch):
    images, classes = write_mpi3d(tmp_path / "mpi3d_real.npz")
    with pytest.raises(DatasetError, match=r"48 images; an MPI3D file holds 1,036,800 or 460,800"):
        _prepare(tmp_path, "mpi3d_real", tmp_path / "mpi3d_real.npz")
    monkeypatch.setitem(mpi3d.LAYOUTS, len(images), MPI3D_SIZES)  # a reduced grid in the real format
    loaded = _prepare(tmp_path, "mpi3d_real", tmp_path / "mpi3d_real.npz")
    np.testing.assert_array_equal(loaded.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(loaded.factors, classes)
    assert loaded.factors[1].tolist() == [0, 0, 0, 0, 0, 0, 1]  # the last factor varies fastest
    assert mpi3d.LAYOUTS[1_036_800] == (6, 6, 2, 3, 3, 40, 40) and np.prod(mpi3d.LAYOUTS[460_800]) == 460_800


def test_smallnorb_joins_both_chunks_resizes_the_left_image_and_keeps_instance_unscored(tmp_path):
    lefts, features = write_smallnorb(tmp_path / "norb")  # the testing chunk gzipped
    loaded = _prepare(tmp_path, "smallnorb", tmp_path / "norb")
    assert loaded.images.shape == (48, 1, 64, 64) and loaded.info.image_shape == (1, 64, 64)
    np.testing.assert_array_equal(loaded.images[:, 0], np.stack([_lanczos(image) for image in lefts]))
    np.testing.assert_array_equal(loaded.factors, features[:, [0, 2, 3, 4]])  # azimuth 0, 2, 4 → 0, 1, 2
    data = ground_truth("smallnorb", tmp_path / "work" / "data" / "dataset.npz")
    assert data.factor_sizes == (2, 2, 3, 2)  # category, elevation, azimuth, lighting: instance drawn
    rng = np.random.default_rng(0)
    seen = data.observations(np.zeros((40, 4), dtype=np.int64), rng)
    assert len({image.tobytes() for image in seen}) == 2  # the two instances of that combination


def test_cars3d_orders_elevation_azimuth_and_car_and_shrinks_each_view(tmp_path):
    views = write_cars3d(tmp_path / "cars")
    loaded = _prepare(tmp_path, "cars3d", tmp_path / "cars")
    assert loaded.images.shape == (18, 3, 64, 64)
    for image, (elevation, azimuth, car) in zip(loaded.images, loaded.factors):
        np.testing.assert_array_equal(image, _lanczos(views[car, azimuth, elevation]).transpose(2, 0, 1))
    assert {tuple(row) for row in loaded.factors} == {(e, a, c) for e in range(2) for a in range(3) for c in range(3)}


@pytest.mark.parametrize(
    ("dataset", "where", "url"),
    [
        ("shapes3d", "data/3dshapes/3dshapes.h5", "https://storage.googleapis.com/3d-shapes/3dshapes.h5"),
        ("mpi3d_toy", "data/mpi3d/mpi3d_toy.npz", "/Final_Dataset/mpi3d_toy.npz"),
        ("smallnorb", "data/smallnorb", "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"),
        ("cars3d", "data/cars3d", "nips2015-analogy-data.tar.gz"),
    ],
)
def test_a_missing_copy_is_one_line_saying_where_to_get_it_and_where_to_put_it(
    tmp_path, monkeypatch, dataset, where, url
):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # the repository root the default place is under
    with pytest.raises(DatasetError) as exc:
        prepare.run(parse_params({"data": {"dataset": dataset}}), Outputs(tmp_path / "work"))
    message = str(exc.value)
    assert "\n" not in message and message.startswith(str(tmp_path / where))
    assert url in message and "nothing is downloaded" in message and "data.source" in message
    assert not (tmp_path / "work" / "data").exists()


def test_source_is_taken_by_the_local_datasets_only():
    assert parse_params({"data": {"dataset": "cars3d", "source": "elsewhere/cars"}}).data.source is not None
    with pytest.raises(ParamsError, match="dataset digits takes no source"):
        parse_params({"data": {"dataset": "digits", "source": "x.npz"}})


@pytest.mark.parametrize(("dataset", "shape"), [("shapes3d", (3, 64, 64)), ("smallnorb", (1, 64, 64))])
def test_they_get_the_64x64_conv_net_and_a_likelihood_for_grey_levels(dataset, shape):
    config = model_config(parse_params({"data": {"dataset": dataset}, "model": {"hidden_dim": 16}}))
    assert (config.arch, config.image_shape, config.likelihood) == ("conv", shape, "continuous_bernoulli")
    gaussian = parse_params({"data": {"dataset": dataset}, "model": {"likelihood": "gaussian"}})
    assert model_config(gaussian).likelihood == "gaussian"
    with pytest.raises(ParamsError, match=f"bernoulli is for binary images but {dataset} is grey"):
        parse_params({"data": {"dataset": dataset}, "model": {"likelihood": "bernoulli"}})


def test_factor_grid_finds_the_row_of_each_combination_and_knows_gaps():
    factors = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    grid = FactorGrid(factors, np.zeros((4, 0), dtype=np.int64))
    assert grid.factor_sizes == (2, 2) and grid.missing == 0
    assert grid.rows(np.array([[0, 0], [1, 1], [0, 1]]), np.random.default_rng(0)).tolist() == [1, 2, 3]
    gappy = FactorGrid(factors[:3], np.zeros((3, 0), dtype=np.int64))
    assert gappy.missing == 1
    with pytest.raises(ValueError, match="combination the dataset does not hold"):
        gappy.rows(np.array([[0, 1]]), np.random.default_rng(0))


def test_every_score_runs_on_a_whole_grid_and_a_subsample_says_why_not(tmp_path):
    images, classes = write_shapes3d(tmp_path / "3dshapes.h5")
    _prepare(tmp_path, "shapes3d", tmp_path / "3dshapes.h5")
    prepared = tmp_path / "work" / "data" / "dataset.npz"
    data = ground_truth("shapes3d", prepared)
    assert data.factor_sizes == (2, 2, 2, 2, 2, 3) and scored_factors("shapes3d")[0] == "floor_hue"
    rng = np.random.default_rng(0)
    asked = data.sample_factors(5, rng)
    rows = [np.flatnonzero((classes == f).all(axis=1))[0] for f in asked]
    np.testing.assert_allclose(data.observations(asked, rng), images[rows].transpose(0, 3, 1, 2) / 255.0, atol=1e-7)

    # The voting scores at small sizes (DCI and SAP fit classifiers for seconds; the end-to-end test runs all).
    votes = {"batch_size": 4, "num_train": 10, "num_eval": 5}
    params = parse_params(
        {
            "model": TINY_PARAMS["model"],
            "data": {"dataset": "shapes3d"},
            "eval": {
                "iwae_k": 2,
                "iwae_points": 8,
                "beta_vae": votes,
                "factor_vae": {**votes, "num_variance_estimate": 40},
            },
        }
    )
    torch.manual_seed(0)
    model = VAE(model_config(params)).eval()
    metrics, details = disentanglement_scores(params, model, torch.device("cpu"), ("factor_vae", "beta_vae"), prepared)
    assert 0 <= metrics["factor_vae"] <= 1 and 0 <= metrics["beta_vae"] <= 1
    assert details["scored_factors"] == list(scored_factors("shapes3d"))
    assert np.asarray(details["factor_vae_votes"]).shape == (6, 10)  # factors × latents

    held_out = torch.from_numpy(load_dataset("shapes3d", prepared).images[:8])
    _prepare(tmp_path, "shapes3d", tmp_path / "3dshapes.h5", subsample=50)
    with pytest.raises(IncompleteGrid):
        ground_truth("shapes3d", prepared)
    metrics, details = add_scores(params, model, torch.device("cpu"), held_out, {}, {}, prepared)
    assert "sap" not in metrics and "iwae" in metrics
    assert "data.subsample keeps 50 images" in details["scores_skipped"]
