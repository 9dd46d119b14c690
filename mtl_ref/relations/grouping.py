"""Choose at most B groups of tasks (overlapping allowed) so that each task, served by its best group, does best.

The problem of Standley et al. (ICML 2020, arXiv:1905.07553, Section 4) and TAG (Fifty et al. 2021,
arXiv:2109.04617, Section 3.2): given ``values[s, j]``, the (predicted) value of task j when trained in candidate
group s (NaN when j ∉ s; :func:`~mtl_ref.relations.higher_order.group_values`), choose a collection C of at most
``budget`` groups that covers every task and maximises

    score(C) = Σ_j max_{s ∈ C, j ∈ s} values[s, j].

A task may sit in several chosen groups; it is served by the best one. For small T, :func:`exhaustive_grouping`
tries every collection. The number of collections grows like (2^T)^B, so beyond that :func:`beam_grouping` builds
collections one group at a time and keeps the ``width`` best partial collections after each addition (width 1 is
the greedy algorithm). Partial collections are ranked with every uncovered task at a floor below any value, so
covering a task always comes first. The objective is a facility-location function (monotone and submodular in C),
for which greedy selection is within a factor (1 − 1/e) of the optimum of the floor-shifted objective
(Nemhauser, Wolsey, Fisher 1978); the beam search is never worse than greedy, and no guarantee of optimality is
claimed: the tests compare it with the exhaustive search.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grouping:
    """The chosen groups (tuples of task indices), their score, and the search that found them."""

    groups: tuple[tuple[int, ...], ...]
    score: float
    search: str


def subsets(num_tasks: int, max_size: int | None = None) -> np.ndarray:
    """Every non-empty subset of ``num_tasks`` tasks with at most ``max_size`` members: a ``(S, T)`` bool matrix,
    ordered by size, then lexicographically."""
    if num_tasks < 1:
        raise ValueError(f"num_tasks must be at least 1, got {num_tasks}")
    top = num_tasks if max_size is None else min(max_size, num_tasks)
    blocks = []
    for k in range(1, top + 1):
        members = np.array(list(itertools.combinations(range(num_tasks), k)))  # (C(T, k), k)
        block = np.zeros((len(members), num_tasks), dtype=bool)
        block[np.arange(len(members))[:, None], members] = True
        blocks.append(block)
    return np.concatenate(blocks)


def grouping_score(values: np.ndarray, chosen: tuple[int, ...] | list[int]) -> float:
    """``score(C)`` for the candidate rows ``chosen`` of ``values``; -inf when a task is left uncovered."""
    best = np.nanmax(np.where(np.isnan(values[list(chosen)]), -np.inf, values[list(chosen)]), axis=0)
    return float(best.sum())


def _check(values: np.ndarray, budget: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be a (candidate groups, tasks) matrix, got shape {values.shape}")
    if budget < 1:
        raise ValueError(f"the budget must be at least one network, got {budget}")
    uncovered = np.flatnonzero(np.isnan(values).all(0))
    if len(uncovered):
        raise ValueError(f"tasks {uncovered.tolist()} are in no candidate group")
    return values


def _groups(candidates: np.ndarray, chosen: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(np.flatnonzero(candidates[s]).tolist()) for s in chosen)


def exhaustive_grouping(values: np.ndarray, candidates: np.ndarray, budget: int,
                        max_collections: int = 5_000_000) -> Grouping:
    """The best collection of at most ``budget`` candidate groups, by trying every one (sizes 1 to ``budget``).

    ``candidates`` is the ``(S, T)`` membership matrix the rows of ``values`` belong to. Raises if there are more
    than ``max_collections`` collections (use :func:`beam_grouping`).
    """
    values = _check(values, budget)
    count = sum(math.comb(len(values), k) for k in range(1, budget + 1))
    if count > max_collections:
        raise ValueError(f"{count} collections of at most {budget} of {len(values)} groups exceed max_collections "
                         f"= {max_collections}; use beam_grouping")
    filled = np.where(np.isnan(values), -np.inf, values)
    best, best_score = (), -np.inf
    for k in range(1, min(budget, len(values)) + 1):
        combos = np.array(list(itertools.combinations(range(len(values)), k)))
        for start in range(0, len(combos), 100_000):
            block = combos[start:start + 100_000]
            scores = filled[block].max(axis=1).sum(axis=1)  # -inf when a task is uncovered
            i = int(np.argmax(scores))
            if scores[i] > best_score:
                best, best_score = tuple(block[i].tolist()), float(scores[i])
    if not np.isfinite(best_score):
        raise ValueError(f"no collection of at most {budget} candidate groups covers every task")
    return Grouping(_groups(candidates, best), best_score, "exhaustive")


def beam_grouping(values: np.ndarray, candidates: np.ndarray, budget: int, width: int = 16) -> Grouping:
    """An approximate best collection: beam search adding one candidate group at a time, keeping ``width``."""
    values = _check(values, budget)
    floor = np.nanmin(values, axis=0) - 1.0  # below any value of each task: an uncovered task ranks last
    filled = np.where(np.isnan(values), -np.inf, values)
    beam: list[tuple[tuple[int, ...], np.ndarray]] = [((), np.full(values.shape[1], -np.inf))]
    best, best_score = (), -np.inf
    for _ in range(budget):
        proposals: dict[tuple[int, ...], tuple[float, np.ndarray]] = {}
        for chosen, current in beam:
            merged = np.maximum(current[None, :], filled)  # (S, T)
            scores = np.where(np.isfinite(merged), merged, floor[None, :]).sum(1)
            top = np.argpartition(-scores, width - 1)[:width] if width < len(scores) else np.arange(len(scores))
            for s in top[np.argsort(-scores[top], kind="stable")]:
                key = tuple(sorted(set(chosen) | {int(s)}))
                if key not in proposals:
                    proposals[key] = (float(scores[s]), merged[s])
        ranked = sorted(proposals.items(), key=lambda kv: (-kv[1][0], kv[0]))[:width]
        beam = [(key, merged) for key, (_, merged) in ranked]
        for key, merged in beam:
            if np.isfinite(merged).all() and merged.sum() > best_score:
                best, best_score = key, float(merged.sum())
    if not np.isfinite(best_score):
        raise ValueError(f"the beam found no collection of at most {budget} groups covering every task")
    return Grouping(_groups(candidates, best), best_score, f"beam (width {width})")


def choose_groups(values: np.ndarray, candidates: np.ndarray, budget: int, width: int = 16,
                  max_collections: int = 5_000_000) -> Grouping:
    """Exhaustive search when there are at most ``max_collections`` collections, beam search otherwise."""
    count = sum(math.comb(len(values), k) for k in range(1, budget + 1))
    if count <= max_collections:
        return exhaustive_grouping(values, candidates, budget, max_collections)
    return beam_grouping(values, candidates, budget, width)


def random_grouping(num_tasks: int, budget: int, rng: np.random.Generator) -> tuple[tuple[int, ...], ...]:
    """A random partition of the tasks into ``min(budget, num_tasks)`` non-empty groups (the random baseline)."""
    k = min(budget, num_tasks)
    labels = np.concatenate([np.arange(k), rng.integers(0, k, num_tasks - k)])
    labels = rng.permutation(labels)
    return tuple(tuple(np.flatnonzero(labels == g).tolist()) for g in range(k))
