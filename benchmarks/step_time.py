"""Per-step cost of every training method, relative to equal weights, and the batched task Jacobian.

For each method, one training step (forward pass, task losses, the method's backward, the optimizer step, and the
method's ``after_step``) is timed on the same model and batch as equal weights; the table gives the median time and
its ratio to equal weights. Two problems: an MLP with hard sharing on ``CorrelatedRegression`` and a small
convolutional net on ``multidigits`` images. Methods are interleaved round by round so that a change in the load of
the machine affects them all alike. A second table times the task Jacobian of the shared parameters: one batched
backward pass against a loop of T backward passes, next to one backward pass of ``Σ L``.

    python benchmarks/step_time.py                       # print the tables
    python benchmarks/step_time.py --out benchmarks/results/step_time.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from mtl_ref import Task, task_losses
from mtl_ref.data import CorrelatedRegression, multidigits
from mtl_ref.models import HardSharing, mlp
from mtl_ref.train import make_optimizer
from mtl_ref.weighting import AGGREGATORS, jacobian, method
from timing import CLOCK_WORDS, CLOCKS, add_machine_options, machine, provenance, publish, synchronize

LOSS_WEIGHTINGS = ["equal", "uncertainty", "gradnorm", "dwa", "rlw", "famo"]
LEVELS = ["parameters", "representation"]


def regression_problem(num_tasks: int, batch_size: int, device: torch.device):
    problem = CorrelatedRegression(num_tasks=num_tasks, dim=100)
    data = problem.sample(batch_size, seed=0, device=device)
    tasks = [Task.regression(name) for name in problem.task_names]

    def model() -> HardSharing:
        torch.manual_seed(0)
        trunk = mlp([100, 256, 256], last_activation=True)
        return HardSharing(trunk, {t.name: mlp([256, 64, 1]) for t in tasks}).to(device)

    return model, tasks, data.x, dict(data.y)


def digits_problem(batch_size: int, device: torch.device):
    train, _ = multidigits(batch_size, 1, device=device)
    tasks = [Task.classification("left"), Task.classification("right")]

    def model() -> HardSharing:
        torch.manual_seed(0)
        trunk = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(32 * 5 * 5, 64), nn.ReLU())
        return HardSharing(trunk, {t.name: nn.Linear(64, 10) for t in tasks}).to(device)

    return model, tasks, train.x, dict(train.y)


def configurations() -> list[tuple[str, str, dict]]:
    """(label, name, hparams) for every loss weighting and every registered aggregator at both levels."""
    configs = [(name, name, {}) for name in LOSS_WEIGHTINGS]
    configs += [(f"{name} ({level})", name, {"level": level}) for name in AGGREGATORS for level in LEVELS]
    return configs


def make_step(build_model: Callable[[], nn.Module], tasks: Sequence[Task], x: Tensor, y: dict[str, Tensor],
              name: str, hparams: dict) -> Callable[[], None]:
    """One training step of a fresh model with the method ``name``, as :func:`mtl_ref.fit` runs it."""
    model = build_model()
    weighting = method(name, num_tasks=len(tasks), **hparams).to(x.device)
    weighting.reset()
    optimizer = make_optimizer(model, weighting, lr=1e-3, weight_decay=0.0)

    @torch.no_grad()
    def losses_after() -> Tensor:
        return task_losses(tasks, model(x), y)

    def step() -> None:
        losses = task_losses(tasks, model(x), y)
        optimizer.zero_grad(set_to_none=True)
        weighting.backward(losses, model)
        optimizer.step()
        weighting.after_step(losses_after)

    return step


def time_steps(steps: dict[str, Callable[[], None]], device: torch.device, clock: Callable[[], float], warmup: int,
               rounds: int, per_round: int) -> dict[str, float]:
    """Median seconds per step of each step function, interleaved round by round."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    samples: dict[str, list[float]] = {label: [] for label in steps}
    for _ in range(rounds):
        for label, step in steps.items():
            for _ in range(per_round):
                synchronize(device)
                start = clock()
                step()
                synchronize(device)
                samples[label].append(clock() - start)
    return {label: statistics.median(times) for label, times in samples.items()}


