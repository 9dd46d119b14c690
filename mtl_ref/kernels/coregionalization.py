"""Multi-task Gaussian processes with the intrinsic coregionalisation model (ICM; Bonilla, Chai & Williams,
"Multi-task Gaussian process prediction", NIPS 2007; Álvarez, Rosasco & Lawrence, "Kernels for vector-valued
functions: a review", 2012, §4.2).

Task ``t``'s function is a combination of shared latent functions, so the covariance of two observations factorises
into a task part and an input part:

.. math:: \\operatorname{cov}\\big(f_t(x), f_s(x')\\big) = B_{ts}\\, k(x, x'), \\qquad
          K = B \\otimes K_x \\text{ on a grid},

with :math:`B = LL^\\top + \\operatorname{diag}(\\kappa)` a positive semi-definite task covariance (rank ``R`` plus a
diagonal) and :math:`k` a squared-exponential kernel of length-scale :math:`\\ell`. Observations
:math:`y = f_t(x) + \\varepsilon` carry noise of variance :math:`\\sigma_t^2` per task. Observations of one task
then inform another in proportion to their correlation in :math:`B`. :math:`B`, :math:`\\ell` and the noises are
learned by maximising the log marginal likelihood
:math:`-\\tfrac12 y^\\top (K + \\Sigma)^{-1} y - \\tfrac12 \\log|K + \\Sigma| - \\tfrac n2 \\log 2\\pi`
(Rasmussen & Williams 2006, Eq. 2.30). Observations need not share inputs across tasks: each is a pair
(input, task index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

DTYPE = torch.float64


def _tensor(a: np.ndarray | torch.Tensor, dtype: torch.dtype = DTYPE) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a, dtype=dtype)


def rbf(x1: torch.Tensor, x2: torch.Tensor, lengthscale: torch.Tensor | float) -> torch.Tensor:
    """The squared-exponential kernel ``exp(−(x − x')² / 2ℓ²)`` between 1-D inputs, ``len(x1) × len(x2)``."""
    return torch.exp(-0.5 * ((x1[:, None] - x2[None, :]) / lengthscale) ** 2)


def icm_covariance(x1: torch.Tensor, t1: torch.Tensor, x2: torch.Tensor, t2: torch.Tensor, B: torch.Tensor,
                   lengthscale: torch.Tensor | float) -> torch.Tensor:
    """``B[t_i, t_j] k(x_i, x_j)`` for observation pairs (input, task index)."""
    return B[t1][:, t2] * rbf(x1, x2, lengthscale)


def neg_log_marginal_likelihood(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, B: torch.Tensor,
                                lengthscale: torch.Tensor | float, noise: torch.Tensor) -> torch.Tensor:
    """``−log p(y)`` of the ICM with task covariance ``B``, length-scale ``ℓ`` and per-task noise variances."""
    K = icm_covariance(x, t, x, t, B, lengthscale) + torch.diag(noise[t])
    chol = torch.linalg.cholesky(K)
    alpha = torch.cholesky_solve(y[:, None], chol)[:, 0]
    return 0.5 * y @ alpha + torch.log(torch.diagonal(chol)).sum() + 0.5 * len(y) * math.log(2 * math.pi)


def icm_posterior(x: np.ndarray, t: np.ndarray, y: np.ndarray, x_new: np.ndarray, t_new: np.ndarray,
                  B: np.ndarray, lengthscale: float, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of the latent ``f_{t_new}(x_new)`` (without the noise) given the observations.

    Rasmussen & Williams (2006), Eq. 2.25–2.26, with the ICM covariance; ``noise`` holds each task's noise variance.
    """
    xs, ts, ys = _tensor(x), torch.as_tensor(np.asarray(t), dtype=torch.long), _tensor(y)
    xn, tn = _tensor(x_new), torch.as_tensor(np.asarray(t_new), dtype=torch.long)
    Bt, nt = _tensor(B), _tensor(noise)
    K = icm_covariance(xs, ts, xs, ts, Bt, lengthscale) + torch.diag(nt[ts])
    chol = torch.linalg.cholesky(K)
    Ks = icm_covariance(xn, tn, xs, ts, Bt, lengthscale)
    mean = Ks @ torch.cholesky_solve(ys[:, None], chol)[:, 0]
    v = torch.linalg.solve_triangular(chol, Ks.T, upper=False)
    var = Bt[tn, tn] - (v ** 2).sum(0)
    return mean.numpy(), var.clamp_min(0.0).numpy()


@dataclass
class ICM:
    """An ICM Gaussian process whose ``B``, length-scale and noises are fitted by marginal likelihood.

    Args:
        n_tasks: the number of tasks ``T``.
        rank: the rank ``R`` of ``LLᵀ`` in ``B = LLᵀ + diag(κ)``.
        steps: L-BFGS iterations (strong-Wolfe line search).
        seed: seeds the initial ``L``.

    After :meth:`fit`: ``B_`` (``T × T``), ``lengthscale_``, ``noise_`` (variances, one per task).
    """

    n_tasks: int
    rank: int = 1
    steps: int = 200
    seed: int = 0

    def fit(self, x: np.ndarray, t: np.ndarray, y: np.ndarray) -> "ICM":
        """Maximise the marginal likelihood of observations ``y`` at inputs ``x`` of tasks ``t`` (all 1-D)."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        t = np.asarray(t)
        if not (x.ndim == t.ndim == y.ndim == 1 and len(x) == len(t) == len(y)):
            raise ValueError(f"x, t and y must be 1-D of the same length, got {x.shape}, {t.shape}, {y.shape}")
        if t.min() < 0 or t.max() >= self.n_tasks:
            raise ValueError(f"task indices must lie in 0..{self.n_tasks - 1}, got {t.min()}..{t.max()}")
        if not 1 <= self.rank <= self.n_tasks:
            raise ValueError(f"rank must be in 1..{self.n_tasks}, got {self.rank}")
        xs, ts, ys = _tensor(x), torch.as_tensor(t, dtype=torch.long), _tensor(y)
        g = torch.Generator().manual_seed(self.seed)
        scale = float(np.std(y)) or 1.0
        L = (scale * (0.5 + 0.1 * torch.randn(self.n_tasks, self.rank, generator=g, dtype=DTYPE))).requires_grad_()
        log_kappa = torch.full((self.n_tasks,), math.log(0.1 * scale ** 2), dtype=DTYPE, requires_grad=True)
        log_ell = torch.tensor(math.log(0.2 * (np.ptp(x) or 1.0)), dtype=DTYPE, requires_grad=True)
        log_noise = torch.full((self.n_tasks,), math.log(0.1 * scale ** 2), dtype=DTYPE, requires_grad=True)
        params = [L, log_kappa, log_ell, log_noise]
        opt = torch.optim.LBFGS(params, max_iter=self.steps, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            B = L @ L.T + torch.diag(log_kappa.exp())
            loss = neg_log_marginal_likelihood(xs, ts, ys, B, log_ell.exp(), log_noise.exp() + 1e-8)
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            self.B_ = (L @ L.T + torch.diag(log_kappa.exp())).numpy()
            self.lengthscale_ = float(log_ell.exp())
            self.noise_ = (log_noise.exp() + 1e-8).numpy()
            self.nll_ = float(neg_log_marginal_likelihood(xs, ts, ys, _tensor(self.B_), self.lengthscale_,
                                                          _tensor(self.noise_)))
        self._data = (x, t, y)
        return self

    def predict(self, x_new: np.ndarray, t_new: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of task ``t_new``'s latent function at ``x_new``."""
        if not hasattr(self, "B_"):
            raise RuntimeError("fit the model first")
        x_new = np.asarray(x_new, dtype=float)
        t_new = np.broadcast_to(np.asarray(t_new), x_new.shape).copy()
        return icm_posterior(*self._data, x_new, t_new, self.B_, self.lengthscale_, self.noise_)


def task_correlation(B: np.ndarray) -> np.ndarray:
    """The correlation matrix ``B_ts / √(B_tt B_ss)`` of a task covariance."""
    d = np.sqrt(np.diag(B))
    return B / np.outer(d, d)
