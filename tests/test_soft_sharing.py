"""Soft parameter sharing: the L2 and trace-norm penalties by hand, and the models that carry them."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from dense_models import CONVS, NORMALIZED, TASKS, WIDTHS
from mtl_ref.models import (CrossStitch, Sluice, SoftSharing, count_parameters, l2_distance, segnet_single_task,
                            segnet_split, soft_sharing_segnet, trace_norm)

A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
B = torch.tensor([[0.0, 2.0], [3.0, 1.0]])
C = torch.tensor([[1.0, 0.0], [0.0, 4.0]])


def test_l2_distance_by_hand() -> None:
    assert l2_distance([A, B]).item() == 1 + 9
    assert l2_distance([A, B, C]).item() == (1 + 9) + (4 + 9) + (1 + 4 + 9 + 9)  # A-B, A-C, B-C
    assert l2_distance([A, A.clone(), A.clone()]).item() == 0
    assert l2_distance([A]).item() == 0
    stacked = torch.stack([A, B, C])
    torch.testing.assert_close(l2_distance([A, B, C]), 3 * (stacked - stacked.mean(0)).pow(2).sum())


def test_trace_norm_by_hand() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    # Every unfolding of the stacked 2 × 2 × 2 tensor has the rows (1, 0, 0, 0) and (0, 0, 0, 2) up to order.
    for mode in (0, 1, 2, -1):
        torch.testing.assert_close(trace_norm([a, b], modes=(mode,)), torch.tensor(3.0))
    torch.testing.assert_close(trace_norm([a, b]), torch.tensor(9.0))
    # Identical task weights: the task-mode unfolding has rank one, with singular value √T ‖W‖_F.
    torch.testing.assert_close(trace_norm([A, A, A], modes=(-1,)), 3 ** 0.5 * A.norm())
    with pytest.raises(ValueError, match="mode 3 does not exist"):
        trace_norm([a, b], modes=(3,))


def test_trace_norm_gradient_is_finite_for_identical_weights() -> None:
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    trace_norm([w, w, w]).backward()
    assert torch.isfinite(w.grad).all()


def soft(penalty: str = "l2", weight: float = 0.5, same_init: bool = True) -> SoftSharing:
    torch.manual_seed(0)
    return soft_sharing_segnet(TASKS, WIDTHS, CONVS, normalized=NORMALIZED, penalty=penalty, weight=weight,
                               same_init=same_init)


def test_l2_penalty_is_zero_for_identical_trunks_and_counts_each_pair() -> None:
    model = soft()
    assert model.regularization().item() == 0
    assert model.shared_parameters() == []
    tied = model.tied_weights()
    assert tied and all(p.ndim >= 2 and len(ps) == 3 for ps in tied.values() for p in ps)
    name = next(iter(tied))
    delta = torch.randn_like(tied[name][0])
    with torch.no_grad():
        tied[name][0].add_(delta)
    # Task 0 now differs from each of the other two by delta.
    torch.testing.assert_close(model.regularization(), 0.5 * 2 * delta.pow(2).sum())


def test_penalties_cover_every_tied_layer() -> None:
    model = soft("trace_norm", weight=0.1, same_init=False)
    expected = sum(trace_norm(ws) for ws in model.tied_weights().values())
    torch.testing.assert_close(model.regularization(), 0.1 * expected)
    only_tasks = SoftSharing({t: net[0] for t, net in model.nets.items()},
                             {t: net[1] for t, net in model.nets.items()},
                             partial(trace_norm, modes=(-1,)), weight=1.0)
    expected = sum(trace_norm(ws, modes=(-1,)) for ws in model.tied_weights().values())
    torch.testing.assert_close(only_tasks.regularization(), expected)
    assert soft(weight=0.0).regularization() is None


def test_trunks_must_match() -> None:
    trunks = {"a": nn.Linear(2, 3), "b": nn.Linear(2, 4)}
    heads = {"a": nn.Linear(3, 1), "b": nn.Linear(4, 1)}
    with pytest.raises(ValueError, match=r"parameter 'bias' is \(3,\) for task 'a' and \(4,\) for task 'b'"):
        SoftSharing(trunks, heads, l2_distance, weight=1.0)
    with pytest.raises(ValueError, match=r"parameter '1.bias' is missing for task 'a' and \(3,\) for task 'b'"):
        SoftSharing({"a": nn.Sequential(nn.Linear(2, 3)), "b": nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 3))},
                    {"a": nn.Linear(3, 1), "b": nn.Linear(3, 1)}, l2_distance, weight=1.0)
    with pytest.raises(ValueError, match="heads for \\['a'\\]"):
        SoftSharing({"a": nn.Linear(2, 3), "b": nn.Linear(2, 3)}, {"a": nn.Linear(3, 1)}, l2_distance, 1.0)
    with pytest.raises(ValueError, match="unknown penalty 'l1'"):
        soft("l1")


def test_soft_sharing_works_for_any_trunk() -> None:
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    model = SoftSharing({"a": trunk, "b": nn.Sequential(nn.Linear(4, 8), nn.ReLU())},
                        {"a": nn.Linear(8, 2), "b": nn.Linear(8, 1)}, l2_distance, weight=1.0)
    assert list(model.tied_weights()) == ["0.weight"]
    out = model(torch.randn(5, 4))
    assert out["a"].shape == (5, 2) and out["b"].shape == (5, 1)
    model.regularization().backward()
    assert trunk[0].weight.grad.abs().sum() > 0 and trunk[0].bias.grad is None


def test_parameter_budget_of_the_chapter_layout() -> None:
    """The chapter's quick layout: hard sharing is about a third of three single-task networks, and the mixing
    weights of cross-stitch and sluice (α, β and the skip path's 1×1 convolutions) add under 2 %."""
    outputs, layout = {"segmentation": 10, "depth": 1, "normal": 3}, dict(widths=(8, 16, 32), convs=(1, 1, 1),
                                                                           normalized=["normal"])
    single = count_parameters(segnet_single_task(outputs, **layout))
    assert count_parameters(segnet_split(outputs, **layout)) / single <= 0.4
    assert count_parameters(soft_sharing_segnet(outputs, **layout, weight=0.1)) == single
    for model in (CrossStitch(outputs, **layout), Sluice(outputs, **layout), Sluice(outputs, **layout, mix=False)):
        assert 0 < count_parameters(model) - single < 0.02 * single
