"""Auxiliary (helper) tasks: trained only to shape a shared representation for one main task, then discarded.

The gradient-reversal layer and DANN's schedule, hints, a loop that trains seeds × helper weights of small networks
at once, the choice of a helper's weight on the main task's validation score, and two ways of weighting helpers
during training: gradient similarity and Auto-Lambda.
"""

from .auto_lambda import AutoLambda, look_ahead_hypergradient
from .gradient_reversal import GradientReversal, GradReverse, dann_lambda, grad_reverse
from .gradient_similarity import GradientSimilarity, cosines, gradient_cosines, similarity_weights
from .hints import symmetry_hint
from .stacked_heads import (StackedFit, fit_stacked_params, linear_probe_accuracy, linear_probe_r2, member_generators,
                            member_module, run_mlp, stacked_mlp)
from .sweep import HelperSweep, head_mse, main_loss, stack_splits, sweep_helper_weight, trunk
from .weight_choice import choose_weight

__all__ = ["GradReverse", "GradientReversal", "grad_reverse", "dann_lambda", "StackedFit", "fit_stacked_params",
           "linear_probe_accuracy", "linear_probe_r2", "member_generators", "member_module", "run_mlp", "stacked_mlp",
           "choose_weight", "HelperSweep", "head_mse", "main_loss", "stack_splits", "sweep_helper_weight", "trunk",
           "symmetry_hint", "GradientSimilarity", "cosines", "similarity_weights", "gradient_cosines", "AutoLambda",
           "look_ahead_hypergradient"]
