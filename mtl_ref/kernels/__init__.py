"""Multi-task kernel methods: Gaussian processes whose covariance couples the tasks."""

from .coregionalization import ICM, icm_covariance, icm_posterior, neg_log_marginal_likelihood, rbf, task_correlation

__all__ = ["ICM", "icm_covariance", "icm_posterior", "neg_log_marginal_likelihood", "rbf", "task_correlation"]
