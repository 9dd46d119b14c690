"""How fast SynthScenes renders, in images per second, at a few image sizes; and how fast the same tensors load
back from disk (the case for a cache).

    python benchmarks/synthscenes.py                      # torch's default number of threads, CPU
    python benchmarks/synthscenes.py --threads 1
    python benchmarks/synthscenes.py --device cuda --sizes 64x64,288x384

Each size renders enough images for about a second of work, three times after a warm-up, and reports the best
and the median rate (the best is the least disturbed by other processes). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mtl_ref.data import synthscenes


def rate(n: int, height: int, width: int, device: str, repeats: int = 3) -> list[float]:
    """Images per second of ``repeats`` runs (after a warm-up)."""
    synthscenes(min(n, 16), height, width, seed=99, device=device)
    rates = []
    for r in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        synthscenes(n, height, width, seed=r, device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - start))
    return rates


def load_rate(n: int, height: int, width: int, repeats: int = 3) -> list[float]:
    """Images per second of ``torch.load`` for the same tensors saved to a temporary file (after one warm read)."""
    data = synthscenes(n, height, width, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenes.pt"
        torch.save({"x": data.x, **data.y}, path)
        torch.load(path)
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.load(path)
            rates.append(n / (time.perf_counter() - start))
        size = path.stat().st_size
    print(f"(the file holds {size / n / 1024:.0f} KiB per image)")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="32x32,48x64,64x64,96x128,288x384", help="comma-separated HxW")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} CPU threads\n")
    print("| size | images | best images/s | median images/s |")
    print("|---|---|---|---|")
    for size in args.sizes.split(","):
        height, width = (int(v) for v in size.lower().split("x"))
        n = max(8, min(1024, 2**21 // (height * width)))
        r = rate(n, height, width, args.device)
        print(f"| {height}×{width} | {n} | {max(r):.0f} | {statistics.median(r):.0f} |")
    if args.device == "cpu":
        r = load_rate(1024, 64, 64)
        print(f"\nloading 1024 images of 64×64 with torch.load from a warm file: best {max(r):.0f} images/s")


if __name__ == "__main__":
    main()
