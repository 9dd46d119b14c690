"""Multi-task decision trees: one tree for all tasks, split where the tasks' summed gain is largest."""

from .multi_task_tree import MultiTaskTree, best_split

__all__ = ["MultiTaskTree", "best_split"]
