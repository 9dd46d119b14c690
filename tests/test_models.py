"""The MLP, hard sharing, independent networks, branch_at, and the MultiTaskModel base."""

import pytest
import torch
from torch import nn

from mtl_ref.models import HardSharing, Independent, MultiTaskModel, branch_at, count_parameters, digit_blocks, mlp


def kinds(seq: nn.Sequential) -> list[str]:
    return [type(m).__name__ for m in seq]


def test_mlp_sizes():
    net = mlp([5, 8, 6, 2])
    assert kinds(net) == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [(m.in_features, m.out_features) for m in net if isinstance(m, nn.Linear)] == [(5, 8), (8, 6), (6, 2)]
    assert net(torch.randn(3, 5)).shape == (3, 2)
    assert kinds(mlp([4, 3])) == ["Linear"]


def test_mlp_last_activation_dropout_and_activation():
    assert kinds(mlp([4, 8, 8], last_activation=True)) == ["Linear", "ReLU", "Linear", "ReLU"]
    assert kinds(mlp([4, 8, 8], dropout=0.5)) == ["Linear", "ReLU", "Dropout", "Linear"]
    assert kinds(mlp([4, 8], dropout=0.5, last_activation=True)) == ["Linear", "ReLU", "Dropout"]
    assert kinds(mlp([4, 8, 2], activation=nn.Tanh)) == ["Linear", "Tanh", "Linear"]
    out = mlp([4, 8], last_activation=True)(torch.randn(16, 4))
    assert (out >= 0).all()


@pytest.mark.parametrize("sizes", [[], [4]])
def test_mlp_needs_two_sizes(sizes):
    with pytest.raises(ValueError, match=r"an MLP needs at least an input and an output size, got \[.*\]"):
        mlp(sizes)


def hard_sharing() -> HardSharing:
    torch.manual_seed(0)
    return HardSharing(mlp([6, 16, 8], last_activation=True), {"a": nn.Linear(8, 3), "b": mlp([8, 4, 1])})


def ids(params) -> list[int]:
    return [id(p) for p in params]


def test_hard_sharing_outputs_and_task_argument():
    model = hard_sharing()
    x = torch.randn(5, 6)
    out = model(x)
    assert list(out) == ["a", "b"] == model.task_names
    assert out["a"].shape == (5, 3) and out["b"].shape == (5, 1)
    assert torch.equal(model(x, task="b"), out["b"])
    assert torch.equal(out["a"], model.heads["a"](model.trunk(x)))
    with pytest.raises(KeyError):
        model(x, task="c")


def test_hard_sharing_keeps_the_representation():
    model = hard_sharing()
    assert model.representation is None
    x = torch.randn(4, 6)
    model(x)
    assert torch.equal(model.representation, model.trunk(x))
    assert model.representation.requires_grad  # still part of the graph, for representation-level methods
    model(x[:2], task="a")
    assert model.representation.shape == (2, 8)


def test_hard_sharing_parameter_partition():
    model = hard_sharing()
    shared, task = model.shared_parameters(), model.task_parameters()
    assert ids(shared) == ids(model.trunk.parameters())
    assert ids(task) == ids(model.heads.parameters())
    assert not set(ids(shared)) & set(ids(task))
    assert sorted(ids(shared) + ids(task)) == sorted(ids(model.parameters()))


def test_last_shared_parameters():
    model = hard_sharing()
    assert ids(model.last_shared_parameters()) == ids(model.trunk[2].parameters())  # the last Linear, not ReLU
    trunk = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.LayerNorm(3))
    nested = HardSharing(trunk, {"a": nn.Linear(3, 1)})
    assert ids(nested.last_shared_parameters()) == ids(nested.trunk[0][0].parameters())  # not the LayerNorm
    with pytest.raises(ValueError, match="the trunk has no linear or convolution layer"):
        HardSharing(nn.Identity(), {"a": nn.Linear(2, 1)}).last_shared_parameters()
    with pytest.raises(ValueError, match="the trunk has no linear or convolution layer"):
        HardSharing(nn.BatchNorm1d(2), {"a": nn.Linear(2, 1)}).last_shared_parameters()


def test_last_shared_parameters_of_a_conv_trunk_skip_its_final_batch_norm():
    trunk = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.BatchNorm2d(6),
                          nn.ReLU())
    model = HardSharing(trunk, {"a": nn.Conv2d(6, 1, 1)})
    last = model.last_shared_parameters()
    assert ids(last) == ids(trunk[3].parameters())
    assert last[0].shape == (6, 4, 3, 3)  # a weight that maps 4 features to 6


