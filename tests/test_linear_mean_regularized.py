"""Mean-regularised MTL: the closed form against the original (w_0, v_t) parametrisation."""

import numpy as np
import pytest

from mtl_ref.linear.mean_regularized import mean_regularized, mean_regularized_penalty, shared_part


def _direct(X, Y, lam_offset, lam_mean):
    """Solve Evgeniou & Pontil's problem over (w_0, v_1..v_T) as one least-squares problem."""
    T, n, d = X.shape
    M = np.zeros((T * n, d * (T + 1)))
    for t in range(T):
        M[t * n:(t + 1) * n, :d] = X[t]
        M[t * n:(t + 1) * n, d * (t + 1):d * (t + 2)] = X[t]
    P = np.diag([lam_mean] * d + [lam_offset / T] * (d * T))
    theta = np.linalg.solve(M.T @ M + P, M.T @ Y.ravel())
    return theta[:d], theta[d:].reshape(T, d).T


def test_closed_form_matches_the_original_parametrisation() -> None:
    r = np.random.default_rng(0)
    X, Y = r.normal(size=(4, 6, 3)), r.normal(size=(4, 6))
    w0, V = _direct(X, Y, 2.0, 0.5)
    W = mean_regularized(X, Y, 2.0, 0.5)
    assert np.allclose(W, w0[:, None] + V, atol=1e-12)
    assert np.allclose(shared_part(W, 2.0, 0.5), w0, atol=1e-12)


def test_large_offset_penalty_gives_one_common_model() -> None:
    r = np.random.default_rng(1)
    X, Y = r.normal(size=(3, 10, 2)), r.normal(size=(3, 10))
    W = mean_regularized(X, Y, 1e9, 1e-6)
    pooled = np.linalg.lstsq(X.reshape(-1, 2), Y.ravel(), rcond=None)[0]
    assert np.allclose(W, pooled[:, None], atol=1e-5)


def test_penalty_is_psd_and_checks_strengths() -> None:
    Q = mean_regularized_penalty(5, 1.0, 0.3)
    assert np.linalg.eigvalsh(Q).min() > 0
    with pytest.raises(ValueError, match="positive"):
        mean_regularized_penalty(5, 0.0, 1.0)
