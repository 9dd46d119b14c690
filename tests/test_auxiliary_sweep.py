"""Stacked training of seeds × helper weights, the weight choice, probes and the symmetry hint."""

from __future__ import annotations

import pytest
import torch

from mtl_ref.auxiliary import (choose_weight, fit_stacked_params, head_mse, linear_probe_accuracy, linear_probe_r2,
                               main_loss, member_generators, member_module, run_mlp, stack_splits, stacked_mlp,
                               sweep_helper_weight, symmetry_hint, trunk)
from mtl_ref.data.auxiliary import related_tasks, symmetric_target


def test_stacked_mlp_matches_separate_linear_layers() -> None:
    params = stacked_mlp(3, [4, 5, 2], "net", member_generators(3))
    assert params["net.0.weight"].shape == (3, 4, 5) and params["net.1.bias"].shape == (3, 1, 2)
    assert params["net.0.weight"].abs().max() <= 0.5  # uniform in ±1/√4
    x = torch.randn(3, 7, 4)
    out = run_mlp(params, "net", x)
    for m in range(3):  # oracle: each model on its own
        h = torch.tanh(x[m] @ params["net.0.weight"][m] + params["net.0.bias"][m])
        assert torch.allclose(out[m], h @ params["net.1.weight"][m] + params["net.1.bias"][m], atol=1e-6)
    with pytest.raises(KeyError, match="no layers"):
        run_mlp(params, "other", x)
    with pytest.raises(ValueError, match="layer sizes"):
        stacked_mlp(2, [3], "net")


def test_a_member_starts_from_the_same_weights_however_many_are_stacked() -> None:
    few, many = member_generators(2, seed=7), member_generators(5, seed=7)
    for prefix, sizes in (("net", [4, 5]), ("out", [5, 1])):  # later calls continue each member's stream
        a, b = stacked_mlp(2, sizes, prefix, few), stacked_mlp(5, sizes, prefix, many)
        assert torch.equal(a[f"{prefix}.0.weight"], b[f"{prefix}.0.weight"][:2])
        assert not torch.equal(b[f"{prefix}.0.weight"][0], b[f"{prefix}.0.weight"][1])
    assert member_generators(1, seed=8)[0].initial_seed() != member_generators(1, seed=7)[0].initial_seed()
    with pytest.raises(ValueError, match="one generator per model"):
        stacked_mlp(3, [4, 5], "net", member_generators(2))


def test_member_module_computes_what_run_mlp_computes_for_that_member() -> None:
    params = stacked_mlp(3, [4, 5, 2], "net", member_generators(3))
    x = torch.randn(3, 7, 4)
    out = run_mlp(params, "net", x)
    for m in range(3):
        assert torch.allclose(member_module(params, "net", m)(x[m]), out[m], atol=1e-6)
    last = member_module(params, "net", 1, last=torch.nn.Sigmoid())
    assert torch.allclose(last(x[1]), torch.sigmoid(out[1]), atol=1e-6)
    assert sum(p.numel() for p in last.parameters()) == 4 * 5 + 5 + 5 * 2 + 2
    with pytest.raises(KeyError, match="no layers"):
        member_module(params, "other")


def test_fit_stacked_params_trains_each_model_on_its_own_loss_and_keeps_its_best() -> None:
    target = torch.tensor([1.0, -2.0])  # model m should learn bias = target[m]
    params = {"b.0.weight": torch.zeros(2, 1, 1), "b.0.bias": torch.zeros(2, 1, 1)}

    def loss(p, step):
        return (p["b.0.bias"].view(2) - target).square()

    fit = fit_stacked_params(params, loss, steps=400, lr=0.05, val=lambda p: (p["b.0.bias"].view(2) - target).abs(),
                             eval_every=10)
    assert torch.allclose(fit.params["b.0.bias"].view(2), target, atol=0.05)
    assert fit.best_step.shape == (2,)
    with pytest.raises(ValueError, match="one value per model"):
        fit_stacked_params(params, lambda p, s: p["b.0.bias"].sum(), steps=1)
    with pytest.raises(ValueError, match="steps"):
        fit_stacked_params(params, loss, steps=0)


