"""Multi-task learning with linear models: tasks coupled through their weight matrix ``W`` (features × tasks).

Each module is one way of saying how tasks relate: they share a few features (:mod:`.group_lasso`), a few
directions (:mod:`.feature_learning`), a common mean (:mod:`.mean_regularized`) or cluster around a few means
(:mod:`.clustered`), or share a low-rank part apart from a few outlier tasks (:mod:`.robust`);
:mod:`.coupled_ridge` solves the quadratic couplings they reduce to.
"""

from .clustered import (clustered_mtl, clustered_objective, clustered_penalty, constraint_set, optimal_sigma,
                        task_clusters)
from .coupled_ridge import check_tasks, coupled_ridge, ridge_per_task, task_mse
from .feature_learning import feature_learning, optimal_d, trace_norm_objective
from .group_lasso import (alpha_max, lasso_per_task, multi_task_lasso, prox_l1, prox_l21, regularization_path,
                          support_scores)
from .mean_regularized import mean_regularized, mean_regularized_penalty, shared_part
from .robust import prox_columns, prox_trace_norm, robust_mtl, robust_objective

__all__ = ["clustered_mtl", "clustered_objective", "clustered_penalty", "constraint_set", "optimal_sigma",
           "task_clusters", "check_tasks", "coupled_ridge", "ridge_per_task", "task_mse", "feature_learning",
           "optimal_d", "trace_norm_objective", "alpha_max", "lasso_per_task", "multi_task_lasso", "prox_l1",
           "prox_l21", "regularization_path", "support_scores", "mean_regularized", "mean_regularized_penalty",
           "shared_part", "prox_columns", "prox_trace_norm", "robust_mtl", "robust_objective"]
