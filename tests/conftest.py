"""Test-session settings."""

import torch

# One thread per test process: the suite runs on small tensors, often with pytest-xdist workers side by side, where
# more threads only contend for the cores.
torch.set_num_threads(1)
