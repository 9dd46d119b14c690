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
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from mtl_ref.models import MMoE, mlp

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_WORDS = {"wall": "wall-clock time",
               "cpu": "CPU time of the benchmark process (time spent waiting for a core is left out)"}


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
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = clock()
            for _ in range(args.per_round):
                step(model, v, x, y)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
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
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--out", type=Path, help="also write the table, with how it was made, to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.clock == "cpu" and device.type != "cpu":
        parser.error("--clock cpu measures host CPU time; use --clock wall on an accelerator")
    rows = ["| experts | batched (ms) | looped (ms) | looped / batched | max output difference |",
            "|---:|---:|---:|---:|---:|"]
    for n in args.experts:
        batched, looped, gap = time_pair(n, args, device)
        rows.append(f"| {n} | {batched:.2f} | {looped:.2f} | {looped / batched:.2f} | {gap:.1e} |")
    table = "\n".join(rows)
    command = "python benchmarks/experts.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = (f"Measured with `{command.strip()}`: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
              f"device {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
                                    f" ({platform.machine()})") +
              f", batch {args.batch_size}, input {args.dim}, experts of widths {args.expert}, two tasks; median "
              f"of {args.rounds}×{args.per_round} training steps (forward and backward) after {args.warmup} "
              f"warm-up steps, " + CLOCK_WORDS[args.clock] + ".")
    report = "\n".join(["# Batched against looped experts", "", header, "", table, ""])
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
