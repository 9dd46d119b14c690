"""The dense setups of the MTAN chapter: every profile's settings build and train, ``full`` included."""

from __future__ import annotations

import pytest
import torch

from mtl_ref import fit
from mtl_ref.data.synthscenes import NUM_CLASSES, synthscenes
from mtl_ref.dense_setup import ARCHITECTURES, DENSE_SETUPS, dense_model, to_channels_last
from mtl_ref.dense_tasks import dense_tasks
from mtl_ref.models import MTAN, count_parameters
from mtl_ref.weighting import method


@pytest.mark.parametrize("profile", list(DENSE_SETUPS))
def test_image_sizes_fit_the_segnet_layout(profile: str) -> None:
    setup = DENSE_SETUPS[profile]
    factor = 2 ** len(setup.widths)
    assert setup.height % factor == 0 and setup.width % factor == 0
    assert len(setup.widths) == len(setup.convs)


def test_unknown_architecture_is_rejected() -> None:
    with pytest.raises(ValueError, match="valid ones"):
        dense_model("dense", DENSE_SETUPS["smoke"], NUM_CLASSES)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_predicts_all_three_tasks(architecture: str) -> None:
    setup = DENSE_SETUPS["smoke"]
    model = dense_model(architecture, setup, NUM_CLASSES)
    out = model(torch.rand(2, 3, setup.height, setup.width))
    assert out["segmentation"].shape == (2, NUM_CLASSES, setup.height, setup.width)
    assert out["depth"].shape == (2, 1, setup.height, setup.width)
    assert torch.allclose(out["normal"].norm(dim=1), torch.ones(2, setup.height, setup.width), atol=1e-5)


def test_full_setup_is_the_papers_mtan() -> None:
    model = dense_model("MTAN", DENSE_SETUPS["full"], 13)
    assert isinstance(model, MTAN)
    # 44,229,076 in the paper's script, which also counts the 3 log-variances of uncertainty weighting.
    assert count_parameters(model) == 44_229_073


def test_full_setup_trains_one_step_of_mtan_on_a_tiny_batch() -> None:
    """The ``full`` model, channels-last layout, uncertainty weighting and learning rate, on two small images."""
    setup = DENSE_SETUPS["full"]
    factor = 2 ** len(setup.widths)
    data = synthscenes(2, factor, factor, seed=0)
    torch.manual_seed(0)
    model = dense_model("MTAN", setup, NUM_CLASSES)
    model, data = to_channels_last(model, data)
    before = model.segnet.encoder[0][0][0].weight.detach().clone()
    history = fit(model, dense_tasks(NUM_CLASSES), data, test=data, epochs=1, batch_size=2, lr=setup.lr,
                  method=method("uncertainty", num_tasks=3), amp=False, progress=False)
    assert len(history.train_loss) == 1 and all(torch.isfinite(torch.tensor(history.train_loss[0])))
    assert not torch.equal(before, model.segnet.encoder[0][0][0].weight)
    assert set(history.final) == {"segmentation", "depth", "normal"}


@pytest.mark.parametrize("profile", list(DENSE_SETUPS))
def test_mtan_has_fewer_parameters_than_cross_stitch_and_one_network_per_task(profile: str) -> None:
    """The order of the parameter counts in the MTAN chapter's table holds at every profile's sizes."""
    setup = DENSE_SETUPS[profile]
    with torch.device("meta"):
        size = {a: count_parameters(dense_model(a, setup, NUM_CLASSES)) for a in ARCHITECTURES}
    assert size["split"] < size["MTAN"] < size["cross-stitch"]
    assert size["MTAN"] < size["single-task"]


def test_cross_stitch_units_learn_at_the_setups_rate() -> None:
    setup = DENSE_SETUPS["quick"]
    model = dense_model("cross-stitch", setup, NUM_CLASSES)
    alpha = {id(p) for p in model.stitch_parameters()}
    for group in model.param_groups(setup.lr):
        fast = {id(p) in alpha for p in group["params"]}
        assert len(fast) == 1, "a group mixes α with other parameters"
        assert group["lr"] == pytest.approx(setup.lr * (setup.stitch_lr_scale if fast.pop() else 1.0))