def test_branch_at_shares_parameters_and_halves_the_digit_network():
    sizes = [count_parameters(branch_at(digit_blocks(), depth, ["a", "b"])) for depth in range(4)]
    assert sizes == sorted(sizes, reverse=True)  # sharing more blocks never adds parameters
    assert sizes[3] / sizes[0] <= 0.55  # sharing all but the output layer about halves the two networks


def test_hard_sharing_needs_heads():
    with pytest.raises(ValueError, match="at least one task head"):
        HardSharing(nn.Linear(2, 2), {})


def test_regularization_defaults_to_none():
    assert hard_sharing().regularization() is None


def test_independent():
    torch.manual_seed(0)
    model = Independent({"a": nn.Linear(4, 2), "b": mlp([4, 3, 1])})
    x = torch.randn(3, 4)
    out = model(x)
    assert list(out) == ["a", "b"] == model.task_names
    assert torch.equal(out["a"], model.nets["a"](x)) and torch.equal(model(x, task="b"), out["b"])
    assert model.shared_parameters() == []
    assert ids(model.task_parameters()) == ids(model.parameters())
    assert model.regularization() is None and model.representation is None
    with pytest.raises(NotImplementedError, match="Independent does not say which layer is its last shared layer"):
        model.last_shared_parameters()


def test_multitaskmodel_is_abstract():
    with pytest.raises(TypeError):
        MultiTaskModel()

    class Forgot(MultiTaskModel):
        def forward(self, x):
            return {"a": x}

    with pytest.raises(TypeError, match="shared_parameters"):
        Forgot()


def layers() -> list[nn.Module]:
    torch.manual_seed(1)
    return [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)]


def assert_same_initial_weights(branches):
    states = [b.state_dict() for b in branches]
    for s in states[1:]:
        assert s.keys() == states[0].keys() and all(torch.equal(s[k], states[0][k]) for k in s)
    assert not set(ids(branches[0].parameters())) & set(ids(branches[1].parameters()))


def test_branch_at_depth_zero_is_independent():
    source = layers()
    model = branch_at(source, 0, ["a", "b", "c"])
    assert isinstance(model, Independent) and model.task_names == ["a", "b", "c"]
    assert_same_initial_weights(list(model.nets.values()))
    assert torch.equal(model.nets["a"][0].weight, source[0].weight) and model.nets["a"][0] is not source[0]
    x = torch.randn(3, 4)
    out = model(x)
    assert torch.equal(out["a"], out["c"]) and out["a"].shape == (3, 2)


@pytest.mark.parametrize("depth, head_kinds", [(2, ["Linear", "ReLU", "Linear"]), (4, ["Linear"])])
def test_branch_at_middle_and_last(depth, head_kinds):
    source = layers()
    model = branch_at(source, depth, ["a", "b"])
    assert isinstance(model, HardSharing)
    assert list(model.trunk) == source[:depth]  # the shared layers are the given ones
    assert all(kinds(h) == head_kinds for h in model.heads.values())
    assert_same_initial_weights(list(model.heads.values()))
    x = torch.randn(5, 4)
    out = model(x)
    expected = x
    for layer in source:
        expected = layer(expected)
    assert torch.equal(out["a"], out["b"]) and torch.allclose(out["a"], expected)
    # training one branch leaves the other alone
    with torch.no_grad():
        model.heads["a"][-1].weight.add_(1.0)
    assert not torch.equal(model(x)["a"], model(x)["b"])


@pytest.mark.parametrize("depth", [-1, 5, 9])
def test_branch_at_invalid_depth(depth):
    with pytest.raises(ValueError, match=rf"depth must be in \[0, 4\] for 5 layers, got {depth}"):
        branch_at(layers(), depth, ["a", "b"])


def test_shared_digit_network_has_about_half_the_parameters_of_two_separate_ones():
    """The chapter 'What is MTL?' states the ratio; it follows from the architecture (one trunk instead of two)."""
    from mtl_ref.models import count_parameters, digit_trunk

    shared = HardSharing(digit_trunk(), {t: nn.Linear(64, 10) for t in ("left", "right")})
    separate = Independent({t: nn.Sequential(digit_trunk(), nn.Linear(64, 10)) for t in ("left", "right")})
    assert 0.5 < count_parameters(shared) / count_parameters(separate) <= 0.55
