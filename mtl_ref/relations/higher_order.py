"""A group's value predicted from pairwise results: Standley et al.'s higher-order approximation.

Standley, Zamir, Chen, Guibas, Malik, Savarese, "Which Tasks Should Be Learned Together in Multi-task Learning?",
ICML 2020, arXiv:1905.07553, Section 4: training every subset of T tasks costs 2^T − 1 networks, so they predict
task j's performance in a group S from the networks trained on pairs: the average of j's performance over the
pairs {i, j}, i ∈ S \\ {j} (the *higher-order approximation*); their *early-stopping approximation* judges the
same pairs (or groups) from networks trained for a fraction of the steps. TAG (Fifty et al. 2021,
arXiv:2109.04617, Section 3.2) scores a group in the same way from its affinity matrix: the affinity onto j in S is
the mean of Z_{i→j} over i ∈ S \\ {j}.

Both use one matrix ``pairwise[i, j]`` = what task i does for task j (a measured gain in j's test loss from
training with i, or an affinity), and the value of a task alone (0 for gains and affinities).
"""

from __future__ import annotations

import numpy as np


def pair_gains(pair_loss: np.ndarray) -> np.ndarray:
    """Relative gains ``G[i, j] = 1 − L_j({i, j}) / L_j({j})`` from ``pair_loss[i, j]`` = task j's loss when trained
    with task i, whose diagonal holds each task's loss alone; ``G``'s diagonal is 0."""
    pair_loss = np.asarray(pair_loss, dtype=float)
    if pair_loss.ndim != 2 or pair_loss.shape[0] != pair_loss.shape[1]:
        raise ValueError(f"pair_loss must be a square (T, T) matrix, got shape {pair_loss.shape}")
    alone = np.diag(pair_loss)
    if (alone <= 0).any():
        raise ValueError(f"the single-task losses on the diagonal must be positive, got {alone.tolist()}")
    return 1 - pair_loss / alone[None, :]


def group_values(pairwise: np.ndarray, groups: np.ndarray, alone: np.ndarray | float = 0.0) -> np.ndarray:
    """The predicted value of every task in every group: ``(G, T)``, NaN where the task is not in the group.

    ``groups`` is a ``(G, T)`` boolean membership matrix; for task j in group S the value is the mean of
    ``pairwise[i, j]`` over the other members i, or ``alone[j]`` when S = {j}.
    """
    pairwise = np.asarray(pairwise, dtype=float)
    groups = np.asarray(groups, dtype=bool)
    t = pairwise.shape[0]
    if pairwise.shape != (t, t):
        raise ValueError(f"pairwise must be a square (T, T) matrix, got shape {pairwise.shape}")
    if groups.ndim != 2 or groups.shape[1] != t:
        raise ValueError(f"groups must be a (G, {t}) membership matrix, got shape {groups.shape}")
    off = pairwise * (1 - np.eye(t))
    members = groups.astype(float)
    others = members.sum(1, keepdims=True) - 1  # (G, 1)
    sums = members @ off  # (G, T): Σ_{i ∈ S, i ≠ j} pairwise[i, j]
    alone = np.broadcast_to(np.asarray(alone, dtype=float), (t,))
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(others > 0, sums / np.maximum(others, 1), alone[None, :])
    return np.where(groups, values, np.nan)
