"""Every method on the 2-D toy at once: closed-form two-task updates, vectorised over methods and starts.

:func:`mtl_ref.toy2d.trajectories` runs the package's aggregators one start at a time; on a two-parameter toy each
step then costs milliseconds of Python overhead, and the papers' 35,000–100,000 Adam steps take hours for the whole
set of methods. With two tasks every aggregator of :mod:`mtl_ref.weighting` has a closed form in the three numbers
``a = ‖g₁‖²``, ``b = g₁ᵀg₂``, ``c = ‖g₂‖²``; this module writes them out for a batch of ``(2, P)`` Jacobians, and
computes the toy's Jacobian analytically (with torch's ``clamp``/``abs`` conventions at the kinks), so that all runs
advance together in float64 NumPy. ``tests/test_toy2d.py`` checks every update against the package's aggregator
and short trajectories against :func:`mtl_ref.toy2d.trajectories`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .toy2d import two_objective  # noqa: F401  (the objective these gradients belong to)

#: The ridge :class:`~mtl_ref.weighting.NashMTL` adds to the cosine matrix.
RIDGE = 1e-8
#: The relative eigenvalue cutoff of :class:`~mtl_ref.weighting.IMTLG` and :class:`~mtl_ref.weighting.AlignedMTL`.
RANK_EPS = float(np.finfo(np.float32).eps)

Update = Callable[[np.ndarray], np.ndarray]


def losses_and_jacobian(x: np.ndarray, scales: Sequence[float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """The toy's losses ``(N, 2)`` and Jacobians ``(N, 2 tasks, 2 coordinates)`` at points ``x`` of shape ``(N, 2)``.

    ``scales`` multiply the two losses: two numbers, or one pair per point ``(N, 2)``.

    Same values as :func:`mtl_ref.toy2d.two_objective`; the derivatives follow torch's conventions where the
    function has kinks: ``clamp(min=m)`` passes the gradient where the input is ``≥ m``, ``abs`` has derivative 0 at 0.
    """
    x1, x2 = x[:, 0], x[:, 1]
    t2, t = np.tanh(x2 / 2), np.tanh(x2)
    dt2 = 0.5 * (1 - t2**2)  # d tanh(x2/2) / dx2
    dt = 1 - t**2  # d tanh(x2) / dx2
    c1, c2 = np.maximum(t2, 0), np.maximum(-t2, 0)
    dc1 = np.where(t2 >= 0, dt2, 0.0)
    dc2 = np.where(-t2 >= 0, -dt2, 0.0)
    losses, jac = [], []
    for a, da_dx2, bowl_center in ((-0.5 * x1 - 3.5 + t, dt, 7.0), (-0.5 * x1 + 3.5 - t, -dt, -7.0)):
        mag = np.abs(a)
        passes = mag >= 5e-6
        valley = np.log(np.maximum(mag, 5e-6)) + 6
        inv = np.where(passes, np.sign(a) / np.maximum(mag, 5e-6), 0.0)  # d log max(|a|, ε) / da
        dv = np.stack([-0.5 * inv, da_dx2 * inv], axis=-1)
        bowl = ((x1 - bowl_center) ** 2 + 0.1 * (x2 + 8) ** 2) / 10 - 20
        db = np.stack([(x1 - bowl_center) / 5, 0.02 * (x2 + 8)], axis=-1)
        losses.append(c1 * valley + c2 * bowl)
        dc = np.stack([np.zeros_like(x1), dc1 * valley + dc2 * bowl], axis=-1)
        jac.append(c1[:, None] * dv + c2[:, None] * db + dc)
    s = np.asarray(scales, dtype=float)
    return np.stack(losses, axis=-1) * s, np.stack(jac, axis=1) * s[..., :, None]


def _gram(j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    g1, g2 = j[:, 0], j[:, 1]
    return g1, g2, (g1 * g1).sum(-1), (g1 * g2).sum(-1), (g2 * g2).sum(-1)


def _combine(w1: np.ndarray, w2: np.ndarray, j: np.ndarray) -> np.ndarray:
    return w1[:, None] * j[:, 0] + w2[:, None] * j[:, 1]


def mean(j: np.ndarray) -> np.ndarray:
    """The mean gradient (the gradient of the mean loss)."""
    return j.mean(axis=1)


def mgda(j: np.ndarray) -> np.ndarray:
    """The minimum-norm point of the segment between ``g₁`` and ``g₂`` (Sener & Koltun 2018, Algorithm 1)."""
    _, _, a, b, c = _gram(j)
    denom = a + c - 2 * b
    w1 = np.clip(np.where(denom > 0, (c - b) / np.where(denom > 0, denom, 1.0), 0.5), 0.0, 1.0)
    return _combine(w1, 1 - w1, j)


def pcgrad(j: np.ndarray) -> np.ndarray:
    """PCGrad's sum of projected gradients (Yu et al. 2020, Algorithm 1); the order does not matter for two tasks."""
    _, _, a, b, c = _gram(j)
    conflict = b < 0
    w1 = 1 + np.where(conflict & (a > 0), -b / np.where(a > 0, a, 1.0), 0.0)
    w2 = 1 + np.where(conflict & (c > 0), -b / np.where(c > 0, c, 1.0), 0.0)
    return _combine(w1, w2, j)


