"""TaskClusters: planted within- and across-cluster cosines, cluster assignment, validation, shared sampling."""

import pytest
import torch
import torch.nn.functional as F

from mtl_ref.data import TaskClusters


def test_task_clusters_plant_the_cosines():
    problem = TaskClusters(num_tasks=7, clusters=3, correlation=0.8, across=-0.1, dim=12, seed=1)
    w = F.normalize(problem.weights()[0].double(), dim=1)
    torch.testing.assert_close(w @ w.T, problem.cosine(), atol=1e-5, rtol=0)
    assert problem.cluster_of() == [0, 0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="positive semi-definite"):
        TaskClusters(num_tasks=12, clusters=3, correlation=0.9, across=-0.5)
    with pytest.raises(ValueError, match="clusters"):
        TaskClusters(num_tasks=4, clusters=5)


def test_task_clusters_sample_like_correlated_regression():
    problem = TaskClusters(num_tasks=4, clusters=2, correlation=0.9, across=0.0, dim=8, num_sines=0, noise=0.0)
    data = problem.sample_tasks(5, seed=0)
    w = problem.weights()[0]
    for t, name in enumerate(problem.task_names):
        torch.testing.assert_close(data[name].y[name][:, 0], data[name].x @ w[t])
