"""Throughput of the training loop (``mtl_ref.train.fit``) against a bare training loop, on MTAN.

The bare loop is the least a training step can do: forward pass, the three dense task losses, their sum's backward
pass, Adam's step. ``fit`` does the same with equal weights, plus what the book relies on: shuffling by a seeded
generator, the weighting method's hooks, running loss sums on the device, the per-epoch NaN check and history.
Both run on the same model (re-initialised from the same state), the same images and the same batch size, for the
same number of steps; repetitions alternate between the two so that a change in the machine's load affects both.
Target: ``fit`` at least 90 % of the bare loop's images per second.

    python benchmarks/train_throughput.py                                   # MTAN at widths 8–32, 32×32 images
    python benchmarks/train_throughput.py --widths 64 128 256 512 512 --convs 2 2 3 3 3 --size 128 --batch 32
    python benchmarks/train_throughput.py --out benchmarks/results/train_throughput.md

On CUDA both loops use mixed precision (``fit``'s default) and the channels-last layout; ``--clock cpu`` measures
the process's CPU time instead of wall time (for shared CPU-only machines).
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time
from pathlib import Path

import torch

from mtl_ref import fit, task_losses
from mtl_ref.data.synthscenes import NUM_CLASSES, synthscenes
from mtl_ref.dense_setup import DenseSetup, dense_model, to_channels_last
from mtl_ref.dense_tasks import dense_tasks
from mtl_ref.device import autocast, pick_device
from mtl_ref.train import make_optimizer
from mtl_ref.weighting.static import Equal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--convs", type=int, nargs="+", default=[2, 2, 3])
    parser.add_argument("--size", type=int, default=32, help="image height and width")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the table as Markdown here")
    args = parser.parse_args()

    device = pick_device(args.device)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    setup = DenseSetup(args.size, args.size, args.steps * args.batch, 0, tuple(args.widths), tuple(args.convs),
                       epochs=1, batch_size=args.batch)
    data = synthscenes(setup.n_train, args.size, args.size, seed=0, device=device)
    tasks = dense_tasks(NUM_CLASSES)
    torch.manual_seed(0)
    model = dense_model("MTAN", setup, NUM_CLASSES).to(device)
    if device.type == "cuda":
        model, data = to_channels_last(model, data)
    initial = copy.deepcopy(model.state_dict())
    amp = device.type == "cuda"
    batches = list(data.batches(args.batch))

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def bare() -> float:
        model.load_state_dict(initial)
        model.train()
        optimizer = make_optimizer(model, Equal(), 1e-3, 0.0)
        sync()
        start = clock()
        for x, y in batches:
            with autocast(device, amp):
                out = model(x)
            loss = task_losses(tasks, out, y).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync()
        return len(data) / (clock() - start)

    def with_fit() -> float:
        model.load_state_dict(initial)
        sync()
        start = clock()
        fit(model, tasks, data, epochs=1, batch_size=args.batch, amp=amp, progress=False)
        sync()
        return len(data) / (clock() - start)

    bare(), with_fit()  # warm-up
    rates: dict[str, list[float]] = {"bare loop": [], "fit": []}
    for _ in range(args.repeats):
        rates["bare loop"].append(bare())
        rates["fit"].append(with_fit())
    median = {k: statistics.median(v) for k, v in rates.items()}
    ratio = median["fit"] / median["bare loop"]

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})"
    header = (f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), device {where}, MTAN widths "
              f"{list(args.widths)} convs {list(args.convs)} ({sum(p.numel() for p in model.parameters()):,} "
              f"parameters), {args.size}×{args.size} SynthScenes images, batch {args.batch}, {args.steps} steps per "
              f"measurement, median of {args.repeats} alternating repetitions after one warm-up each, "
              f"{args.clock} clock, mixed precision {'on' if amp else 'off'}")
    lines = ["| loop | images/s | × bare loop |", "|---|---:|---:|"]
    for name, rate in median.items():
        lines.append(f"| {name} | {rate:,.1f} | {rate / median['bare loop']:.3f} |")
    verdict = f"fit reaches {ratio:.1%} of the bare loop's throughput (target ≥ 90%): {'met' if ratio >= 0.9 else 'NOT met'}"
    table = "\n".join(lines)
    print(header, "", table, "", verdict, sep="\n")
    if args.out is not None:
        command = "python benchmarks/train_throughput.py " + " ".join(
            f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in vars(args).items()
            if v is not None and k != "out") + f" --out {args.out}"
        args.out.write_text(
            "# Training-loop throughput: `fit` against a bare loop\n\n"
            f"Measured with `{command}`: {header}.\n\n"
            "The bare loop is forward, the three task losses, backward of their sum and Adam's step; `fit` adds "
            "seeded shuffling, the weighting method's hooks (equal weights), running loss sums on the device, the "
            "per-epoch NaN check and the history. No GPU was available when this table was made: it was measured "
            "on a shared CPU, where both loops are limited by the convolutions. On a GPU run it with the paper's "
            "widths (second command in the script's docstring) to check the target where it matters.\n\n"
            f"{table}\n\n{verdict}.\n")


if __name__ == "__main__":
    main()
