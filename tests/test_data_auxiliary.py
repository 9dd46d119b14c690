"""The auxiliary-task problems: shapes, determinism, and the relation between main target and helper."""

from __future__ import annotations

import math

import pytest
import torch

from mtl_ref.data import (admissions, intermediate_feature, low_rank_inputs, noisy_feature, nuisance_attribute,
                          other_objects, quantised_target, rare_feature, related_tasks, rotate, rotated_moons,
                          symmetric_target, two_moons)

SIZES = {"train": 50, "val": 20, "test": 30}
GENERATORS = [related_tasks, symmetric_target, intermediate_feature, rare_feature, other_objects, quantised_target,
              lambda s, seed: noisy_feature(s, seed, feature_noise=0.5), low_rank_inputs, admissions]


@pytest.mark.parametrize("make", GENERATORS)
def test_splits_shapes_and_determinism(make) -> None:
    a, b, c = make(SIZES, 0), make(SIZES, 0), make(SIZES, 1)
    assert set(a) == set(SIZES)
    for split, n in SIZES.items():
        assert a[split]["x"].shape[0] == n and a[split]["y"].shape == (n,) and a[split]["aux"].shape[0] == n
        assert torch.equal(a[split]["x"], b[split]["x"])
    assert not torch.equal(a["train"]["x"], c["train"]["x"])
    with pytest.raises(ValueError, match="at least one row"):
        make({"train": 0}, 0)


def test_related_tasks_read_the_same_directions() -> None:
    d = related_tasks({"train": 2000}, 0, noise=0.0)["train"]
    z = torch.tanh(2 * d["x"] @ d["basis"])
    coef = torch.linalg.lstsq(z, torch.cat([d["y"][:, None], d["aux"]], 1)).solution
    assert torch.allclose(z @ coef, torch.cat([d["y"][:, None], d["aux"]], 1), atol=1e-4)
    assert torch.allclose(d["basis"].T @ d["basis"], torch.eye(3), atol=1e-5)


def test_symmetric_target_is_even() -> None:
    d = symmetric_target({"train": 100}, 0, noise=0.0)["train"]
    # rebuild the target from the generator's first draws and evaluate it at x and at -x
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, generator=gen) / 2, torch.randn(4, generator=gen) / 2
    f = lambda x: (x @ a).square() + torch.cos(2 * x @ b)
    assert torch.allclose(f(d["x"]), d["y"], atol=1e-5) and torch.allclose(f(-d["x"]), d["y"], atol=1e-5)


def test_intermediate_and_noisy_feature_are_functions_of_h() -> None:
    d = intermediate_feature({"train": 500}, 0, noise=0.0)["train"]
    assert torch.allclose(d["y"], torch.sin(2 * d["aux"]), atol=1e-5)
    n = noisy_feature({"train": 2000}, 0, feature_noise=0.5, noise=0.0)["train"]
    assert torch.allclose(n["y"], torch.sin(2 * n["h"]), atol=1e-5)
    assert (n["aux"] - n["h"]).std().item() == pytest.approx(0.5, rel=0.1)


def test_rare_feature_is_zero_where_the_object_is_absent() -> None:
    d = rare_feature({"train": 4000}, 0, rate=0.1)["train"]
    absent = d["present"] == 0
    assert d["present"].mean().item() == pytest.approx(0.1, abs=0.02)
    assert torch.all(d["x"][absent, 10:20] == 0) and torch.all(d["aux"][absent] == 0)
    assert d["x"].shape == (4000, 20)


def test_other_objects_share_one_detector_and_are_labelled_only_where_present() -> None:
    d = other_objects({"train": 4000}, 0, d=10, d_small=10, rate=0.2, n_other=6, noise=0.0)["train"]
    absent = d["present"] == 0
    assert d["present"].mean().item() == pytest.approx(0.2, abs=0.03)
    assert torch.all(d["x"][absent, 10:] == 0) and torch.all(d["aux"][absent] == 0)
    assert torch.all(d["signal"][absent] == 0)
    z = torch.tanh(2 * d["x"][:, 10:] @ d["basis"])  # the shared detector's features
    both = torch.cat([d["signal"][:, None], d["aux"]], 1)  # the main kind's score and the other kinds' labels
    assert torch.allclose(z @ torch.linalg.lstsq(z, both).solution, both, atol=1e-4)
    design = torch.cat([d["x"][:, :10], d["signal"][:, None]], 1)  # y = x·w + effect·s, exactly without noise
    assert torch.allclose(design @ torch.linalg.lstsq(design, d["y"][:, None]).solution, d["y"][:, None], atol=1e-4)
    assert d["aux"].shape == (4000, 6) and torch.allclose(d["basis"].T @ d["basis"], torch.eye(3), atol=1e-5)


def test_quantised_target_is_the_sign_of_the_helper() -> None:
    d = quantised_target({"train": 500}, 0)["train"]
    assert torch.equal(d["y"], (d["aux"] > 0).float())


def test_low_rank_inputs_lie_near_the_basis() -> None:
    d = low_rank_inputs({"train": 500}, 0, input_noise=0.0)["train"]
    proj = d["x"] @ d["basis"] @ d["basis"].T
    assert torch.allclose(proj, d["x"], atol=1e-4) and torch.equal(d["aux"], d["x"])


def test_admissions_risk_and_labels() -> None:
    d = admissions({"train": 20000}, 0)["train"]
    assert d["aux"].shape == (20000, 8)
    assert d["y"].mean().item() == pytest.approx(d["risk"].mean().item(), abs=0.02)
    assert torch.all((d["risk"] > 0) & (d["risk"] < 1))


def test_two_moons_rotation_and_rotated_moons() -> None:
    x, y = two_moons(1000, 0.0, torch.Generator().manual_seed(0))
    shifted = x + torch.tensor([0.5, 0.25])
    outer = shifted[y == 0]
    assert torch.allclose(outer.norm(dim=1), torch.ones(len(outer)), atol=1e-5)
    r = rotate(torch.tensor([[1.0, 0.0]]), 90.0)
    assert torch.allclose(r, torch.tensor([[0.0, 1.0]]), atol=1e-6)
    assert torch.allclose(rotate(x, 35.0).norm(dim=1), x.norm(dim=1), atol=1e-5)
    data = rotated_moons({"train": 10, "test": 6}, 0)
    assert data["train"]["x_target"].shape == (10, 2) and data["test"]["y"].shape == (6,)
    with pytest.raises(ValueError, match="two rows"):
        rotated_moons({"train": 1}, 0)


def test_nuisance_is_independent_of_the_label_and_linearly_visible() -> None:
    d = nuisance_attribute({"train": 4000}, 0)["train"]
    assert abs(torch.corrcoef(torch.stack([d["y"], d["aux"]]))[0, 1].item()) < 0.05
    coef = torch.linalg.lstsq(torch.cat([d["x"], torch.ones(4000, 1)], 1), d["aux"][:, None] * 2 - 1).solution
    pred = torch.cat([d["x"], torch.ones(4000, 1)], 1) @ coef
    assert ((pred[:, 0] > 0).float() == d["aux"]).float().mean() > 0.9
    with pytest.raises(ValueError, match="at least one row"):
        nuisance_attribute({"train": 0}, 0)