def method_table(problems: dict[str, tuple], device: torch.device, args: argparse.Namespace) -> str:
    configs = configurations()
    results = {}
    for problem, (build_model, tasks, x, y) in problems.items():
        steps = {label: make_step(build_model, tasks, x, y, name, hparams) for label, name, hparams in configs}
        results[problem] = time_steps(steps, device, CLOCKS[args.clock], args.warmup, args.rounds, args.per_round)
        print(f"timed {problem}", file=sys.stderr)
    lines = ["| method | " + " | ".join(f"{p}: ms | {p}: × equal" for p in problems) + " |",
             "|---|" + "---:|---:|" * len(problems)]
    for label, _, _ in configs:
        cells = []
        for problem in problems:
            seconds = results[problem][label]
            cells += [f"{1e3 * seconds:.2f}", f"{seconds / results[problem]['equal']:.2f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def jacobian_table(device: torch.device, args: argparse.Namespace) -> str:
    lines = ["| T | backward of Σ L (ms) | batched Jacobian (ms) | loop of T backward passes (ms) | "
             "batched / backward | loop / batched |", "|---:|---:|---:|---:|---:|---:|"]
    clock = CLOCKS[args.clock]
    for num_tasks in args.tasks:
        build_model, tasks, x, y = regression_problem(num_tasks, args.batch_size, device)
        model = build_model()
        shared = model.shared_parameters()

        def timed(compute: Callable[[Tensor], object]) -> Callable[[], float]:
            def run() -> float:
                losses = task_losses(tasks, model(x), y)
                synchronize(device)
                start = clock()
                compute(losses)
                synchronize(device)
                return clock() - start
            return run

        variants = {
            "backward": timed(lambda losses: torch.autograd.grad(losses.sum(), shared)),
            "batched": timed(lambda losses: jacobian(losses, shared)),
            "loop": timed(lambda losses: jacobian(losses, shared, batched=False)),
        }
        samples: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.warmup):
            for run in variants.values():
                run()
        for _ in range(args.rounds):
            for k, run in variants.items():
                samples[k] += [run() for _ in range(args.per_round)]
        ms = {k: 1e3 * statistics.median(v) for k, v in samples.items()}
        lines.append(f"| {num_tasks} | {ms['backward']:.2f} | {ms['batched']:.2f} | {ms['loop']:.2f} | "
                     f"{ms['batched'] / ms['backward']:.2f} | {ms['loop'] / ms['batched']:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per method before timing")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of interleaved timing")
    parser.add_argument("--per-round", type=int, default=10, help="timed steps per method and round")
    parser.add_argument("--tasks", type=int, nargs="+", default=[2, 4, 8], help="T for the Jacobian table")
    add_machine_options(parser, "the tables")
    args = parser.parse_args(argv)
    device = machine(parser, args)
    problems = {"MLP": regression_problem(2, args.batch_size, device),
                "conv": digits_problem(args.batch_size, device)}
    header = (provenance("step_time.py", argv, device) +
              f", batch {args.batch_size}, median of {args.rounds}×{args.per_round} steps after {args.warmup} warm-up "
              f"steps, " + CLOCK_WORDS[args.clock] + ".")
    methods = method_table(problems, device, args)
    jac = jacobian_table(device, args)
    report = "\n".join([
        "# Step time of the training methods", "", header, "",
        "## One training step, relative to equal weights", "",
        "MLP: hard sharing, trunk 100→256→256, heads 256→64→1, two `CorrelatedRegression` tasks. conv: two 3×3 conv "
        "layers with max-pooling and a 64-unit linear layer as trunk, one linear head per digit, `multidigits` "
        "(two tasks). A step includes the forward pass, the method's backward, Adam's step and `after_step` "
        "(FAMO's extra forward pass); DWA's once-per-epoch update is not part of a step. Target: representation "
        "level at most 1.5× equal weights.", "",
        methods, "",
        "## Task Jacobian of the shared parameters (MLP trunk, T regression tasks)", "",
        "The batched Jacobian is one backward pass with T cotangents (`is_grads_batched`); the loop is T backward "
        "passes. Target: the batched Jacobian at most T× one backward pass of Σ L.", "",
        jac, ""])
    publish(report, args.out)


if __name__ == "__main__":
    main()
