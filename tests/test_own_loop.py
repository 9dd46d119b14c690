"""mtl_ref.backward, the own-loop entry point: the same .grad as a step of fit, and as torchjd's mtl_backward."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import mtl_ref
from mtl_ref import Task, fit, task_losses
from mtl_ref.data import CorrelatedRegression
from mtl_ref.models import HardSharing, mlp
from mtl_ref.own_loop import leaf_parameters
from mtl_ref.weighting import DWA, UPGrad, method

SOURCE = CorrelatedRegression(num_tasks=3, correlation=0.3, dim=6, num_sines=2, seed=0)
DATA = SOURCE.sample(40, seed=1)
TASKS = [Task.regression(f"y{i + 1}") for i in range(3)]


class Plain(nn.Module):
    """A plain nn.Module (not a MultiTaskModel) with the same layout and state-dict keys as ``hard_sharing()``."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = mlp([6, 12], last_activation=True)
        self.heads = nn.ModuleDict({t.name: nn.Linear(12, 1) for t in TASKS})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.trunk(x)
        self.z = z
        return {t: head(z) for t, head in self.heads.items()}


def hard_sharing(seed: int = 0) -> HardSharing:
    torch.manual_seed(seed)
    return HardSharing(mlp([6, 12], last_activation=True), {t.name: nn.Linear(12, 1) for t in TASKS})


def plain_copy(model: nn.Module) -> Plain:
    plain = Plain()
    plain.load_state_dict(model.state_dict())
    return plain


def grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.grad.clone() for k, p in model.named_parameters()}


def own_step(model: Plain, name: str | nn.Module, batch=None) -> dict[str, torch.Tensor]:
    x, y = batch if batch is not None else (DATA.x, DATA.y)
    model.zero_grad(set_to_none=True)
    losses = task_losses(TASKS, model(x), y)
    mtl_ref.backward(losses, model.trunk.parameters(), name)
    return grads(model)


@pytest.mark.parametrize("name", ["equal", "mean", "upgrad", "mgda", "pcgrad"])
def test_one_step_of_fit_leaves_the_same_grad(name: str) -> None:
    """``fit`` with one full batch per epoch: after it, ``.grad`` holds that step's gradient (taken at the initial
    weights); the own loop on a plain module, fed the same (shuffled) batch, fills the same ``.grad``."""
    model = hard_sharing()
    plain = plain_copy(model)
    torch.manual_seed(0)  # PCGrad draws its projection order from torch's generator
    fit(model, TASKS, DATA, epochs=1, batch_size=len(DATA), method=method(name, num_tasks=3), seed=5,
        progress=False)
    order = torch.randperm(len(DATA), generator=torch.Generator().manual_seed(5))
    batch = (DATA.x[order], {k: v[order] for k, v in DATA.y.items()})
    torch.manual_seed(0)
    ours = own_step(plain, name, batch)
    theirs = grads(model)
    assert ours.keys() == theirs.keys()
    for k in ours:
        torch.testing.assert_close(ours[k], theirs[k], rtol=0, atol=0, msg=k)


@pytest.mark.parametrize(("ours", "theirs"), [("mean", "Mean"), ("upgrad", "UPGrad")])
def test_matches_torchjd_mtl_backward(ours: str, theirs: str) -> None:
    autojac = pytest.importorskip("torchjd.autojac")
    aggregation = pytest.importorskip("torchjd.aggregation")
    model = plain_copy(hard_sharing())
    reference = copy.deepcopy(model)
    mine = own_step(model, ours)

    out = reference(DATA.x)
    losses = [nn.functional.mse_loss(out[t.name], DATA.y[t.name]) for t in TASKS]
    autojac.mtl_backward(losses, features=reference.z)
    autojac.jac_to_grad(list(reference.trunk.parameters()), getattr(aggregation, theirs)())
    for k, g in grads(reference).items():
        torch.testing.assert_close(mine[k], g, rtol=1e-5, atol=1e-7, msg=k)


def test_takes_an_aggregator_object_and_a_list_of_losses() -> None:
    a, b = plain_copy(hard_sharing()), plain_copy(hard_sharing())
    expected = own_step(a, "upgrad")
    out = b(DATA.x)
    mtl_ref.backward([nn.functional.mse_loss(out[t.name], DATA.y[t.name]) for t in TASKS], b.trunk.parameters(),
                     UPGrad())
    for k, g in grads(b).items():
        torch.testing.assert_close(g, expected[k], rtol=0, atol=0)


def test_features_give_the_representation_level() -> None:
    model = hard_sharing()
    plain = plain_copy(model)
    fit(model, TASKS, DATA, epochs=1, batch_size=len(DATA), method=method("mgda", level="representation"),
        seed=5, progress=False)
    order = torch.randperm(len(DATA), generator=torch.Generator().manual_seed(5))
    out = plain(DATA.x[order])
    losses = task_losses(TASKS, out, {k: v[order] for k, v in DATA.y.items()})
    mtl_ref.backward(losses, plain.trunk.parameters(), "mgda", features=plain.z)
    for k, g in grads(model).items():
        torch.testing.assert_close(dict(plain.named_parameters())[k].grad, g, rtol=1e-6, atol=1e-8)


def test_a_stateful_method_object_keeps_its_state() -> None:
    dwa = DWA()
    plain = plain_copy(hard_sharing())
    own_step(plain, dwa)
    assert dwa.pop_trace().shape == (1, 3)


def test_task_parameters_are_the_other_leaves() -> None:
    plain = plain_copy(hard_sharing())
    losses = task_losses(TASKS, plain(DATA.x), DATA.y)
    assert {id(p) for p in leaf_parameters(losses)} == {id(p) for p in plain.parameters()}


def test_bad_inputs_are_named() -> None:
    plain = plain_copy(hard_sharing())
    losses = task_losses(TASKS, plain(DATA.x), DATA.y)
    with pytest.raises(ValueError, match=r"shared_params is empty .* e\.g\. model\.trunk\.parameters\(\)"):
        mtl_ref.backward(losses, [], "mean")
    with pytest.raises(ValueError, match=r"one scalar loss per task \(a \(T,\) tensor\), got shape \(\)"):
        mtl_ref.backward(losses.sum(), plain.trunk.parameters(), "mean")
    with pytest.raises(ValueError, match="without a graph"):
        mtl_ref.backward(losses.detach(), plain.trunk.parameters(), "mean")
    with pytest.raises(ValueError, match="unknown method 'upgrd'"):
        mtl_ref.backward(losses, plain.trunk.parameters(), "upgrd")


def test_a_plain_module_in_fit_with_a_gradient_method_says_how_to_declare_shared_parameters() -> None:
    with pytest.raises(TypeError, match=r"Plain does not say which parameters are shared.*subclass "
                                        r"mtl_ref\.models\.MultiTaskModel and define shared_parameters\(\).*"
                                        r"mtl_ref\.backward\(losses, shared_params, method\)"):
        fit(Plain(), TASKS, DATA, epochs=1, batch_size=8, method="upgrad", progress=False)
