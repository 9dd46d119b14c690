"""mtl_ref.relations: TAG lookahead affinity, gradient cosine, higher-order values, grouping search, group training."""

import copy
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtl_ref.data import TaskClusters
from mtl_ref.relations import (Rows, beam_grouping, choose_groups, cosine_matrix, evaluate, exhaustive_grouping,
                               fit_groups, gradient_cosine, group_tensor, group_values, grouping_score, init_nets,
                               lookahead_affinity, pair_gains, predict, random_grouping, subsets, task_gradients,
                               task_mse)
from mtl_ref.relations.group_training import _affinities, slot_gradients


def scalar_problem(theta: float = 0.0):
    """One shared scalar θ, heads fixed at 1, one example x = 1 with targets y1 = 1, y2 = 2: L_t = (θ − y_t)²."""
    targets = torch.tensor([1.0, 2.0])

    def losses(shared):
        return (shared["theta"] - targets).square()

    return losses, {"theta": torch.tensor(theta)}


def test_lookahead_affinity_matches_the_hand_computed_two_task_values():
    # At θ = 0: L1 = 1, L2 = 4, ∇L1 = -2, ∇L2 = -4. With η = 0.25: a step on task 1 gives θ = 0.5, on task 2 θ = 1.
    # Z_{1→1} = 1 - 0.25/1 = 0.75, Z_{1→2} = 1 - 2.25/4 = 0.4375, Z_{2→1} = 1 - 0/1 = 1, Z_{2→2} = 1 - 1/4 = 0.75.
    losses, shared = scalar_problem()
    z = lookahead_affinity(losses, shared, lr=0.25)
    torch.testing.assert_close(z, torch.tensor([[0.75, 0.4375], [1.0, 0.75]]))


def test_lookahead_affinity_is_negative_for_opposed_tasks():
    targets = torch.tensor([1.0, -1.0])
    z = lookahead_affinity(lambda s: (s["theta"] - targets).square(), {"theta": torch.tensor(0.0)}, lr=0.25)
    assert z[0, 1] == pytest.approx(-1.25) and z[1, 0] == pytest.approx(-1.25)


def test_lookahead_affinity_rejects_a_non_positive_rate():
    losses, shared = scalar_problem()
    with pytest.raises(ValueError, match="positive"):
        lookahead_affinity(losses, shared, lr=0.0)


def mlp_problem(seed: int = 0, tasks: int = 3):
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.Tanh())
    heads = nn.Linear(6, tasks)
    x, y = torch.randn(20, 5), torch.randn(20, tasks)
    return trunk, heads, x, y


def test_lookahead_affinity_agrees_with_deep_copies_and_sgd_steps():
    trunk, heads, x, y = mlp_problem()
    shared = {k: v.detach() for k, v in trunk.named_parameters()}

    def losses(params):
        out = heads(torch.func.functional_call(trunk, params, (x,)))
        return (out - y).square().mean(0)

    z = lookahead_affinity(losses, shared, lr=0.1)
    base = losses(shared).detach()
    for i in range(3):  # the oracle: copy the trunk, take one SGD step on task i, read every task's loss
        copy_ = copy.deepcopy(trunk)
        loss = (heads(copy_(x)) - y).square().mean(0)[i]
        grads = torch.autograd.grad(loss, list(copy_.parameters()))
        with torch.no_grad():
            for p, g in zip(copy_.parameters(), grads):
                p -= 0.1 * g
            after = (heads(copy_(x)) - y).square().mean(0)
        torch.testing.assert_close(z[i], 1 - after / base, atol=1e-5, rtol=1e-4)


def test_stacked_models_give_each_models_own_affinity():
    problems = [mlp_problem(seed) for seed in (0, 1)]
    stacked = {k: torch.stack([dict(p[0].named_parameters())[k].detach() for p in problems])
               for k, _ in problems[0][0].named_parameters()}

    def one(trunk, heads, x, y):
        return lambda params: (heads(torch.func.functional_call(trunk, params, (x,))) - y).square().mean(0)

    def both(params):
        return torch.stack([one(*p)({k: v[m] for k, v in params.items()}) for m, p in enumerate(problems)])

    z = lookahead_affinity(both, stacked, lr=0.05)
    c = gradient_cosine(both, stacked, batch_dims=1)
    for m, p in enumerate(problems):
        shared = {k: v.detach() for k, v in p[0].named_parameters()}
        torch.testing.assert_close(z[m], lookahead_affinity(one(*p), shared, lr=0.05))
        torch.testing.assert_close(c[m], gradient_cosine(one(*p), shared))