def upgrad(j: np.ndarray, norm_eps: float = 1e-4, reg_eps: float = 1e-4) -> np.ndarray:
    """UPGrad (Quinton & Rey 2024): the mean of the projections of ``g₁/2`` and ``g₂/2`` onto the dual cone, computed
    as in :class:`~mtl_ref.weighting.UPGrad` on the trace-normalised Gramian plus ``reg_eps·I`` (the plain mean
    where the trace ``‖g₁‖² + ‖g₂‖²`` is below ``norm_eps``)."""
    _, _, a, b, c = _gram(j)
    trace = a + c
    normalised = (trace > 0) & (trace >= norm_eps)
    scale = np.where(normalised, trace, 1.0)
    h11 = np.where(normalised, a / scale, 0.0) + reg_eps
    h12 = np.where(normalised, b / scale, 0.0)
    h22 = np.where(normalised, c / scale, 0.0) + reg_eps
    # projecting u = e₁/2: v = u, plus v₂ = −h12/(2 h22) when h12 < 0 (and symmetrically for e₂/2)
    push = np.maximum(-h12, 0)
    w1 = 0.5 + 0.5 * push / np.where(h11 > 0, h11, 1.0)
    w2 = 0.5 + 0.5 * push / np.where(h22 > 0, h22, 1.0)
    return _combine(w1, w2, j)


def cagrad(j: np.ndarray, c_radius: float = 0.5) -> np.ndarray:
    """CAGrad (Liu et al. 2021): ``max_d min_i g_iᵀd`` over the ball ``‖d − g₀‖ ≤ c‖g₀‖``, in closed form for two
    tasks. The best ``d`` is ``g₀ + r·u_i`` for one task ``i`` (when that task stays the worse off), or the point of
    the ball where both rates are equal that maximises them; the candidate with the best worst rate wins."""
    g1, g2, a, b, c = _gram(j)
    g0 = (g1 + g2) / 2
    radius = c_radius * np.sqrt((g0 * g0).sum(-1))
    candidates = []
    for g, gg in ((g1, a), (g2, c)):
        norm = np.sqrt(gg)
        candidates.append(g0 + (radius / np.where(norm > 0, norm, 1.0))[:, None] * g)
    delta = g1 - g2
    dd = (delta * delta).sum(-1)
    safe_dd = np.where(dd > 0, dd, 1.0)
    along = (delta * g0).sum(-1) / safe_dd  # z = −along·δ + z⊥ keeps δᵀd = 0
    g1_perp = g1 - ((g1 * delta).sum(-1) / safe_dd)[:, None] * delta
    perp_norm = np.sqrt((g1_perp * g1_perp).sum(-1))
    room = np.sqrt(np.maximum(radius**2 - along**2 * dd, 0.0))
    equal = g0 - along[:, None] * delta + (room / np.where(perp_norm > 0, perp_norm, 1.0))[:, None] * g1_perp
    feasible = (dd > 0) & (along**2 * dd <= radius**2)
    candidates.append(np.where(feasible[:, None], equal, g0))
    d = np.stack(candidates, axis=1)  # (N, 3, P)
    rates = np.minimum((d * g1[:, None]).sum(-1), (d * g2[:, None]).sum(-1))
    return d[np.arange(len(d)), rates.argmax(axis=1)]


