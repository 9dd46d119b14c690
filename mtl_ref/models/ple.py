"""Progressive layered extraction (PLE) and its one-level form, customised gate control (CGC).

Tang, Liu, Zhao, Gong, RecSys 2020. Each extraction level holds ``m_s`` shared experts and ``m_k`` experts of its own
for every task ``k``. Task ``k``'s gate mixes its own and the shared experts (eqs. 2-4)::

    g^k(x) = w^k(x)ᵀ S^k(x),   w^k(x) = softmax(W_g^k x),   S^k = [E_k,1 … E_k,m_k, E_s,1 … E_s,m_s].

PLE stacks ``N`` levels (eq. 5): level ``j``'s experts of task ``k`` read task ``k``'s output of level ``j - 1``, and
its shared experts read the output of the previous level's **shared gate** ``g^{s,j-1}``, which mixes *all* experts
of that level (every task's and the shared ones). The last level needs no shared gate (nothing reads it). CGC is PLE
with one level: towers on the task gates of a single level. Unlike the paper's ``softmax(W_g^k x)``, every gate
here adds a bias to its logits (the default of :class:`~mtl_ref.models.experts.Gates`).

All experts of a level are one :class:`~mtl_ref.models.experts.StackedMLP` (each reads its group's input), and all
gates of a level run in one batched product; nothing loops over experts or tasks in the forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import MultiTaskModel
from .experts import Gates, StackedMLP, expert_bank, tower_outputs, towers


class ExtractionLevel(nn.Module):
    """One level: ``T·m_k + m_s`` experts (task 0's first, …, the shared ones last) and the gates reading them.

    ``forward(inputs, first=True)`` takes the model's input ``(B, in)`` (read by every expert and gate);
    ``forward(inputs, first=False)`` takes ``(B, T + 1, in)`` (row ``k < T``: task ``k``'s input; row ``T``: the
    shared input) and returns ``(B, T + 1, h)`` with ``shared_gate``,
    ``(B, T, h)`` without.
    """

    def __init__(self, in_dim: int, num_tasks: int, task_experts: int, shared_experts: int,
                 expert: Sequence[int], *, shared_gate: bool) -> None:
        super().__init__()
        if task_experts < 0 or shared_experts < 0 or task_experts + shared_experts < 1:
            raise ValueError(f"each task gate needs at least one expert, got task_experts={task_experts}, "
                             f"shared_experts={shared_experts}")
        if shared_gate and shared_experts < 1:
            raise ValueError("a shared gate feeds shared experts; shared_experts must be at least 1")
        self.num_tasks, self.task_experts, self.shared_experts = num_tasks, task_experts, shared_experts
        total = num_tasks * task_experts + shared_experts
        self.experts: StackedMLP = expert_bank(total, in_dim, expert)
        self.task_gates = Gates(num_tasks, in_dim, task_experts + shared_experts)
        self.shared_gate = Gates(1, in_dim, total) if shared_gate else None

    def gate_weights(self, inputs: Tensor, first: bool) -> tuple[Tensor, Tensor | None]:
        """Task gates ``(B, T, m_k + m_s)`` (own experts first) and the shared gate ``(B, 1, n)`` or ``None``."""
        if first:
            return self.task_gates(inputs), None if self.shared_gate is None else self.shared_gate(inputs)
        task_g = self.task_gates(inputs[..., :self.num_tasks, :], each=True)
        return task_g, None if self.shared_gate is None else self.shared_gate(inputs[..., self.num_tasks, :])

    def expert_inputs(self, inputs: Tensor) -> Tensor:
        """``(B, n, in)``: each expert's input, its task's row for a task expert, the shared row for a shared one."""
        own = inputs[..., :self.num_tasks, :].repeat_interleave(self.task_experts, dim=-2)
        shared = inputs[..., self.num_tasks:, :]
        shared = shared.expand(*shared.shape[:-2], self.shared_experts, shared.shape[-1])
        return torch.cat([own, shared], dim=-2)

    def forward(self, inputs: Tensor, first: bool) -> Tensor:
        """``first``: ``inputs`` is the model's input ``(B, in)``, read by every expert and gate."""
        e = self.experts(inputs) if first else self.experts(self.expert_inputs(inputs), each=True)  # (B, n, h)
        task_g, shared_g = self.gate_weights(inputs, first)
        split = self.num_tasks * self.task_experts
        own = e[..., :split, :].unflatten(-2, (self.num_tasks, self.task_experts))
        out = (torch.einsum("...bkm,...bkmh->...bkh", task_g[..., :self.task_experts], own)
               + torch.einsum("...bks,...bsh->...bkh", task_g[..., self.task_experts:], e[..., split:, :]))
        if shared_g is None:
            return out  # (B, T, h)
        return torch.cat([out, torch.einsum("...bsn,...bnh->...bsh", shared_g, e)], dim=-2)  # (B, T + 1, h)


class PLE(MultiTaskModel):
    """``levels`` extraction levels of experts of widths ``expert``, then one tower per task.

    Every level after the first reads the previous one's outputs (its widths ``expert[-1]``); the shared gate is
    present at every level but the last.
    """

    def __init__(self, in_dim: int, tasks: Sequence[str], levels: int, task_experts: int, shared_experts: int,
                 expert: Sequence[int], tower: Sequence[int], out_dim: int = 1) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("PLE needs at least one task")
        if levels < 1:
            raise ValueError(f"PLE needs at least one extraction level, got levels={levels}")
        if not expert:
            raise ValueError("PLE needs at least one expert layer width")
        self.task_names = list(tasks)
        self.levels = nn.ModuleList(
            ExtractionLevel(in_dim if j == 0 else expert[-1], len(tasks), task_experts, shared_experts, expert,
                            shared_gate=j < levels - 1)
            for j in range(levels))
        self.towers = towers(len(tasks), expert[-1], tower, out_dim)

    def level_inputs(self, x: Tensor) -> list[Tensor]:
        """The input of every level: ``x``, then each level's ``(B, T + 1, h)`` output."""
        inputs = [x]
        for j, level in enumerate(self.levels[:-1]):
            inputs.append(level(inputs[-1], first=j == 0))
        return inputs

    def gate_weights(self, x: Tensor) -> list[tuple[Tensor, Tensor | None]]:
        """Per level: the task gates ``(B, T, m_k + m_s)`` and the shared gate ``(B, 1, n)`` (``None`` at the last)."""
        return [level.gate_weights(inp, first=j == 0)
                for j, (level, inp) in enumerate(zip(self.levels, self.level_inputs(x)))]

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        h = self.levels[-1](self.level_inputs(x)[-1], first=len(self.levels) == 1)  # (B, T, h)
        self.representation = h
        return tower_outputs(self.towers, h, self.task_names, task)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Every level before the last (they feed the shared gate), and the last level's shared experts.

        The shared experts of the last level are the last ``m_s`` members of its stacked expert tensors; a tensor
        holding both kinds is listed whole.
        """
        shared = [p for level in self.levels[:-1] for p in level.parameters()]
        last = self.levels[-1]
        return shared + (list(last.experts.parameters()) if last.shared_experts else [])


def cgc(in_dim: int, tasks: Sequence[str], task_experts: int, shared_experts: int, expert: Sequence[int],
        tower: Sequence[int], out_dim: int = 1) -> PLE:
    """Customised gate control (PLE paper, Section 4.2): a :class:`PLE` with a single extraction level."""
    return PLE(in_dim, tasks, 1, task_experts, shared_experts, expert, tower, out_dim)
