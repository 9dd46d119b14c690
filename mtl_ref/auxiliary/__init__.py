"""Auxiliary tasks: helpers trained only to shape the representation of one main task."""

from .auto_lambda import AutoLambda, look_ahead_hypergradient
from .gradient_similarity import GradientSimilarity, cosines, gradient_cosines, similarity_weights

__all__ = ["GradientSimilarity", "cosines", "similarity_weights", "gradient_cosines", "AutoLambda",
           "look_ahead_hypergradient"]