def nash_mtl(j: np.ndarray, max_norm: float = 1.0) -> np.ndarray:
    """Nash-MTL (Navon et al. 2022) for two tasks: ``α_i ∝ 1/(‖g_i‖√(1+cos))``, so ``d = (u₁+u₂)/√(1+cos)`` with
    ``u_i`` the unit gradients (norm √2), clipped to ``max_norm`` as in :class:`~mtl_ref.weighting.NashMTL`."""
    _, _, a, b, c = _gram(j)
    na, nc = np.sqrt(a), np.sqrt(c)
    alive1, alive2 = na > 0, nc > 0
    cos = np.where(alive1 & alive2, b / np.where(alive1 & alive2, na * nc, 1.0), 0.0)
    # with the package's ridge on the cosine matrix: finite for opposite gradients; a task whose gradient is zero
    # gets weight 0 and the other its unit gradient
    root = np.where(alive1 & alive2, np.sqrt(np.maximum(1 + cos, 0.0) + RIDGE), np.sqrt(1 + RIDGE))
    d = _combine(np.where(alive1, 1 / (np.where(alive1, na, 1.0) * root), 0.0),
                 np.where(alive2, 1 / (np.where(alive2, nc, 1.0) * root), 0.0), j)
    if max_norm > 0:
        norm = np.sqrt((d * d).sum(-1))
        d = d * np.minimum(1.0, max_norm / np.where(norm > 0, norm, max_norm))[:, None]
    return d


