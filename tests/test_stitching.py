"""Cross-stitch and sluice networks: the mixing units, their limits, and the orthogonality penalty."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dense_models import CONVS, NORMALIZED, TASKS, WIDTHS, images
from mtl_ref.models import CrossStitch, CrossStitchUnit, Independent, Sluice
from mtl_ref.models.sluice import subspace_overlap


def same_outputs(model: nn.Module, reference: nn.Module, x: torch.Tensor) -> None:
    out, ref = model(x), reference(x)
    assert list(out) == list(ref)
    for task in ref:
        torch.testing.assert_close(out[task], ref[task])


# --- cross-stitch -------------------------------------------------------------------------------------------------


def test_units_start_from_the_papers_mixture() -> None:
    torch.testing.assert_close(CrossStitchUnit(2).alpha.detach(), torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    three = CrossStitchUnit(3).alpha.detach()
    torch.testing.assert_close(three, torch.full((3, 3), 0.05) + 0.85 * torch.eye(3))
    torch.testing.assert_close(CrossStitchUnit(4, alpha_same=0.7).alpha.sum(dim=1), torch.ones(4))
    assert CrossStitchUnit(1).alpha.item() == 1.0
    with pytest.raises(ValueError, match="alpha_same must be in"):
        CrossStitchUnit(2, alpha_same=1.5)


def test_a_unit_gives_each_task_its_own_mixture() -> None:
    unit = CrossStitchUnit(2)
    with torch.no_grad():
        unit.alpha.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    a, b = torch.ones(2, 3), torch.full((2, 3), 10.0)
    mixed = unit([a, b])
    torch.testing.assert_close(mixed[0], torch.full((2, 3), 21.0))
    torch.testing.assert_close(mixed[1], torch.full((2, 3), 43.0))
    with pytest.raises(ValueError, match="mixes 2 activations, got 3"):
        unit([a, b, a])


@pytest.mark.parametrize("train", [True, False])
def test_cross_stitch_with_identity_units_is_independent_networks(train: bool) -> None:
    torch.manual_seed(0)
    model = CrossStitch(TASKS, WIDTHS, CONVS, normalized=NORMALIZED)
    with torch.no_grad():
        for alpha in model.stitch_parameters():
            alpha.copy_(torch.eye(len(TASKS)))
    independent = Independent({t: nn.Sequential(model.nets[t], model.heads[t]) for t in TASKS})
    model.train(train)
    same_outputs(model, independent, images())


def test_cross_stitch_exposes_its_units() -> None:
    model = CrossStitch(TASKS, WIDTHS, CONVS, normalized=NORMALIZED)
    alphas = model.alphas()
    assert alphas.shape == (6, 3, 3) and not alphas.requires_grad
    assert len(model.layer_names) == 6
    stitches = model.stitch_parameters()
    assert len(stitches) == 6 and all(s.shape == (3, 3) for s in stitches)
    # A chapter gives the units their own learning rate with a parameter group.
    others = [p for p in model.parameters() if all(p is not s for s in stitches)]
    optimizer = torch.optim.Adam([{"params": others}, {"params": stitches, "lr": 0.1}], lr=1e-3)
    sum(o.sum() for o in model(images()).values()).backward()
    optimizer.step()
    assert not torch.equal(model.alphas(), alphas)


# --- sluice -------------------------------------------------------------------------------------------------------


def test_sluice_without_subspaces_mixing_or_skips_is_independent_networks() -> None:
    torch.manual_seed(0)
    model = Sluice(TASKS, WIDTHS, CONVS, normalized=NORMALIZED, subspaces=1)
    with torch.no_grad():
        for unit in (*model.encoder_stitch, *model.decoder_stitch):
            unit.alpha.copy_(torch.eye(len(TASKS)))
        for beta in model.beta.values():
            beta.copy_(torch.tensor([0.0, 0.0, 1.0]))
    assert all(isinstance(lateral[-1], nn.Identity) for lateral in model.lateral.values())
    independent = Independent({t: nn.Sequential(model.nets[t], model.heads[t]) for t in TASKS})
    same_outputs(model, independent, images())


def test_sluice_blocks_are_task_major_then_subspace() -> None:
    model = Sluice({"a": 1, "b": 1}, (4,), (1,), subspaces=2)
    unit = model.encoder_stitch[0]
    swap = torch.eye(4)[[1, 0, 2, 3]]  # task a's two subspaces trade places, task b is untouched
    with torch.no_grad():
        unit.alpha.copy_(swap)
    a = torch.arange(4.0).view(1, 4, 1, 1)
    b = torch.arange(4.0, 8.0).view(1, 4, 1, 1)
    mixed_a, mixed_b = model._mix(unit, [a, b])
    torch.testing.assert_close(mixed_a.flatten(), torch.tensor([2.0, 3.0, 0.0, 1.0]))
    torch.testing.assert_close(mixed_b, b)


def test_sluice_exposes_alpha_and_beta() -> None:
    model = Sluice(TASKS, WIDTHS, CONVS, normalized=NORMALIZED)
    alphas, betas = model.alphas(), model.betas()
    assert alphas.shape == (6, 6, 6) and betas.shape == (3, 3)
    torch.testing.assert_close(alphas[0].diagonal(), torch.full((6,), 0.9))
    torch.testing.assert_close(alphas[0].sum(dim=1), torch.ones(6))
    # The authors' default: a bias towards the last layer, 0.9 there and the rest spread over the other blocks.
    torch.testing.assert_close(betas, torch.tensor([[0.05, 0.05, 0.9]] * 3))
    torch.testing.assert_close(Sluice(TASKS, WIDTHS, CONVS, beta_last=1 / 3).betas(), torch.full((3, 3), 1 / 3))
    assert len(model.stitch_parameters()) == 6 + 3
    with pytest.raises(ValueError, match="beta_last"):
        Sluice(TASKS, WIDTHS, CONVS, beta_last=1.5)


def test_sluice_without_mixing_keeps_alpha_at_identity_and_trains_only_beta() -> None:
    torch.manual_seed(0)
    model = Sluice(TASKS, WIDTHS, CONVS, normalized=NORMALIZED, mix=False, stitch_lr_scale=10.0)
    torch.testing.assert_close(model.alphas(), torch.eye(6).expand(6, 6, 6))
    assert model.shared_parameters() == []
    groups = model.param_groups(1e-3)
    assert [len(g["params"]) for g in groups][1] == len(TASKS)  # only the β learn at the faster rate
    assert all(p.requires_grad for p in groups[0]["params"])
    # Each task's prediction depends only on its own network: perturbing another task's network changes nothing.
    x = images()
    before = model(x)["depth"].detach()
    with torch.no_grad():
        for p in model.nets["segmentation"].parameters():
            p.add_(1.0)
    torch.testing.assert_close(model(x)["depth"], before)
    # With mixing, the same perturbation reaches the depth head.
    torch.manual_seed(0)
    mixed = Sluice(TASKS, WIDTHS, CONVS, normalized=NORMALIZED, stitch_lr_scale=10.0)
    before = mixed(x)["depth"].detach()
    with torch.no_grad():
        for p in mixed.nets["segmentation"].parameters():
            p.add_(1.0)
    assert not torch.allclose(mixed(x)["depth"], before)


def test_subspace_overlap_by_hand() -> None:
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 2.0]])  # subspaces {0, 1} and {2, 3}
    assert subspace_overlap(weight, 2).item() == 1 + 0 + 1 + 4  # squared entries of [[1, 0], [1, 2]]
    assert subspace_overlap(weight, 1).item() == 0
    orthogonal = torch.tensor([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0]])
    assert subspace_overlap(orthogonal, 2).item() == 0
    assert subspace_overlap(torch.eye(3) + 1, 3).item() == 3 * 5 ** 2  # three pairs of rows with dot product 5


def test_orthogonality_penalty_sums_every_blocks_last_layer() -> None:
    model = Sluice(TASKS, WIDTHS, CONVS, normalized=NORMALIZED, orthogonality=0.5)
    expected = sum(subspace_overlap(block[-1][0].weight, 2)
                   for net in model.nets.values() for block in (*net.encoder, *net.decoder))
    torch.testing.assert_close(model.regularization(), 0.5 * expected)
    model.regularization().backward()
    assert model.nets["depth"].encoder[0][-1][0].weight.grad.abs().sum() > 0
    assert Sluice(TASKS, WIDTHS, CONVS, orthogonality=0.0).regularization() is None
    assert Sluice(TASKS, WIDTHS, CONVS, subspaces=1).regularization() is None
