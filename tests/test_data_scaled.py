"""ScaledTanh (GradNorm's toy) and noisy_regression (uncertainty weighting's toy): shapes, scales, seeds."""

import pytest
import torch

from mtl_ref.data import MultiTaskData, ScaledTanh, noisy_regression


def test_scaled_tanh_shapes_and_formula():
    problem = ScaledTanh(sigmas=(1.0, 100.0), dim=12, out_dim=5, seed=3)
    data = problem.sample(40, seed=1)
    assert isinstance(data, MultiTaskData) and data.tasks == ["t0", "t1"]
    assert data.x.shape == (40, 12) and data.y["t1"].shape == (40, 5)
    torch.testing.assert_close(data.x.norm(dim=1), torch.ones(40))
    m = problem.matrices()
    assert m.shape == (2, 5, 12)
    torch.testing.assert_close(data.y["t1"], 100.0 * torch.tanh(data.x @ m[1].T), rtol=1e-4, atol=1e-3)
    assert data.y["t1"].abs().max() <= 100.0 and data.y["t0"].abs().max() <= 1.0


def test_scaled_tanh_tasks_share_b_and_differ_by_eps():
    m = ScaledTanh(sigmas=(1.0,) * 4, dim=50, out_dim=40, seed=0).matrices()
    diff = (m[0] - m[1]).std().item()
    assert 3.5 * 2 ** 0.5 * 0.8 < diff < 3.5 * 2 ** 0.5 * 1.2  # ε_0 − ε_1 has std 3.5·√2
    assert 0.8 * (100 + 3.5 ** 2) ** 0.5 < m[0].std().item() < 1.2 * (100 + 3.5 ** 2) ** 0.5


def test_scaled_tanh_seeds():
    a, b = ScaledTanh(seed=0), ScaledTanh(seed=1)
    torch.testing.assert_close(a.sample(8, seed=2).y["t0"], a.sample(8, seed=2).y["t0"])
    assert not torch.equal(a.sample(8, seed=2).y["t0"], a.sample(8, seed=3).y["t0"])
    assert not torch.equal(a.sample(8, seed=2).y["t0"], b.sample(8, seed=2).y["t0"])
    # the first task's matrix does not depend on how many tasks there are
    torch.testing.assert_close(ScaledTanh(sigmas=(1.0, 2.0), seed=0).matrices()[0],
                               ScaledTanh(sigmas=(1.0, 2.0, 3.0), seed=0).matrices()[0])


@pytest.mark.parametrize("sigmas", [(), (1.0, 0.0), (-1.0,)])
def test_scaled_tanh_rejects_bad_scales(sigmas):
    with pytest.raises(ValueError):
        ScaledTanh(sigmas=sigmas)


def test_noisy_regression_noise_levels():
    data = noisy_regression(20000, noise=(10.0, 1.0), seed=0)
    x = data.x
    r1 = data.y["y1"] - (2 * x + 8)
    r2 = data.y["y2"] - (3 * x + 3)
    assert abs(r1.std().item() - 10.0) < 0.3 and abs(r2.std().item() - 1.0) < 0.03
    assert data.y["y1"].shape == (20000, 1)
    torch.testing.assert_close(noisy_regression(5, seed=4).y["y2"], noisy_regression(5, seed=4).y["y2"])
    with pytest.raises(ValueError):
        noisy_regression(5, noise=(1.0,))


def test_scaled_tanh_input_norm_scales_the_inputs_only():
    small = ScaledTanh(sigmas=(1.0,), dim=30, out_dim=4, input_norm=0.1, seed=2)
    unit = ScaledTanh(sigmas=(1.0,), dim=30, out_dim=4, seed=2)
    a, b = small.sample(16, seed=0), unit.sample(16, seed=0)
    torch.testing.assert_close(a.x, 0.1 * b.x)
    torch.testing.assert_close(a.y["t0"], torch.tanh(a.x @ small.matrices()[0].T), rtol=1e-4, atol=1e-5)