def test_gradient_cosine_of_known_gradients():
    # L_t = a_t · θ has gradient a_t: cosines are those of the rows of a.
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [-2.0, 0.0], [0.0, 0.0]])
    c = gradient_cosine(lambda s: a @ s["theta"], {"theta": torch.zeros(2)})
    s = 2 ** -0.5
    expected = torch.tensor([[1, s, -1, 0], [s, 1, -s, 0], [-1, -s, 1, 0], [0, 0, 0, 0]], dtype=torch.float32)
    torch.testing.assert_close(c, expected)


def test_precomputed_gradients_give_the_same_affinity_and_cosine():
    trunk, heads, x, y = mlp_problem(seed=3)
    shared = {k: v.detach() for k, v in trunk.named_parameters()}

    def losses(p):
        return (heads(torch.func.functional_call(trunk, p, (x,))) - y).square().mean(0)

    gradients = task_gradients(losses, shared)
    torch.testing.assert_close(lookahead_affinity(losses, shared, 0.1, gradients),
                               lookahead_affinity(losses, shared, 0.1))
    torch.testing.assert_close(cosine_matrix(gradients[1]), gradient_cosine(losses, shared))


def test_task_gradients_are_the_per_task_gradients():
    trunk, heads, x, y = mlp_problem()
    shared = {k: v.detach() for k, v in trunk.named_parameters()}
    losses, grads = task_gradients(
        lambda p: (heads(torch.func.functional_call(trunk, p, (x,))) - y).square().mean(0), shared)
    for t in range(3):
        loss = (heads(trunk(x)) - y).square().mean(0)[t]
        for (k, _), g in zip(trunk.named_parameters(), torch.autograd.grad(loss, list(trunk.parameters()))):
            torch.testing.assert_close(grads[k][t], g)


