"""Checkpoint selection on the mean relative validation loss."""

import pytest
import torch
from torch import nn

from mtl_ref.selection import BestCheckpoint, grid_end, relative_loss


def test_relative_loss_is_scale_free():
    assert relative_loss([1.0, 50.0], [2.0, 100.0]) == pytest.approx(0.5)
    assert relative_loss([1.0, 5000.0], [2.0, 10000.0]) == pytest.approx(0.5)


def test_relative_loss_errors():
    with pytest.raises(ValueError, match="one validation loss per task"):
        relative_loss([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="must be positive"):
        relative_loss([1.0, 1.0], [0.0, 2.0])


def test_best_checkpoint_keeps_the_lowest_and_ignores_nan():
    net = nn.Linear(2, 1)
    best = BestCheckpoint([1.0, 1.0])
    assert best.restore(net) is False
    best.offer(net, [0.5, 0.5], epoch=1)
    kept = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    best.offer(net, [0.6, 0.6], epoch=2)
    best.offer(net, [float("nan"), 0.1], epoch=3)
    assert best.epoch == 1
    assert best.restore(net) and torch.equal(net.weight, kept)


def test_grid_end_names_the_end_and_spares_the_inside():
    grid = [1e-3, 3e-3, 1e-2]
    assert grid_end(1e-3, grid) == "smallest"
    assert grid_end(1e-2, grid) == "largest"
    assert grid_end(3e-3, grid) is None
    assert grid_end(3e-3, [3e-3]) is None  # one value: nothing was tuned
    assert grid_end(0.3, [0.3, 0.0, 0.1]) == "largest"  # order of the grid does not matter


def test_grid_end_floor_is_not_an_end():
    decays = [0.0, 0.01, 0.1]
    assert grid_end(0.0, decays, floor=0.0) is None
    assert grid_end(0.0, decays) == "smallest"
    assert grid_end(0.1, decays, floor=0.0) == "largest"


def test_grid_end_errors_name_the_value_and_grid():
    with pytest.raises(ValueError, match=r"0\.5 is not in its grid"):
        grid_end(0.5, [0.1, 1.0])
    with pytest.raises(ValueError, match="empty"):
        grid_end(0.1, [])