def _eigenvalues(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smaller and larger eigenvalue of the Gramians ``[[a, b], [b, c]]``."""
    half_gap = 0.5 * np.sqrt((a - c) ** 2 + 4 * b**2)
    return np.maximum(0.5 * (a + c) - half_gap, 0.0), 0.5 * (a + c) + half_gap


def imtl_g(j: np.ndarray) -> np.ndarray:
    """IMTL-G (Liu et al. 2021): ``α ∝ G⁺√diag(G)`` normalised to sum to 1 (equal projections on the unit gradients).

    As :class:`~mtl_ref.weighting.IMTLG`, the pseudo-inverse drops an eigenvalue below ``2ε₃₂·λ_max``: then
    ``G⁺ = G/λ_max²``; otherwise ``G⁻¹ ∝ adj(G)`` (the determinant cancels in the normalisation)."""
    _, _, a, b, c = _gram(j)
    ra, rc = np.sqrt(a), np.sqrt(c)
    low, high = _eigenvalues(a, b, c)
    singular = low <= 2 * RANK_EPS * high
    safe_high = np.where(high > 0, high, 1.0)
    v1 = np.where(singular, (a * ra + b * rc) / safe_high**2, (c * ra - b * rc) / np.where(singular, 1.0, low * high))
    v2 = np.where(singular, (b * ra + c * rc) / safe_high**2, (a * rc - b * ra) / np.where(singular, 1.0, low * high))
    total = (v1 + v2) * np.where(high > 0, high, 1.0)  # compared at unit trace scale, as the package
    ok = (np.abs(total / np.where(a + c > 0, a + c, 1.0)) >= 1e-12) & (high > 0)
    safe = np.where(ok, v1 + v2, 1.0)
    return _combine(np.where(ok, v1 / safe, 0.0), np.where(ok, v2 / safe, 0.0), j)


def aligned_mtl(j: np.ndarray) -> np.ndarray:
    """Aligned-MTL (Senushkin et al. 2023) with ``σ²`` the smallest kept eigenvalue and ``w = 1/2``, as the package:
    the weights are ``σ G^{-1/2} w``, with ``G^{1/2} = (G + √det·I)/√(tr + 2√det)`` for a 2 × 2 Gramian, or
    ``G/λ_max`` when the smaller eigenvalue is dropped (below ``2ε₃₂·λ_max``)."""
    _, _, a, b, c = _gram(j)
    low, high = _eigenvalues(a, b, c)
    singular = low <= 2 * RANK_EPS * high
    root_det = np.sqrt(low * high)
    t = np.sqrt(a + c + 2 * root_det)
    # (G + √det I)⁻¹ (1/2, 1/2) = adj(G + √det I)(1/2, 1/2) / det(G + √det I)
    det_shift = (a + root_det) * (c + root_det) - b**2
    safe_det = np.where(singular, 1.0, det_shift)
    full1 = np.sqrt(low) * t * 0.5 * (c + root_det - b) / safe_det
    full2 = np.sqrt(low) * t * 0.5 * (a + root_det - b) / safe_det
    safe_high = np.where(high > 0, high, 1.0)
    w1 = np.where(high > 0, np.where(singular, 0.5 * (a + b) / safe_high, full1), 0.5)
    w2 = np.where(high > 0, np.where(singular, 0.5 * (b + c) / safe_high, full2), 0.5)
    return _combine(w1, w2, j)


#: The closed-form updates by aggregator name (names as in :data:`mtl_ref.weighting.AGGREGATORS`).
UPDATES: dict[str, Update] = {"mean": mean, "mgda": mgda, "pcgrad": pcgrad, "cagrad": cagrad, "nash_mtl": nash_mtl,
                              "imtl_g": imtl_g, "aligned_mtl": aligned_mtl, "upgrad": upgrad}


class _Adam:
    """Adam on a batch of points, as :class:`torch.optim.Adam` (β = (0.9, 0.999), ε = 1e-8, L2 weight decay)."""

    def __init__(self, x: np.ndarray, lr: float, weight_decay: float = 0.0) -> None:
        self.lr, self.weight_decay, self.t = lr, weight_decay, 0
        self.m, self.v = np.zeros_like(x), np.zeros_like(x)

    def step(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        self.t += 1
        if self.weight_decay:
            grad = grad + self.weight_decay * x
        self.m = 0.9 * self.m + 0.1 * grad
        self.v = 0.999 * self.v + 0.001 * grad**2
        m_hat = self.m / (1 - 0.9**self.t)
        v_hat = self.v / (1 - 0.999**self.t)
        return x - self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def trajectories(methods: dict[str, tuple[str, dict]], starts: Sequence[Sequence[float]], *, steps: int,
                 lr: float = 1e-3, scales: Sequence[float] = (1.0, 1.0), record_every: int = 100
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run every method from every start with Adam, all together; return positions and losses per method.

    ``methods`` maps a label to ``(name, hyperparameters)``: an aggregator name of :data:`UPDATES` or ``"famo"``
    (hyperparameters ``min_losses``, ``w_lr``, ``gamma`` as in :class:`~mtl_ref.weighting.FAMO`). As in
    :func:`mtl_ref.toy2d.trajectories`, the update is handed to Adam as the gradient. Returns two dicts of
    ``(S, R, 2)`` arrays, recorded at step 0 and every ``record_every`` steps. ``scales`` (two numbers, or one pair
    per start) multiply the losses; FAMO's ``min_losses`` may also be given per start, ``(S, 2)``.
    """
    labels = list(methods)
    num_starts = len(starts)
    x = np.tile(np.asarray(starts, dtype=float), (len(labels), 1))  # (M·S, 2), method-major
    scales = np.asarray(scales, dtype=float)
    if scales.ndim == 2:
        if scales.shape != (num_starts, 2):
            raise ValueError(f"expected two scales or one pair per start, got shape {scales.shape}")
        scales = np.tile(scales, (len(labels), 1))
    adam = _Adam(x, lr)
    famo = {k: i for i, k in enumerate(labels) if methods[k][0] == "famo"}
    for k in labels:
        if methods[k][0] != "famo" and methods[k][0] not in UPDATES:
            raise ValueError(f"unknown method {methods[k][0]!r}")
    logits = {k: np.zeros((num_starts, 2)) for k in famo}
    logit_adam = {k: _Adam(logits[k], methods[k][1].get("w_lr", 0.025), methods[k][1].get("gamma", 0.01))
                  for k in famo}
    losses, jac = losses_and_jacobian(x, scales)
    positions, losses_rec = [x.copy()], [losses]
    for step in range(steps):
        grad = np.empty_like(x)
        gaps = {}
        for i, k in enumerate(labels):
            rows = slice(i * num_starts, (i + 1) * num_starts)
            name, hp = methods[k]
            if name == "famo":
                gap = losses[rows] - np.asarray(hp.get("min_losses", 0.0), dtype=float) + 1e-8
                z = _softmax(logits[k])
                coeff = z / gap / (z / gap).sum(-1, keepdims=True)
                grad[rows] = np.einsum("st,stp->sp", coeff, jac[rows])
                gaps[k] = gap
            else:
                grad[rows] = UPDATES[name](jac[rows], **hp)
        x = adam.step(x, grad)
        losses, jac = losses_and_jacobian(x, scales)  # FAMO's losses after the step are the next step's losses
        for k, i in famo.items():
            rows = slice(i * num_starts, (i + 1) * num_starts)
            hp = methods[k][1]
            decrease = np.log(gaps[k]) - np.log(losses[rows] - np.asarray(hp.get("min_losses", 0.0)) + 1e-8)
            z = _softmax(logits[k])
            logits[k] = logit_adam[k].step(logits[k], z * (decrease - (z * decrease).sum(-1, keepdims=True)))
        if (step + 1) % record_every == 0:
            positions.append(x.copy())
            losses_rec.append(losses)
    pos, los = np.stack(positions, axis=1), np.stack(losses_rec, axis=1)  # (M·S, R, 2)
    return ({k: pos[i * num_starts:(i + 1) * num_starts] for i, k in enumerate(labels)},
            {k: los[i * num_starts:(i + 1) * num_starts] for i, k in enumerate(labels)})


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)