def test_pair_gains_and_group_values():
    loss = np.array([[1.0, 2.0, 4.0], [0.5, 4.0, 2.0], [2.0, 1.0, 2.0]])  # [i, j]: task j's loss trained with i
    g = pair_gains(loss)
    np.testing.assert_allclose(np.diag(g), 0)
    assert g[1, 0] == pytest.approx(0.5) and g[0, 1] == pytest.approx(0.5) and g[2, 1] == pytest.approx(0.75)
    groups = np.array([[1, 0, 0], [1, 1, 1], [0, 1, 1]], dtype=bool)
    v = group_values(g, groups)
    assert v[0, 0] == 0 and np.isnan(v[0, 1]) and np.isnan(v[2, 0])
    assert v[1, 0] == pytest.approx((g[1, 0] + g[2, 0]) / 2) and v[2, 2] == pytest.approx(g[1, 2])
    with pytest.raises(ValueError, match="positive"):
        pair_gains(np.array([[0.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="membership"):
        group_values(g, groups[:, :2])


def brute_force(values: np.ndarray, candidates: np.ndarray, budget: int) -> float:
    """The oracle: every collection of at most ``budget`` candidate groups, scored task by task in pure Python."""
    best = -np.inf
    for k in range(1, budget + 1):
        for chosen in itertools.combinations(range(len(candidates)), k):
            total = 0.0
            for j in range(candidates.shape[1]):
                served = [values[s, j] for s in chosen if candidates[s, j]]
                if not served:
                    total = -np.inf
                    break
                total += max(served)
            best = max(best, total)
    return best


@pytest.mark.parametrize("num_tasks,budget,seed", [(4, 1, 0), (4, 2, 1), (4, 3, 2), (5, 2, 3), (5, 3, 4)])
def test_exhaustive_grouping_matches_brute_force(num_tasks, budget, seed):
    rng = np.random.default_rng(seed)
    candidates = subsets(num_tasks)
    values = group_values(rng.normal(size=(num_tasks, num_tasks)), candidates)
    found = exhaustive_grouping(values, candidates, budget)
    assert found.score == pytest.approx(brute_force(values, candidates, budget))
    rows = [int(np.flatnonzero((candidates == np.isin(np.arange(num_tasks), g)).all(1))[0]) for g in found.groups]
    assert grouping_score(values, rows) == pytest.approx(found.score)
    assert len(found.groups) <= budget and found.search == "exhaustive"


@pytest.mark.parametrize("seed", range(6))
def test_beam_grouping_never_beats_exhaustive_and_is_exhaustive_when_the_beam_holds_everything(seed):
    rng = np.random.default_rng(seed)
    candidates = subsets(5)
    values = group_values(rng.normal(size=(5, 5)), candidates)
    best = exhaustive_grouping(values, candidates, 3)
    for width in (1, 4, 16):
        found = beam_grouping(values, candidates, 3, width=width)
        assert found.score <= best.score + 1e-9 and len(found.groups) <= 3
    # A beam as wide as the number of collections (31 + C(31, 2) = 496) keeps every partial collection.
    assert beam_grouping(values, candidates, 3, width=496).score == pytest.approx(best.score)


def test_beam_grouping_recovers_planted_blocks():
    cluster = np.repeat(np.arange(3), 4)
    affinity = np.where(cluster[:, None] == cluster[None, :], 1.0, -1.0)
    candidates = subsets(12, max_size=6)
    found = beam_grouping(group_values(affinity, candidates), candidates, 3)
    assert sorted(found.groups) == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11)]
    assert choose_groups(group_values(affinity, candidates), candidates, 3).search.startswith("beam")


def test_grouping_errors_name_the_problem():
    candidates = subsets(3)[:3]  # singletons only
    values = group_values(np.zeros((3, 3)), candidates)
    with pytest.raises(ValueError, match="covers every task"):
        exhaustive_grouping(values, candidates, 2)
    with pytest.raises(ValueError, match="no candidate group"):
        exhaustive_grouping(values[:, :2].repeat(2, 1)[:, :3] * np.nan, candidates, 2)
    with pytest.raises(ValueError, match="budget"):
        beam_grouping(values, candidates, 0)


def test_subsets_and_random_grouping():
    s = subsets(4)
    assert s.shape == (15, 4) and s.sum(1).tolist() == sorted(s.sum(1).tolist())
    assert subsets(4, max_size=2).shape == (10, 4)
    groups = random_grouping(7, 3, np.random.default_rng(0))
    assert len(groups) == 3 and sorted(t for g in groups for t in g) == list(range(7)) and all(groups)


def small_rows(num_tasks=3, n=16, seeds=(0, 1)):
    names = [f"y{t + 1}" for t in range(num_tasks)]
    problems = [TaskClusters(num_tasks=num_tasks, clusters=1, correlation=0.5, dim=6, seed=s) for s in seeds]
    return names, [Rows.of([p.sample_tasks(n, seed=k) for p in problems], names) for k in (1, 2)]


def test_stacked_predictions_equal_each_network_alone():
    params = init_nets(2, 6, 5, 3, depth=2, seed=0)
    groups = group_tensor([(0, 2), (1, -1)[:1]], 3)
    x = torch.randn(2, 2, 4, 6)
    out = predict(params, x, groups)
    for m in range(2):
        h = x[m]
        for layer in range(2):
            h = torch.relu(h @ params[f"trunk.{layer}.weight"][m].T + params[f"trunk.{layer}.bias"][m])
        for k, t in enumerate(groups[m].clamp(min=0).tolist()):
            torch.testing.assert_close(out[m, k], h[k] @ params["heads.weight"][m, t] + params["heads.bias"][m, t])


def test_fit_groups_trains_each_network_on_its_own_tasks_only():
    names, (train, val) = small_rows()
    groups = group_tensor([(1,), (0, 1), (0, 1, 2)], 3).repeat(2, 1)
    instance = torch.tensor([0, 0, 0, 1, 1, 1])
    params = init_nets(6, 6, 8, 3, seed=0)
    before = evaluate(params, val, instance, groups)
    out = fit_groups(params, groups, instance, train, val, steps=60, batch_size=8, lr=1e-2, eval_every=10)
    after = evaluate(out.params, val, instance, groups)
    assert torch.isnan(after[0, [0, 2]]).all() and torch.isnan(after[1, 2]) and not torch.isnan(after[2]).any()
    assert (after[~torch.isnan(after)] < before[~torch.isnan(before)]).all()
    assert (out.best_step > 0).all()  # a padded single-task network is early-stopped on its own task
    torch.testing.assert_close(out.params["heads.weight"][0, [0, 2]], params["heads.weight"][0, [0, 2]])
    assert out.affinity is None and out.cosine is None


def test_fit_groups_records_affinities_like_the_functions_do():
    names, (train, val) = small_rows()
    groups = group_tensor([(0, 1, 2)], 3).repeat(2, 1)
    instance = torch.tensor([0, 1])
    params = init_nets(2, 6, 8, 3, seed=0)
    out = fit_groups(params, groups, instance, train, val, steps=1, batch_size=8, lr=1e-2, affinity_every=1,
                     affinity_lr=0.1)
    # Recompute on the batch the first step drew (same generator), with the initial weights.
    gen = torch.Generator().manual_seed(0)
    idx = (torch.rand(2, 3, 8, generator=gen) * train.n[instance, None, None]).long()
    at = (instance[:, None, None], groups[..., None], idx)
    x, y = train.x[at], train.y[at]
    heads = {k: v for k, v in params.items() if k.startswith("heads")}
    shared = {k: v for k, v in params.items() if k.startswith("trunk")}

    def losses(trunk):
        return task_mse({**trunk, **heads}, x, y, groups)

    torch.testing.assert_close(out.affinity, lookahead_affinity(losses, shared, 0.1))
    torch.testing.assert_close(out.cosine, gradient_cosine(losses, shared, batch_dims=1))


def test_group_tensor_and_fit_groups_check_their_inputs():
    assert group_tensor([(0, 1), (2,)], 3).tolist() == [[0, 1], [2, -1]]
    with pytest.raises(ValueError, match="distinct task indices"):
        group_tensor([(0, 0)], 3)
    names, (train, val) = small_rows()
    params = init_nets(1, 6, 4, 3)
    with pytest.raises(ValueError, match="instance"):
        fit_groups(params, group_tensor([(0,)], 3), torch.tensor([5]), train, val, steps=1, batch_size=2)


def test_slot_gradients_match_the_vector_jacobian_product_with_one_hot_cotangents():
    torch.manual_seed(0)
    params = init_nets(3, 5, 7, 6, depth=2, seed=1)
    groups = torch.tensor([[0, 2, 4], [1, 3, 5], [5, 0, 2]])
    x, y = torch.randn(3, 3, 11, 5), torch.randn(3, 3, 11)
    shared = {k: v for k, v in params.items() if k.startswith("trunk.")}
    heads = {k: v for k, v in params.items() if not k.startswith("trunk.")}
    losses, grads = slot_gradients(params, x, y, groups)
    want_losses, want = task_gradients(lambda trunk: task_mse({**trunk, **heads}, x, y, groups), shared)
    torch.testing.assert_close(losses, want_losses)
    assert list(grads) == list(want)
    for name in want:
        torch.testing.assert_close(grads[name], want[name])


def test_recorded_affinities_match_the_generic_lookahead_and_cosine():
    params = init_nets(2, 4, 6, 5, depth=2, seed=3)
    groups = torch.tensor([[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]])
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 5, 9, 4, generator=g), torch.randn(2, 5, 9, generator=g)
    shared = {k: v for k, v in params.items() if k.startswith("trunk.")}
    heads = {k: v for k, v in params.items() if not k.startswith("trunk.")}

    def losses(trunk):
        return task_mse({**trunk, **heads}, x, y, groups)

    z, cosine = _affinities(params, x, y, groups, lr=0.05)
    torch.testing.assert_close(z, lookahead_affinity(losses, shared, 0.05))
    torch.testing.assert_close(cosine, gradient_cosine(losses, shared, batch_dims=1))
