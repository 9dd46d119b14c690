"""Cost of one aggregation, ``aggregator(J)``, for every registered aggregator, next to torchjd's when installed.

The Jacobian has conflicting rows: ``T`` gradients in a random ``T + 2``-dimensional subspace of the parameters,
a shared direction plus larger task-specific parts. Each aggregator is timed on the same Jacobian, taking turns
with torchjd's: a few warm-up calls, then the median of ``--repeats`` calls. Prints a markdown table.

    python benchmarks/aggregators.py --tasks 3 --params 1000000 --repeats 30
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import torch

from mtl_ref.weighting import AGGREGATORS, aggregator


def conflicting_jacobian(tasks: int, params: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    k = tasks + 2
    basis = torch.randn(k, params, generator=gen) / params**0.5  # nearly orthonormal rows
    rows = torch.randn(k, generator=gen) + 1.5 * torch.randn(tasks, k, generator=gen)
    return (rows @ basis).to(dtype)


def median_ms(calls: list[Callable[[], object]], repeats: int, warmup: int = 3) -> list[float]:
    """The median time of each call in milliseconds. The calls take turns, so that they see the same machine load."""
    for call in calls:
        for _ in range(warmup):
            call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for call, samples in zip(calls, times):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
    return [1e3 * statistics.median(samples) for samples in times]


def torchjd_aggregators(tasks: int) -> dict[str, Callable[[], Callable]]:
    """torchjd's counterparts of the registered aggregators, with the same defaults (empty without torchjd)."""
    try:
        import torchjd.aggregation as tjd
    except ImportError:
        return {}
    return {"mean": tjd.Mean, "sum": tjd.Sum, "mgda": tjd.MGDA, "pcgrad": tjd.PCGrad,
            "cagrad": lambda: tjd.CAGrad(0.5), "nash_mtl": lambda: tjd.NashMTL(tasks), "imtl_g": tjd.IMTLG,
            "aligned_mtl": tjd.AlignedMTL, "upgrad": tjd.UPGrad}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--params", type=int, default=1_000_000)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 gives reproducible numbers)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="You are solving a parameterized problem that is not DPP")
    jacobian = conflicting_jacobian(args.tasks, args.params, getattr(torch, args.dtype))
    theirs = torchjd_aggregators(args.tasks)

    print(f"Jacobian {args.tasks} x {args.params:,} {args.dtype}, median of {args.repeats} calls, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")
    print("| aggregator | mtl_ref (ms) | torchjd (ms) | ratio |")
    print("|---|---:|---:|---:|")
    for name in AGGREGATORS:
        ours = aggregator(name)
        if name in theirs:
            reference = theirs[name]()
            ours_ms, theirs_ms = median_ms([lambda: ours(jacobian), lambda: reference(jacobian)], args.repeats)
            print(f"| {name} | {ours_ms:.2f} | {theirs_ms:.2f} | {ours_ms / theirs_ms:.2f} |")
        else:
            (ours_ms,) = median_ms([lambda: ours(jacobian)], args.repeats)
            print(f"| {name} | {ours_ms:.2f} | – | – |")


if __name__ == "__main__":
    main()
