"""Mixture-of-experts models: shapes, gate normalisation, batched = looped experts, MMoE(1 expert) = shared-bottom,
parameter counts, PLE's shared gate, and the shallow tower dropped at serving."""

import pytest
import torch
from torch import nn

from torch.func import functional_call, stack_module_state

from mtl_ref.models import (MMoE, PLE, Gates, HardSharing, ShallowTower, cgc, count_parameters, expert_bank, mlp,
                            omoe, serving_score, shared_bottom, towers)

TASKS = ["a", "b", "c"]


def test_expert_bank_equals_a_loop_of_mlps():
    bank = expert_bank(4, 5, [7, 3])
    x = torch.randn(6, 5)
    out = bank(x)
    assert out.shape == (6, 4, 3)
    for i in range(4):  # the oracle: expert i as an ordinary MLP with its slice of the stacked weights
        h = torch.relu(x @ bank.weights[0][i] + bank.biases[0][i])
        h = torch.relu(h @ bank.weights[1][i] + bank.biases[1][i])
        torch.testing.assert_close(out[:, i], h)
    per_expert_inputs = torch.randn(6, 4, 5)
    out = bank(per_expert_inputs, each=True)
    for i in range(4):
        h = torch.relu(per_expert_inputs[:, i] @ bank.weights[0][i] + bank.biases[0][i])
        torch.testing.assert_close(out[:, i], torch.relu(h @ bank.weights[1][i] + bank.biases[1][i]))


def test_towers_have_a_linear_output_and_bad_shapes_are_named():
    t = towers(2, 4, [3])
    assert t(torch.randn(5, 2, 4), each=True).shape == (5, 2, 1)
    with pytest.raises(ValueError, match=r"\(B, 2, 4\)"):
        t(torch.randn(5, 3, 4), each=True)


def test_gates_sum_to_one():
    g = Gates(3, 5, 4)
    w = g(torch.randn(10, 5))
    assert w.shape == (10, 3, 4) and (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(10, 3))


@pytest.mark.parametrize("one_gate", [False, True])
def test_mmoe_shapes_and_gates(one_gate):
    model = MMoE(8, TASKS, num_experts=4, expert=[6], tower=[5], out_dim=2, one_gate=one_gate)
    x = torch.randn(7, 8)
    out = model(x)
    assert set(out) == set(TASKS) and all(v.shape == (7, 2) for v in out.values())
    torch.testing.assert_close(model(x, task="b"), out["b"])
    g = model.gate_weights(x)
    assert g.shape == (7, 3, 4)
    torch.testing.assert_close(g.sum(-1), torch.ones(7, 3))
    if one_gate:
        torch.testing.assert_close(g[:, 0], g[:, 2])
    with pytest.raises(KeyError, match="'z'"):
        model(x, task="z")


def test_mmoe_on_a_shared_bottom_feeds_experts_and_gates_the_bottom_layer():
    """YouTube's ranker (Zhao et al. 2019, Fig. 2b): the experts and the gates read a shared hidden layer."""
    model = MMoE(8, TASKS, num_experts=3, expert=[6], tower=[5], bottom=[10])
    plain = MMoE(10, TASKS, num_experts=3, expert=[6], tower=[5])
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("bottom.")})
    x = torch.randn(7, 8)
    hidden = torch.relu(x @ model.bottom.weights[0][0] + model.bottom.biases[0][0])
    out, expected = model(x), plain(hidden)
    for t in TASKS:
        torch.testing.assert_close(out[t], expected[t])
    torch.testing.assert_close(model.gate_weights(x), plain.gate_weights(hidden))
    shared = {id(p) for p in model.shared_parameters()}
    assert all(id(p) in shared for p in model.bottom.parameters())
    assert count_parameters(model) == count_parameters(plain) + 8 * 10 + 10