def test_probes_read_a_linear_signal_and_miss_noise() -> None:
    g = torch.Generator().manual_seed(0)
    f, ft = torch.randn(2, 200, 5, generator=g), torch.randn(2, 200, 5, generator=g)
    r2 = linear_probe_r2(f, f[..., 0] * 2, ft, ft[..., 0] * 2)
    assert torch.all(r2 > 0.99)
    noise = linear_probe_r2(f, torch.randn(2, 200, generator=g), ft, torch.randn(2, 200, generator=g))
    assert torch.all(noise < 0.1)
    acc = linear_probe_accuracy(f, (f[..., 1] > 0).float(), ft, (ft[..., 1] > 0).float())
    assert torch.all(acc > 0.9)


def test_choose_weight_picks_the_lowest_validation_score_and_needs_zero() -> None:
    scores = torch.tensor([[1.0, 0.5, 0.7], [0.2, 0.2, 0.9]])
    assert choose_weight(scores, [0.0, 1.0, 3.0]).tolist() == [1, 0]  # tie -> the smaller weight
    with pytest.raises(ValueError, match="include 0"):
        choose_weight(scores, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="seeds"):
        choose_weight(scores, [0.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        choose_weight(torch.tensor([[float("nan"), 1.0]]), [0.0, 1.0])


def test_main_loss_and_stack_splits() -> None:
    pred, y = torch.zeros(2, 4), torch.ones(2, 4)
    assert torch.allclose(main_loss(pred, y, "mse"), torch.ones(2))
    assert torch.allclose(main_loss(pred, y, "bce"), torch.full((2,), 0.6931), atol=1e-4)
    with pytest.raises(ValueError, match="unknown main loss"):
        main_loss(pred, y, "hinge")
    splits = [related_tasks({"train": 5, "val": 3, "test": 3}, s) for s in range(2)]
    stacked = stack_splits(splits, "train", 3)
    assert stacked["x"].shape == (6, 5, 20) and torch.equal(stacked["x"][0], stacked["x"][2])
    assert not torch.equal(stacked["x"][0], stacked["x"][3])


def test_sweep_pairs_weights_by_seed_and_weight_zero_is_the_main_task_alone() -> None:
    splits = [related_tasks({"train": 40, "val": 100, "test": 300}, s, n_aux=8) for s in range(3)]
    r = sweep_helper_weight(splits, [0.0, 3.0], steps=300, lr=3e-3)
    assert r.test.shape == (3, 2) and r.chosen.shape == (3,)
    assert torch.equal(r.main_only, r.test[:, 0])
    assert torch.equal(r.with_helper, r.test[torch.arange(3), r.chosen])
    assert r.features(stack_splits(splits, "test", 2)["x"]).shape == (6, 300, 32)
    assert torch.all(r.val[torch.arange(3), r.chosen] <= r.val[:, 0])  # the chosen weight is never worse on val
    # oracle: the weight-0 models are the main task trained alone (the idle helper head changes nothing)
    alone = sweep_helper_weight(splits, [0.0], helper=None, steps=300, lr=3e-3)
    assert torch.allclose(alone.main_only, r.main_only, rtol=1e-4)
    with pytest.raises(ValueError, match="start at 0"):
        sweep_helper_weight(splits, [1.0, 0.0], steps=1)


def test_head_mse_and_trunk_shapes() -> None:
    params = stacked_mlp(2, [3, 4], "trunk") | stacked_mlp(2, [4, 2], "aux")
    train = {"x": torch.randn(2, 5, 3), "aux": torch.randn(2, 5, 2)}
    assert trunk(params, train["x"]).shape == (2, 5, 4)
    assert head_mse(params, trunk, train).shape == (2,)


def test_symmetry_hint_is_zero_for_an_even_network_and_positive_otherwise() -> None:
    params = stacked_mlp(2, [4, 8], "trunk") | stacked_mlp(2, [8, 1], "main")
    train = {"x": torch.randn(2, 10, 4), "aux": torch.randn(2, 10, 4)}
    assert torch.all(symmetry_hint(params, trunk, train) > 0)
    even = {**params, "trunk.0.bias": torch.zeros_like(params["trunk.0.bias"])}
    square = lambda p, x: torch.tanh(run_mlp(p, "trunk", x)).square()  # an even trunk
    assert torch.allclose(symmetry_hint(even, square, train), torch.zeros(2), atol=1e-10)
    with pytest.raises(ValueError, match="virtual inputs"):
        symmetry_hint(params, trunk, {"x": train["x"], "aux": torch.randn(2, 10, 3)})
    splits = [symmetric_target({"train": 5, "val": 5, "test": 5}, 0)]
    assert splits[0]["train"]["aux"].shape == (5, 4)
