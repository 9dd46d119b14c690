"""Experts batched in one tensor operation against a Python loop over experts (MMoE forward + backward).

The batched MMoE (:class:`mtl_ref.models.MMoE`) stacks the weights of its ``n`` experts and runs each layer of all
of them as one ``einsum``. The looped reference holds ``n`` ``nn.Sequential`` experts and calls them one after the
other, as a straightforward implementation would; everything else (gates, towers) is the same. Both are timed on a
training step (forward, backward of the summed losses) for several numbers of experts; runs are interleaved round
by round so that a change in the machine's load affects both alike.

    python benchmarks/experts.py                                  # print the table
    python benchmarks/experts.py --out benchmarks/results/experts.md
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mtl_ref.models import MMoE, mlp
from timing import CLOCK_WORDS, CLOCKS, add_machine_options, machine, provenance, publish, synchronize


class LoopedExperts(nn.Module):
    """The experts of ``model`` (copied), as a list of MLPs called one after the other in a Python loop."""

    def __init__(self, model: MMoE) -> None:
        super().__init__()
        bank = model.experts
        sizes = bank.sizes
        self.experts = nn.ModuleList(mlp(sizes, last_activation=True) for _ in range(bank.count))
        with torch.no_grad():
            for i, expert in enumerate(self.experts):
                linears = [m for m in expert if isinstance(m, nn.Linear)]
                for layer, w, b in zip(linears, bank.weights, bank.biases):
                    layer.weight.copy_(w[i].T)
                    layer.bias.copy_(b[i])

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([expert(x) for expert in self.experts], dim=1)


def step(model: MMoE, experts: nn.Module, x: Tensor, y: Tensor) -> None:
    e = experts(x)
    mixed = torch.einsum("bkn,bnh->bkh", model.gate_weights(x), e)
    loss = (model.towers(mixed, each=True)[..., 0] - y).pow(2).sum()
    loss.backward()


def time_pair(num_experts: int, args: argparse.Namespace, device: torch.device) -> tuple[float, float, float]:
    """Median ms per step, batched and looped, and the largest difference of their expert outputs."""
    torch.manual_seed(0)
    model = MMoE(args.dim, ["a", "b"], num_experts, args.expert, [8]).to(device)
    looped = LoopedExperts(model).to(device)
    x = torch.randn(args.batch_size, args.dim, device=device)
    y = torch.randn(args.batch_size, 2, device=device)
    with torch.no_grad():
        gap = (model.experts(x) - looped(x)).abs().max().item()
    clock = CLOCKS[args.clock]
    variants = {"batched": model.experts, "looped": looped}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for v in variants.values():
        for _ in range(args.warmup):
            step(model, v, x, y)
    for _ in range(args.rounds):
        for name, v in variants.items():
            synchronize(device)
            start = clock()
            for _ in range(args.per_round):
                step(model, v, x, y)
            synchronize(device)
            times[name].append((clock() - start) / args.per_round * 1e3)
    return statistics.median(times["batched"]), statistics.median(times["looped"]), gap


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--expert", type=int, nargs="+", default=[16], help="expert layer widths")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    add_machine_options(parser)
    args = parser.parse_args(argv)
    device = machine(parser, args)
    rows = ["| experts | batched (ms) | looped (ms) | looped / batched | max output difference |",
            "|---:|---:|---:|---:|---:|"]
    for n in args.experts:
        batched, looped, gap = time_pair(n, args, device)
        rows.append(f"| {n} | {batched:.2f} | {looped:.2f} | {looped / batched:.2f} | {gap:.1e} |")
    table = "\n".join(rows)
    header = (provenance("experts.py", argv, device) +
              f", batch {args.batch_size}, input {args.dim}, experts of widths {args.expert}, two tasks; median "
              f"of {args.rounds}×{args.per_round} training steps (forward and backward) after {args.warmup} "
              f"warm-up steps, " + CLOCK_WORDS[args.clock] + ".")
    publish("\n".join(["# Batched against looped experts", "", header, "", table, ""]), args.out)


if __name__ == "__main__":
    main()