def test_mmoe_with_one_expert_equals_shared_bottom():
    mmoe = MMoE(8, ["a", "b"], num_experts=1, expert=[6, 5], tower=[4])
    sb = HardSharing(mlp([8, 6, 5], last_activation=True), {t: mlp([5, 4, 1]) for t in ["a", "b"]})
    with torch.no_grad():
        linears = [m for m in sb.trunk if isinstance(m, nn.Linear)]
        for layer, w, b in zip(linears, mmoe.experts.weights, mmoe.experts.biases):
            layer.weight.copy_(w[0].T)
            layer.bias.copy_(b[0])
        for k, t in enumerate(["a", "b"]):
            head = [m for m in sb.heads[t] if isinstance(m, nn.Linear)]
            for layer, w, b in zip(head, mmoe.towers.weights, mmoe.towers.biases):
                layer.weight.copy_(w[k].T)
                layer.bias.copy_(b[k])
    x = torch.randn(9, 8)
    a, b = mmoe(x), sb(x)
    for t in ["a", "b"]:
        torch.testing.assert_close(a[t], b[t])


def test_parameter_counts():
    d, n, h, tw = 10, 4, 6, 3
    expert = n * (d * h + h)
    tower = 2 * (h * tw + tw + tw + 1)
    assert count_parameters(MMoE(d, ["a", "b"], n, [h], [tw])) == expert + 2 * (d * n + n) + tower
    assert count_parameters(omoe(d, ["a", "b"], n, [h], [tw])) == expert + (d * n + n) + tower
    assert count_parameters(shared_bottom(d, ["a", "b"], [h], [tw])) == (d * h + h) + tower
    # CGC: T·m_k + m_s experts, task gates over m_k + m_s experts; no shared gate at a single level.
    mk, ms = 2, 3
    experts = (2 * mk + ms) * (d * h + h)
    assert count_parameters(cgc(d, ["a", "b"], mk, ms, [h], [tw])) == experts + 2 * (d * (mk + ms) + mk + ms) + tower
    # PLE with two levels: level 1 has a shared gate over all its experts; level 2 reads h-dimensional inputs.
    level1 = experts + 2 * (d * (mk + ms) + mk + ms) + (d * (2 * mk + ms) + 2 * mk + ms)
    level2 = (2 * mk + ms) * (h * h + h) + 2 * (h * (mk + ms) + mk + ms)
    assert count_parameters(PLE(d, ["a", "b"], 2, mk, ms, [h], [tw])) == level1 + level2 + tower


def test_cgc_is_one_level_and_its_gates_normalise():
    model = cgc(8, TASKS, task_experts=2, shared_experts=3, expert=[5], tower=[4])
    x = torch.randn(6, 8)
    out = model(x)
    assert all(v.shape == (6, 1) for v in out.values())
    [(task_g, shared_g)] = model.gate_weights(x)
    assert task_g.shape == (6, 3, 5) and shared_g is None
    torch.testing.assert_close(task_g.sum(-1), torch.ones(6, 3))


def test_cgc_task_output_mixes_only_its_own_and_shared_experts():
    model = cgc(4, ["a", "b"], task_experts=1, shared_experts=1, expert=[3], tower=[2])
    level = model.levels[0]
    x = torch.randn(5, 4)
    e = level.experts(x)  # experts: a's, b's, shared
    g, _ = level.gate_weights(x, first=True)
    expected_a = g[:, 0, :1] * e[:, 0] + g[:, 0, 1:] * e[:, 2]
    expected_b = g[:, 1, :1] * e[:, 1] + g[:, 1, 1:] * e[:, 2]
    out = level(x, first=True)
    torch.testing.assert_close(out[:, 0], expected_a)
    torch.testing.assert_close(out[:, 1], expected_b)


