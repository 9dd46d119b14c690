"""StackedAdam is torch's Adam member by member, with per-member and per-parameter rates; BestWeights keeps each
member's lowest-score weights and ignores NaN."""

import pytest
import torch

from mtl_ref.stacked_adam import BestWeights, StackedAdam


def test_each_member_follows_torch_adam_with_its_own_rates():
    torch.manual_seed(0)
    start = {"w": torch.randn(3, 4, 2), "b": torch.randn(3, 2)}
    rates = {"w": torch.tensor([1e-2, 3e-3, 1e-1]), "b": torch.tensor([1e-1, 1e-2, 3e-2])}
    params = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    adam = StackedAdam(params, rates)
    grads = [{k: torch.randn_like(v) for k, v in start.items()} for _ in range(5)]
    for g in grads:
        adam.step(params, g)
    for m in range(3):
        alone = {k: v[m].clone().requires_grad_(True) for k, v in start.items()}
        opt = torch.optim.Adam([{"params": [alone[k]], "lr": rates[k][m].item()} for k in alone])
        for g in grads:
            for k in alone:
                alone[k].grad = g[k][m].clone()
            opt.step()
        for k in alone:
            torch.testing.assert_close(params[k][m].detach(), alone[k].detach(), rtol=1e-6, atol=1e-7)


def test_a_parameter_without_gradient_stays_and_bad_rates_are_named():
    params = {"used": torch.zeros(2, 3), "unused": torch.ones(2, 3)}
    adam = StackedAdam(params, 0.1)
    adam.step(params, {"used": torch.ones(2, 3), "unused": None})
    assert torch.equal(params["unused"], torch.ones(2, 3)) and (params["used"] < 0).all()
    with pytest.raises(ValueError, match="'used'"):
        StackedAdam(params, {"used": torch.ones(3), "unused": torch.ones(2)})


def test_best_weights_keep_the_lowest_score_and_ignore_nan():
    params = {"w": torch.zeros(3, 2)}
    best = BestWeights(params, at=-1)
    best.offer({"w": torch.full((3, 2), 1.0)}, torch.tensor([1.0, 1.0, float("nan")]), at=10)
    better = best.offer({"w": torch.full((3, 2), 2.0)}, torch.tensor([0.5, 2.0, 0.1]), at=20)
    assert better.tolist() == [True, False, True]
    assert best.at.tolist() == [20, 10, 20]
    assert best.kept["w"][:, 0].tolist() == [2.0, 1.0, 2.0]
    torch.testing.assert_close(best.score, torch.tensor([0.5, 1.0, 0.1]))
