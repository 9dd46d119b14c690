"""Multi-gate mixture-of-experts (MMoE; Ma, Zhao, Yi, Chen, Hong, Chi, KDD 2018) and its one-gate variant (OMoE).

``n`` expert networks ``f_i`` are shared by all tasks; task ``k`` mixes them with its own softmax gate and feeds the
mixture to its tower ``h^k`` (eqs. 6-8)::

    y_k = h^k(f^k(x)),   f^k(x) = Σ_i g^k(x)_i f_i(x),   g^k(x) = softmax(W_gk x).

The one-gate model (OMoE, eq. 5) is the same network with a single gate whose mixture every task uses: the switch
``one_gate``. With a single expert there is nothing to mix and no gate: the model is the shared-bottom network
(eq. 1). YouTube's multitask ranker (Zhao et al., RecSys 2019, Section 4.2 and Fig. 2b) puts the experts and the
gates on a shared bottom hidden layer rather than on the high-dimensional input: the option ``bottom``, whose output
``x' = relu(W_b x + b_b)`` replaces ``x`` in the formula above. The experts, the gates and the towers each run as one
batched tensor operation
(:mod:`mtl_ref.models.experts`), which also broadcasts over a leading dimension of stacked models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import MultiTaskModel
from .experts import Gates, expert_bank, tower_outputs, towers


class MMoE(MultiTaskModel):
    """MMoE (or, with ``one_gate``, OMoE): ``num_experts`` experts of widths ``expert``, towers of widths ``tower``.

    ``forward(x)`` returns ``{task: (B, out_dim)}``; ``forward(x, task=name)`` that task's prediction.
    :meth:`gate_weights` gives the gates' mixtures ``(B, T, n)``. ``gate_bias`` adds a bias to every gate's logits
    (the default, as in common implementations); the paper's gate ``softmax(W_gk x)`` has none (``gate_bias=False``).
    ``bottom`` gives the widths of a shared ReLU MLP under the experts and the gates (empty: none, as in the MMoE paper).
    """

    def __init__(self, in_dim: int, tasks: Sequence[str], num_experts: int, expert: Sequence[int],
                 tower: Sequence[int], out_dim: int = 1, *, one_gate: bool = False, gate_bias: bool = True,
                 bottom: Sequence[int] = ()) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("MMoE needs at least one task")
        if not expert:
            raise ValueError("MMoE needs at least one expert layer width")
        if num_experts < 1:
            raise ValueError(f"MMoE needs at least one expert, got num_experts={num_experts}")
        self.task_names = list(tasks)
        self.one_gate = one_gate
        self.bottom = expert_bank(1, in_dim, bottom) if bottom else None
        width = bottom[-1] if bottom else in_dim
        self.experts = expert_bank(num_experts, width, expert)
        self.gates = Gates(1 if one_gate else len(tasks), width, num_experts, bias=gate_bias) \
            if num_experts > 1 else None
        self.towers = towers(len(tasks), expert[-1], tower, out_dim)

    def _bottom(self, x: Tensor) -> Tensor:
        return x if self.bottom is None else self.bottom(x).squeeze(-2)

    def gate_weights(self, x: Tensor) -> Tensor:
        """``(B, T, n)``: the mixture of experts each task uses on each example (rows sum to one)."""
        return self._gate_weights(self._bottom(x))

    def _gate_weights(self, x: Tensor) -> Tensor:
        if self.gates is None:
            return x.new_ones(*x.shape[:-1], len(self.task_names), 1)
        g = self.gates(x)
        return g.expand(*g.shape[:-2], len(self.task_names), g.shape[-1]) if self.one_gate else g

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        x = self._bottom(x)
        e = self.experts(x)  # (B, n, h)
        mixed = torch.einsum("...bkn,...bnh->...bkh", self._gate_weights(x), e)  # (B, T, h)
        self.representation = mixed
        return tower_outputs(self.towers, mixed, self.task_names, task)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The parameters every task uses: the bottom, the experts, and OMoE's single gate (MMoE's are per task)."""
        shared = (list(self.bottom.parameters()) if self.bottom is not None else []) + list(self.experts.parameters())
        return shared + list(self.gates.parameters()) if self.one_gate and self.gates is not None else shared


def omoe(in_dim: int, tasks: Sequence[str], num_experts: int, expert: Sequence[int], tower: Sequence[int],
         out_dim: int = 1) -> MMoE:
    """The one-gate mixture of experts (MMoE paper, eq. 5): :class:`MMoE` with one gate shared by every task."""
    return MMoE(in_dim, tasks, num_experts, expert, tower, out_dim, one_gate=True)
