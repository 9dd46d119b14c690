"""Gradient-similarity weighting (Du et al., arXiv:1812.02224) on hand-made gradients and through fit."""

import math

import numpy as np
import pytest
import torch

from mtl_ref import Task, fit
from mtl_ref.auxiliary import GradientSimilarity, cosines, gradient_cosines, similarity_weights
from mtl_ref.data import HelperTasks, MultiTaskData
from mtl_ref.models import HardSharing, mlp

MAIN = torch.tensor([1.0, 0.0])
AUX = torch.tensor([[1.0, 1.0], [0.0, 2.0], [-1.0, 1.0], [3.0, 0.0]])  # 45°, 90°, 135°, 0°


def test_cosines_of_hand_made_gradients():
    expected = torch.tensor([1 / math.sqrt(2), 0.0, -1 / math.sqrt(2), 1.0])
    torch.testing.assert_close(cosines(MAIN, AUX), expected)


def test_a_zero_gradient_has_cosine_zero():
    assert cosines(torch.zeros(2), AUX).eq(0).all()
    assert cosines(MAIN, torch.zeros(1, 2)).eq(0).all()


def test_unweighted_rule_keeps_only_positive_cosines():
    torch.testing.assert_close(similarity_weights(MAIN, AUX, "unweighted"), torch.tensor([1.0, 0.0, 0.0, 1.0]))


def test_weighted_rule_is_the_clamped_cosine():
    torch.testing.assert_close(similarity_weights(MAIN, AUX, "weighted"),
                               torch.tensor([1 / math.sqrt(2), 0.0, 0.0, 1.0]))


def test_bad_shapes_and_rules_are_errors():
    with pytest.raises(ValueError, match="shapes"):
        cosines(MAIN, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="rule"):
        similarity_weights(MAIN, AUX, "soft")


@pytest.mark.parametrize("rule", ["unweighted", "weighted"])
def test_the_update_never_ascends_the_main_loss(rule):
    """The convergence argument: (g_main + Σ s_k g_k) · g_main >= ‖g_main‖² for random gradients."""
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        main, aux = torch.randn(6, generator=g), torch.randn(3, 6, generator=g)
        update = main + similarity_weights(main, aux, rule) @ aux
        assert float(update @ main) >= float(main @ main) - 1e-6


def model_and_data(names):
    problem = HelperTasks(dim=8, features=2, relatedness=(0.5,))
    data = problem.sample(64, seed=1)
    data = MultiTaskData(data.x, {n: data.y[n] for n in names})
    torch.manual_seed(0)
    model = HardSharing(mlp([8, 12, 4], last_activation=True), {n: mlp([4, 1 if n == "main" else 2]) for n in names})
    return model, [Task.regression(n) for n in names], data


@pytest.mark.parametrize("rule", ["unweighted", "weighted"])
def test_the_method_writes_main_plus_gated_helper_gradients(rule):
    names = ["main", "good", "noise"]
    model, tasks, data = model_and_data(names)
    shared = model.shared_parameters()
    losses = torch.stack([t.loss(model(data.x)[t.name], data.y[t.name]) for t in tasks])
    rows = [torch.cat([g.flatten() for g in torch.autograd.grad(loss, shared, retain_graph=True)]) for loss in losses]
    s = similarity_weights(rows[0], torch.stack(rows[1:]), rule)
    expected = rows[0] + 2.0 * (s @ torch.stack(rows[1:]))
    head = torch.autograd.grad(losses[1], list(model.heads["good"].parameters()), retain_graph=True)
    method = GradientSimilarity(names, "main", rule, weights=[2.0, 2.0])
    method.reset()
    method.backward(losses, model)
    torch.testing.assert_close(torch.cat([p.grad.flatten() for p in shared]), expected)
    for p, g in zip(model.heads["good"].parameters(), head):
        torch.testing.assert_close(p.grad, 2.0 * g)
    trace = method.pop_trace()
    np.testing.assert_allclose(trace, [[1.0, *(2.0 * s).tolist()]], rtol=1e-6)


def test_the_method_trains_through_fit_and_checks_its_arguments():
    names = ["main", "good"]
    model, tasks, data = model_and_data(names)
    history = fit(model, tasks, data, epochs=2, batch_size=32, method=GradientSimilarity(names, "main"),
                  progress=False)
    assert history.weights[0].shape == (2, 2) and (history.weights[0][:, 0] == 1).all()
    with pytest.raises(ValueError, match="main task"):
        GradientSimilarity(names, "other")
    with pytest.raises(ValueError, match="helper weights"):
        GradientSimilarity(names, "main", weights=[1.0, 1.0])


def test_gradient_cosines_agree_with_separate_backward_passes():
    names = ["main", "good", "noise"]
    model, tasks, data = model_and_data(names)
    got = gradient_cosines(model, tasks, data, "main")
    shared = model.shared_parameters()
    out = model(data.x)
    grads = [torch.cat([g.flatten() for g in torch.autograd.grad(t.loss(out[t.name], data.y[t.name]), shared,
                                                                 retain_graph=True)]) for t in tasks]
    for name, g in zip(names[1:], grads[1:]):
        assert got[name] == pytest.approx(float(torch.nn.functional.cosine_similarity(grads[0], g, dim=0)), abs=1e-5)
    with pytest.raises(ValueError, match="main task"):
        gradient_cosines(model, tasks, data, "other")
