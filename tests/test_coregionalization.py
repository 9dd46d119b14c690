"""The ICM Gaussian process: with B = I it is independent GPs (scikit-learn); fitted, it learns B."""

import numpy as np
import pytest
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

from mtl_ref.kernels.coregionalization import (ICM, icm_covariance, icm_posterior, neg_log_marginal_likelihood,
                                               rbf, task_correlation)


def _data(seed=0, n=30, T=3):
    r = np.random.default_rng(seed)
    x = r.uniform(0, 5, n)
    t = r.integers(0, T, n)
    return x, t, np.sin(x) * (t + 1) + 0.1 * r.normal(size=n)


def test_identity_b_equals_independent_sklearn_gps() -> None:
    x, t, y = _data()
    x_new, ell, noise = np.linspace(0, 5, 7), 0.7, np.array([0.1, 0.2, 0.05])
    for k in range(3):
        mean, var = icm_posterior(x, t, y, x_new, np.full(7, k), np.eye(3), ell, noise)
        gp = GaussianProcessRegressor(ConstantKernel(1.0, "fixed") * RBF(ell, "fixed"), alpha=noise[k],
                                      optimizer=None).fit(x[t == k, None], y[t == k])
        ref_mean, ref_std = gp.predict(x_new[:, None], return_std=True)
        assert np.abs(mean - ref_mean).max() < 1e-10
        assert np.abs(np.sqrt(var) - ref_std).max() < 1e-10
        # The marginal likelihood factorises over tasks too.
    nll = float(neg_log_marginal_likelihood(torch.tensor(x), torch.tensor(t), torch.tensor(y),
                                            torch.eye(3, dtype=torch.float64), ell,
                                            torch.tensor(noise)))
    ref = sum(-GaussianProcessRegressor(ConstantKernel(1.0, "fixed") * RBF(ell, "fixed"), alpha=noise[k],
                                        optimizer=None).fit(x[t == k, None], y[t == k]).log_marginal_likelihood_value_
              for k in range(3))
    assert nll == pytest.approx(ref, rel=1e-10)


def test_covariance_is_kronecker_on_a_grid() -> None:
    x = torch.linspace(0, 1, 4, dtype=torch.float64)
    B = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    xs, ts = x.repeat(2), torch.arange(2).repeat_interleave(4)
    assert torch.allclose(icm_covariance(xs, ts, xs, ts, B, 0.3), torch.kron(B, rbf(x, x, 0.3)))


def test_fit_learns_correlated_tasks_and_beats_its_start() -> None:
    r = np.random.default_rng(3)
    x = r.uniform(0, 5, 60)
    t = np.tile([0, 1], 30)
    y = np.where(t == 0, 1.0, -2.0) * np.sin(2 * x) + 0.05 * r.normal(size=60)
    model = ICM(2, rank=1).fit(x, t, y)
    corr = task_correlation(model.B_)
    assert corr[0, 1] < -0.9                       # the tasks are the same function with opposite signs
    assert model.B_[1, 1] > model.B_[0, 0]
    mean, var = model.predict(np.array([1.0, 2.0]), 1)
    assert np.abs(mean - (-2.0 * np.sin([2.0, 4.0]))).max() < 0.2 and (var >= 0).all()


def test_errors() -> None:
    with pytest.raises(ValueError, match="task indices"):
        ICM(2).fit(np.zeros(3), np.array([0, 1, 2]), np.zeros(3))
    with pytest.raises(ValueError, match="rank"):
        ICM(2, rank=3).fit(np.zeros(3), np.array([0, 1, 1]), np.zeros(3))
    with pytest.raises(RuntimeError, match="fit"):
        ICM(2).predict(np.zeros(2), 0)