def test_ple_shared_gate_feeds_the_next_levels_shared_experts():
    torch.manual_seed(0)
    model = PLE(6, ["a", "b"], levels=2, task_experts=1, shared_experts=2, expert=[4], tower=[3])
    first, second = model.levels
    assert first.shared_gate is not None and second.shared_gate is None
    x = torch.randn(5, 6)
    out1 = first(x, first=True)
    assert out1.shape == (5, 3, 4)
    e = first.experts(x)
    _, sg = first.gate_weights(x, first=True)
    assert sg.shape == (5, 1, 4)  # the shared gate mixes all four experts (a's, b's and both shared)
    torch.testing.assert_close(sg.sum(-1), torch.ones(5, 1))
    torch.testing.assert_close(out1[:, 2], torch.einsum("bn,bnh->bh", sg[:, 0], e))
    # The second level's shared experts read the shared row; its task experts read their task's row.
    inputs = second.expert_inputs(out1)
    torch.testing.assert_close(inputs[:, 0], out1[:, 0])
    torch.testing.assert_close(inputs[:, 1], out1[:, 1])
    torch.testing.assert_close(inputs[:, 2], out1[:, 2])
    torch.testing.assert_close(inputs[:, 3], out1[:, 2])
    # Changing the shared gate changes the output of both tasks.
    before = model(x)
    with torch.no_grad():
        first.shared_gate.weight.add_(torch.randn_like(first.shared_gate.weight))
    after = model(x)
    # Only through the second level's shared experts can the shared gate reach the outputs.
    assert all(not torch.allclose(before[t], after[t]) for t in ["a", "b"])


def test_invalid_configurations_are_named():
    with pytest.raises(ValueError, match="levels"):
        PLE(4, ["a"], 0, 1, 1, [3], [2])
    with pytest.raises(ValueError, match="shared_experts"):
        PLE(4, ["a", "b"], 2, 1, 0, [3], [2])
    with pytest.raises(ValueError, match="num_experts"):
        MMoE(4, ["a"], 0, [3], [2])


def test_shallow_tower_is_added_in_training_and_dropped_at_serving():
    main = MMoE(5, ["click", "like"], 2, [4], [3])
    model = ShallowTower(main, feature_dim=5, bias_dim=3, biased=["click"])
    with torch.no_grad():
        model.tower.copy_(torch.tensor([[0.0], [1.0], [-2.0]]))
    features = torch.randn(4, 5)
    bias = torch.eye(3)[[0, 1, 2, 1]]
    x = torch.cat([features, bias], dim=1)
    trained, served, alone = model(x), model.serve(x), main(features)
    torch.testing.assert_close(trained["click"][:, 0], alone["click"][:, 0] + torch.tensor([0.0, 1.0, -2.0, 1.0]))
    torch.testing.assert_close(trained["like"], alone["like"])
    for t in ["click", "like"]:
        torch.testing.assert_close(served[t], alone[t])
    torch.testing.assert_close(model.learned_bias()[:, 0], torch.tensor([0.0, 1.0, -2.0]))
    torch.testing.assert_close(model(x, task="click"), trained["click"])
    with pytest.raises(ValueError, match="8 bias slots|bias slots"):
        model(torch.randn(4, 6))
    with pytest.raises(ValueError, match="dwell"):
        ShallowTower(main, 5, 3, biased=["dwell"])


def test_serving_score_is_the_weighted_sum():
    p = {"click": torch.tensor([0.5, 0.2]), "like": torch.tensor([0.1, 0.9])}
    torch.testing.assert_close(serving_score(p, {"click": 1.0, "like": 2.0}), torch.tensor([0.7, 2.0]))
    with pytest.raises(KeyError, match="dismiss"):
        serving_score(p, {"dismiss": -1.0})


@pytest.mark.parametrize("build", [
    lambda: shared_bottom(6, ["a", "b"], [5], [3]),
    lambda: omoe(6, ["a", "b"], 3, [5], [3]),
    lambda: MMoE(6, ["a", "b"], 3, [5, 4], [3]),
    lambda: PLE(6, ["a", "b"], 2, 1, 2, [5], [3]),
    lambda: ShallowTower(MMoE(4, ["a", "b"], 2, [5], [3]), 4, 2, ["a"]),
])
def test_stacked_models_run_at_once_without_vmap(build):
    models = [build() for _ in range(3)]
    params, buffers = stack_module_state(models)
    x = torch.randn(3, 7, 6)
    out = functional_call(models[0], (params, buffers), (x,))
    for m, model in enumerate(models):
        alone = model(x[m])
        for t in ["a", "b"]:
            torch.testing.assert_close(out[t][m], alone[t])
