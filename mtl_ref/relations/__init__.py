"""Task relationships: which tasks help each other, measured, estimated from gradients, and grouped under a budget."""

from .gradient_cosine import cosine_matrix, gradient_cosine, task_gradients
from .group_training import (Rows, Trained, evaluate, fit_groups, group_tensor, init_nets, predict,
                             task_mse)
from .grouping import (Grouping, beam_grouping, choose_groups, exhaustive_grouping, grouping_score,
                       random_grouping, subsets)
from .higher_order import group_values, pair_gains
from .lookahead import lookahead_affinity

__all__ = ["task_gradients", "gradient_cosine", "cosine_matrix", "lookahead_affinity", "pair_gains", "group_values",
           "Grouping", "subsets", "grouping_score", "exhaustive_grouping", "beam_grouping", "choose_groups",
           "random_grouping", "Rows", "Trained", "group_tensor", "init_nets", "predict", "task_mse", "evaluate",
           "fit_groups"]
