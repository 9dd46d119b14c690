"""Extra cost of TAG's lookahead affinity per training step, and batched against a loop of T lookaheads.

A training step of one hard-sharing MLP on T regression tasks (:func:`mtl_ref.relations.fit_groups`, each task
with a batch of its own) is timed plain, with TAG's affinity and the gradient cosine recorded every 10 steps (the
TAG authors' setting), and recorded every step. A second part times one affinity computation: the generic batched
functional update of :func:`mtl_ref.relations.lookahead_affinity` (one vector-Jacobian product with T cotangents
and one ``vmap`` over the T lookahead parameter sets), the path that ``fit_groups`` takes for its MLPs (every
task's gradient from one ordinary backward pass, the T lookahead trunks evaluated as one stack, and the gradient
cosine from the same gradients), and the direct way, a loop over the tasks that takes task i's gradient, steps a
copy of the shared parameters and evaluates every task's loss.

    python benchmarks/tag_affinity.py                    # print the table
    python benchmarks/tag_affinity.py --clock cpu --out benchmarks/results/tag_affinity.md
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

import torch

from mtl_ref.data import TaskClusters
from mtl_ref.relations import Rows, fit_groups, group_tensor, init_nets, lookahead_affinity, task_mse
from mtl_ref.relations.group_training import _affinities, is_shared
from timing import CLOCK_WORDS, CLOCKS, add_machine_options, machine, provenance, publish, synchronize

def problem(num_tasks: int, dim: int, device: torch.device) -> tuple[Rows, Rows]:
    tasks = TaskClusters(num_tasks=num_tasks, clusters=max(1, num_tasks // 4), correlation=0.9, across=0.0,
                         dim=dim, num_sines=0, seed=0)
    names = tasks.task_names
    return (Rows.of([tasks.sample_tasks(512, seed=1, device=device)], names),
            Rows.of([tasks.sample_tasks(256, seed=2, device=device)], names))


def step_ms(num_tasks: int, every: int, args: argparse.Namespace, device: torch.device) -> float:
    """Median time of one training step (ms) over ``args.rounds`` runs of ``args.steps`` steps."""
    train, val = problem(num_tasks, args.dim, device)
    groups = group_tensor([tuple(range(num_tasks))], num_tasks, device=device)
    clock, samples = CLOCKS[args.clock], []
    for r in range(args.rounds + 1):  # the first round warms up
        params = init_nets(1, args.dim, args.width, num_tasks, depth=2, seed=r, device=device)
        synchronize(device)
        start = clock()
        fit_groups(params, groups, torch.zeros(1, dtype=torch.long, device=device), train, val, steps=args.steps,
                   batch_size=args.batch_size, eval_every=args.steps, affinity_every=every)
        synchronize(device)
        if r:
            samples.append((clock() - start) / args.steps * 1e3)
    return statistics.median(samples)


def affinity_ms(num_tasks: int, args: argparse.Namespace, device: torch.device) -> tuple[float, float, float]:
    """Median time (ms) of one affinity matrix: generic batched functional update, ``fit_groups``' path (with the
    gradient cosine), and a loop of T lookaheads."""
    train, _ = problem(num_tasks, args.dim, device)
    params = init_nets(1, args.dim, args.width, num_tasks, depth=2, device=device)
    groups = group_tensor([tuple(range(num_tasks))], num_tasks, device=device)
    x, y = train.x[:, :, :args.batch_size], train.y[:, :, :args.batch_size]
    shared = {k: v for k, v in params.items() if is_shared(k)}
    heads = {k: v for k, v in params.items() if not is_shared(k)}

    def losses(trunk: dict[str, torch.Tensor]) -> torch.Tensor:
        return task_mse({**trunk, **heads}, x, y, groups)

    def loop() -> torch.Tensor:
        trunk = {k: v.detach().requires_grad_(True) for k, v in shared.items()}
        base = losses(trunk)
        rows = []
        for i in range(num_tasks):
            grads = torch.autograd.grad(base[0, i], list(trunk.values()), retain_graph=True)
            with torch.no_grad():
                ahead = {k: v - args.lr * g for (k, v), g in zip(trunk.items(), grads)}
                rows.append(1 - losses(ahead)[0] / base[0].detach())
        return torch.stack(rows)

    torch.testing.assert_close(loop(), lookahead_affinity(losses, shared, args.lr)[0], atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(loop(), _affinities(params, x, y, groups, args.lr)[0][0], atol=1e-4, rtol=1e-3)
    clock, out = CLOCKS[args.clock], []
    for fn in (lambda: lookahead_affinity(losses, shared, args.lr), lambda: _affinities(params, x, y, groups, args.lr),
               loop):
        samples = []
        for r in range(args.rounds * 5 + 3):
            synchronize(device)
            start = clock()
            fn()
            synchronize(device)
            if r >= 3:
                samples.append((clock() - start) * 1e3)
        out.append(statistics.median(samples))
    return out[0], out[1], out[2]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[4, 12, 24])
    parser.add_argument("--dim", type=int, default=24)
    parser.add_argument("--width", type=int, default=64, help="trunk units (two ReLU layers)")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per task and step")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed run")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs (after one warm-up run)")
    parser.add_argument("--lr", type=float, default=3e-3)
    add_machine_options(parser)
    args = parser.parse_args(argv)
    device = machine(parser, args)
    rows = ["| T | plain step (ms) | TAG every 10 steps (ms) | × plain | TAG every step (ms) | × plain | "
            "one affinity, generic batched (ms) | one affinity and cosine, fit_groups' path (ms) | "
            "one affinity, loop of T lookaheads (ms) | loop / generic batched |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t in args.tasks:
        plain, every10, every1 = (step_ms(t, k, args, device) for k in (0, 10, 1))
        batched, fitted, looped = affinity_ms(t, args, device)
        rows.append(f"| {t} | {plain:.2f} | {every10:.2f} | {every10 / plain:.2f} | {every1:.2f} | "
                    f"{every1 / plain:.2f} | {batched:.2f} | {fitted:.2f} | {looped:.2f} | {looped / batched:.2f} |")
    header = (provenance("tag_affinity.py", argv, device) +
              f", one network, trunk {args.dim}→{args.width}→{args.width} (ReLU), one linear head per task, "
              f"{args.batch_size} examples per task and step, median of {args.rounds} runs of {args.steps} steps "
              f"after a warm-up run, " + CLOCK_WORDS[args.clock] + ".")
    report = "\n".join([
        "# Cost of TAG's lookahead affinity", "", header, "",
        "A step is the forward pass of every task's batch, the backward pass, Adam's step; with TAG it also "
        "records, on that step's batch, the lookahead affinity Z_{i→j} of every ordered pair and the gradient "
        "cosine (`mtl_ref.relations.fit_groups(..., affinity_every=k)`). The generic affinity is one batched "
        "functional update (a vector-Jacobian product with T cotangents, then one `vmap` of the loss over the T "
        "lookahead parameter sets); fit_groups' path takes every task's gradient from one ordinary backward pass "
        "(each task has rows of its own) and evaluates the T lookahead trunks as one stack; the loop takes each "
        "task's gradient and evaluates every task at the stepped parameters, T times. Target (issue): TAG every 10 steps at most 1.5× a plain step at T = 12.", "",
        *rows, ""])
    publish(report, args.out)


if __name__ == "__main__":
    main()
