"""Small quadratic programs on the ``T × T`` Gramian, solved exactly with non-negative least squares (NNLS).

The aggregators look for an update ``d = Jᵀw`` in the span of the task gradients, so their problems only involve
inner products of gradients. Any ``F`` with ``FᵀF = G`` (:func:`gramian_factor`) has ``T``-dimensional columns
``f_i`` with ``f_iᵀf_j = g_iᵀg_j``: a problem on ``P``-dimensional updates becomes the same problem on ``F w``,
and ``‖Jᵀw‖ = ‖F w‖``. Two problems recur:

* ``min_{v ≥ u} vᵀGv`` (UPGrad's projection onto the dual cone): with ``v = u + x`` it is the NNLS problem
  ``min_{x ≥ 0} ‖F x + F u‖``.
* the *least-distance problem* (LDP) ``min ‖z‖`` subject to ``g_iᵀz ≥ h_i`` for every task
  (:func:`least_distance`, CAGrad), which Lawson & Hanson, *Solving Least Squares Problems* (1974), reduce to one
  NNLS problem.

:func:`scipy.optimize.nnls` is Lawson and Hanson's active-set method: it stops at the exact solution (up to
rounding) after finitely many steps, where an interior-point or quasi-Newton solver stops at a tolerance.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


def gramian_factor(gramian: Tensor) -> np.ndarray:
    """A ``(T, T)`` float64 array ``F`` with ``FᵀF = G``, from the eigendecomposition ``G = V Λ Vᵀ``: ``F = Λ^½ Vᵀ``.

    Unlike a Cholesky factor it exists for singular Gramians (collinear or zero gradients); eigenvalues made slightly
    negative by rounding are read as 0.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(gramian.cpu().numpy())
    return np.sqrt(np.clip(eigenvalues, 0.0, None))[:, None] * eigenvectors.T


def least_distance(factor: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
    """The shortest ``z = Σ_i μ_i g_i`` with ``g_iᵀz ≥ bounds_i`` for every task: ``(μ, ‖z‖²)``.

    ``factor`` is ``F`` with ``FᵀF = G``. The multipliers ``μ ≥ 0`` come from one NNLS problem,
    ``u = argmin_{u ≥ 0} ‖[F; boundsᵀ] u − e_{T+1}‖``: its residual ``r`` satisfies ``‖r‖² = 1 − boundsᵀu``,
    and ``z = F u/(1 − boundsᵀu)`` (Lawson & Hanson's reduction of LDP), so ``μ = u/‖r‖²`` and
    ``‖z‖² = 1/‖r‖² − 1``.
    A zero residual means that no ``z`` meets the bounds; a residual at rounding level cannot be told apart from it
    (it would mean ``‖z‖ ≳ 3·10⁷`` times the gradients' scale), and both give an infinite distance and ``μ = 0``.
    """
    from scipy.optimize import nnls  # imported here: SciPy's optimisers take a second to import

    tasks = len(bounds)
    target = np.zeros(tasks + 1)
    target[-1] = 1.0
    u, _ = nnls(np.vstack([factor, bounds[None, :]]), target)
    slack = 1.0 - float(bounds @ u)
    if slack <= 4 * np.finfo(np.float64).eps:
        return np.zeros(tasks), float("inf")
    return u / slack, 1.0 / slack - 1.0
