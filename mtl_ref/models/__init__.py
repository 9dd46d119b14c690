"""Multi-task models: each returns ``{task: prediction}``."""

from .base import MultiTaskModel
from .conditioning import ConcatConditioned, FiLMConditioned
from .count import count_parameters
from .cross_stitch import CrossStitch, CrossStitchUnit
from .dense import DenseHead, dense_heads
from .digits import digit_blocks, digit_trunk
from .hard_sharing import HardSharing, Independent, branch_at
from .mlp import mlp
from .mtan import MTAN
from .segnet import PAPER_WIDTHS, VGG16_CONVS, SegNet, segnet_single_task, segnet_split
from .sluice import Sluice
from .soft_sharing import SoftSharing, l2_distance, soft_sharing_segnet, trace_norm

__all__ = ["MultiTaskModel", "HardSharing", "Independent", "branch_at", "mlp", "count_parameters", "ConcatConditioned", "FiLMConditioned", "DenseHead",
           "dense_heads", "digit_blocks", "digit_trunk", "PAPER_WIDTHS", "VGG16_CONVS", "SegNet", "segnet_single_task", "segnet_split", "MTAN",
           "CrossStitch", "CrossStitchUnit", "Sluice", "SoftSharing", "l2_distance", "trace_norm",
           "soft_sharing_segnet"]
from .experts import Gates, StackedMLP, expert_bank, towers
from .mmoe import MMoE, omoe
from .ple import PLE, ExtractionLevel, cgc
from .shallow_tower import ShallowTower, serving_score
from .shared_bottom import shared_bottom

__all__ += ["Gates", "StackedMLP", "expert_bank", "towers", "MMoE", "omoe", "PLE", "ExtractionLevel", "cgc",
            "ShallowTower", "serving_score", "shared_bottom"]
