"""What the timing benchmarks share: the clocks, the machine options, the sentence saying how a table was made, and
writing the report where ``--out`` asks."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_WORDS = {"wall": "wall-clock time",
               "cpu": "CPU time of the benchmark process (time spent waiting for a core is left out)"}


def add_machine_options(parser: argparse.ArgumentParser, what: str = "the table") -> None:
    """``--threads``, ``--device``, ``--clock`` and ``--out``."""
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or the CPU time of this process (steadier when other processes share the "
                             "cores; CPU devices only)")
    parser.add_argument("--out", type=Path, help=f"also write {what}, with how it was made, to this file")


def machine(parser: argparse.ArgumentParser, args: argparse.Namespace) -> torch.device:
    """Apply ``--threads`` and check ``--clock`` against ``--device``; the device to time on."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.clock == "cpu" and device.type != "cpu":
        parser.error("--clock cpu measures host CPU time; use --clock wall on an accelerator")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for the accelerator, so that a clock reading covers the work queued before it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def provenance(script: str, argv: Sequence[str] | None, device: torch.device) -> str:
    """``Measured with `python benchmarks/<script> ...`: torch <version>, <n> thread(s), device <device> (<what>)``."""
    command = f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:])
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    return (f"Measured with `{command.strip()}`: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
            f"device {device} ({where})")


def publish(report: str, out: Path | None) -> None:
    """Print ``report`` and, with ``out``, write it there too."""
    print(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
