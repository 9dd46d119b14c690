"""CorrelatedRegression (MMoE's synthetic tasks): weight correlations, validation, label correlation, seeds."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mtl_ref.data import CorrelatedRegression, MultiTaskData


def cosines(w: torch.Tensor) -> torch.Tensor:
    w = F.normalize(w.double(), dim=1)
    return w @ w.T


@pytest.mark.parametrize("num_tasks", [2, 4])
@pytest.mark.parametrize("p", [-0.3, 0.0, 0.5, 0.9, 1.0])
def test_pairwise_cosine_equals_the_correlation(num_tasks, p):
    problem = CorrelatedRegression(num_tasks=num_tasks, correlation=p, dim=16, scale=2.5, seed=3)
    w, alpha, beta = problem.weights()
    assert w.shape == (num_tasks, 16) and alpha.shape == beta.shape == (problem.num_sines,)
    expected = torch.full((num_tasks, num_tasks), p, dtype=torch.float64).fill_diagonal_(1.0)
    torch.testing.assert_close(cosines(w), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(w.norm(dim=1), torch.full((num_tasks,), 2.5), atol=1e-5, rtol=0)


def test_two_tasks_are_the_papers_construction():
    p, c, dim, seed = 0.7, 1.5, 12, 5
    w, _, _ = CorrelatedRegression(num_tasks=2, correlation=p, dim=dim, scale=c, seed=seed).weights()
    # The paper: orthonormal u1, u2; w1 = c·u1, w2 = c·(p·u1 + sqrt(1 - p²)·u2). Same draw of u as the class.
    g = torch.Generator().manual_seed(seed)
    for _ in ("alpha", "beta"):  # drawn first
        torch.randn(CorrelatedRegression.num_sines, generator=g, dtype=torch.float64)
    u, _ = torch.linalg.qr(torch.randn(dim, 2, generator=g, dtype=torch.float64))
    u1, u2 = u[:, 0], u[:, 1]
    torch.testing.assert_close(w[0].double(), c * u1, atol=1e-6, rtol=0)
    torch.testing.assert_close(w[1].double(), c * (p * u1 + math.sqrt(1 - p * p) * u2), atol=1e-6, rtol=0)


def test_targets_follow_the_formula():
    problem = CorrelatedRegression(num_tasks=3, correlation=0.5, dim=6, num_sines=4, noise=0.0, seed=1)
    data = problem.sample(50, seed=2)
    w, alpha, beta = problem.weights()
    for t, name in enumerate(problem.task_names):
        proj = data.x.double() @ w[t].double()
        expected = proj + torch.sin(proj[:, None] * alpha.double() + beta.double()).sum(1)
        torch.testing.assert_close(data.y[name][:, 0].double(), expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("num_tasks, p", [(2, -1.0), (2, 1.01), (4, -1 / 3), (4, -0.5), (3, 2.0)])
def test_invalid_correlation_errors(num_tasks, p):
    with pytest.raises(ValueError, match=rf"correlation must be in \(.*, 1\] for {num_tasks} equicorrelated tasks"):
        CorrelatedRegression(num_tasks=num_tasks, correlation=p)


def test_other_invalid_arguments():
    with pytest.raises(ValueError, match="num_tasks must be at least 1, got 0"):
        CorrelatedRegression(num_tasks=0)
    with pytest.raises(ValueError, match=r"dim \(3\) must be at least num_tasks \(4\)"):
        CorrelatedRegression(num_tasks=4, dim=3)
    CorrelatedRegression(num_tasks=1, correlation=0.0).sample(3, seed=0)  # one task: any correlation allowed


def test_label_correlation_increases_with_p():
    corr = []
    for p in [0.0, 0.5, 0.9, 1.0]:
        d = CorrelatedRegression(correlation=p, dim=20, seed=0).sample(3000, seed=1)
        corr.append(np.corrcoef(d.y["y1"][:, 0].numpy(), d.y["y2"][:, 0].numpy())[0, 1])
    assert all(a < b for a, b in zip(corr, corr[1:])), corr
    assert abs(corr[0]) < 0.1 and corr[-1] > 0.95


def test_sample_shapes_names_and_noise_dims():
    problem = CorrelatedRegression(num_tasks=3, dim=10, seed=0)
    data = problem.sample(40, seed=1)
    assert isinstance(data, MultiTaskData) and problem.task_names == ["y1", "y2", "y3"]
    assert data.x.shape == (40, 10) and data.tasks == ["y1", "y2", "y3"]
    assert all(v.shape == (40, 1) and v.dtype == torch.float32 for v in data.y.values())
    noisy = CorrelatedRegression(num_tasks=3, dim=10, noise_dims=5, seed=0).sample(40, seed=1)
    assert noisy.x.shape == (40, 15)
    # The informative inputs and the targets are those of the problem without noise inputs; noise is appended.
    assert torch.equal(noisy.x[:, :10], data.x)
    assert all(torch.equal(noisy.y[k], data.y[k]) for k in data.tasks)
    assert noisy.x[:, 10:].std() > 0.5


def test_determinism_from_seeds():
    a = CorrelatedRegression(seed=4, dim=8)
    w1, w2 = a.weights()[0], CorrelatedRegression(seed=4, dim=8).weights()[0]
    assert torch.equal(w1, w2)
    assert not torch.equal(w1, CorrelatedRegression(seed=5, dim=8).weights()[0])
    d1, d2, d3 = a.sample(20, seed=0), a.sample(20, seed=0), a.sample(20, seed=1)
    assert torch.equal(d1.x, d2.x) and torch.equal(d1.y["y2"], d2.y["y2"])
    assert not torch.equal(d1.x, d3.x)


def test_sample_device():
    assert CorrelatedRegression(dim=4).sample(5, seed=0, device="meta").device == torch.device("meta")
