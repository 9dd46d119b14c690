"""Checked claims: every result a chapter states is computed, shown, asserted and put on record.

A chapter collects its claims in a :class:`Claims` object and ends with ``claims.verify()``. Three kinds of
claim sit side by side:

* :meth:`Claims.check` — a plain statement that holds or not (a rank, a sign, a count).
* :meth:`Claims.better` — "A beats B": the paired differences over seeds (same seed = same data and
  initialisation) have a 95 % interval that lies wholly on A's side of zero.
* :meth:`Claims.no_better` — "A is no better than B by more than ``margin``": the interval's end on A's side
  lies below a margin stated before the run (a one-sided equivalence test). :meth:`Claims.within` asks the same
  on both sides ("A and B agree to within ``margin``").

The intervals are Student-t intervals on the paired differences (``interval="t"``) or percentile bootstrap
intervals over seeds (``interval="bootstrap"``, 10,000 resamples, fixed generator); each claim records which,
with the mean difference, the interval and the number of pairs. More noise widens the interval, so it can only
make a claim harder to pass; with fewer than two pairs there is no interval and the claim does not hold.

The table is always shown; at the ``quick`` and ``full`` profiles a claim that does not hold raises an
``AssertionError`` listing every failure (at ``smoke`` the runs are too small to mean anything). With
``MTL_RECORDS_DIR`` set, :meth:`Claims.verify` also writes the chapter's record — profile, device, torch version,
wall time and every claim with its evidence — to ``$MTL_RECORDS_DIR/<chapter>.json``; the book's status page
renders those records.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from scipy import stats

from .profiles import Profile, current_profile

ENV_VAR = "MTL_RECORDS_DIR"
LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 10_000
Interval = Literal["t", "bootstrap"]


@dataclass(frozen=True)
class Claim:
    """One statement, whether it held, and the numbers behind it.

    For the statistical kinds, ``mean``, ``low`` and ``high`` are the mean paired difference (positive = A
    better) and its interval, ``n`` the number of pairs, ``margin`` the equivalence margin (if any) and
    ``interval`` how the interval was computed.
    """

    statement: str
    holds: bool
    evidence: str
    kind: str = "check"
    n: int | None = None
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    margin: float | None = None
    interval: str | None = None


def paired_interval(differences: Sequence[float] | np.ndarray, interval: Interval = "t",
                    level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of paired differences and its two-sided ``level`` interval: ``(mean, low, high)``.

    ``"t"``: mean ± t_{n-1} · s/√n. ``"bootstrap"``: percentiles of the means of 10,000 resamples of the pairs
    (generator seeded with 0, so the interval is reproducible). Fewer than two finite pairs give an infinite
    interval; a NaN difference raises, since a claim must not be decided on a broken run.
    """
    d = np.asarray(differences, dtype=float).ravel()
    if np.isnan(d).any():
        raise ValueError(f"paired differences contain NaN: {d.tolist()}")
    if interval not in ("t", "bootstrap"):
        raise ValueError(f"unknown interval {interval!r}; use 't' or 'bootstrap'")
    mean = float(d.mean()) if len(d) else float("nan")
    if len(d) < 2:
        return mean, -float("inf"), float("inf")
    if interval == "t":
        half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
        return mean, mean - half, mean + half
    rng = np.random.default_rng(0)
    means = d[rng.integers(0, len(d), size=(BOOTSTRAP_RESAMPLES, len(d)))].mean(axis=1)
    low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
    return mean, float(low), float(high)


def _paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray | float,
            higher_is_better: bool) -> np.ndarray:
    """A's advantage over B per pair (positive = A better); B may be one number (a fixed reference)."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.broadcast_to(np.asarray(b, dtype=float), a.shape) if np.ndim(b) == 0 else np.asarray(b, float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired claims need one value of A and of B per seed; got {a.shape[0]} and {b.shape[0]}")
    return a - b if higher_is_better else b - a


def _fmt(x: float) -> str:
    return f"{x:+.3g}" if np.isfinite(x) else ("+inf" if x > 0 else "-inf")


class Claims:
    """The claims of one chapter.

    Args:
        profile: the run's profile (default: :func:`~mtl_ref.profiles.current_profile`).
        chapter: the chapter's file name without extension; with ``MTL_RECORDS_DIR`` set, :meth:`verify`
            writes the record under this name.
        device: the device the chapter ran on, for the record.
    """

    def __init__(self, profile: Profile | None = None, chapter: str | None = None,
                 device: torch.device | str | None = None) -> None:
        self.profile = profile if profile is not None else current_profile()
        self.chapter = chapter
        self.device = str(device) if device is not None else None
        self.items: list[Claim] = []
        self._start = time.perf_counter()

    def check(self, statement: str, holds: bool, evidence: str = "") -> bool:
        """Record a plain claim; return whether it holds so that the text can say so."""
        self.items.append(Claim(statement, bool(holds), evidence))
        return bool(holds)

    def better(self, statement: str, a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray | float, *,
               higher_is_better: bool, interval: Interval = "t", unit: str = "") -> bool:
        """"A beats B": the interval of A's paired advantage lies wholly above zero.

        ``a`` and ``b`` hold one value per seed, in the same seed order (``b`` may be a fixed reference value).
        """
        mean, low, high = paired_interval(_paired(a, b, higher_is_better), interval)
        holds = bool(low > 0)
        evidence = f"A − B = {_fmt(mean)}{unit}, {LEVEL:.0%} CI [{_fmt(low)}, {_fmt(high)}] ({interval}, n = {len(np.ravel(a))})"
        return self._add(Claim(statement, holds, evidence, "better", len(np.ravel(a)), mean, low, high, None, interval))

    def no_better(self, statement: str, a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray | float,
                  *, margin: float, higher_is_better: bool, interval: Interval = "t", unit: str = "") -> bool:
        """"A is no better than B by more than ``margin``": the upper end of A's paired advantage is below it.

        The margin is part of the statement and must be fixed before the run (in the chapter's code, not chosen
        from the result).
        """
        if margin <= 0:
            raise ValueError(f"the margin must be positive, got {margin}")
        mean, low, high = paired_interval(_paired(a, b, higher_is_better), interval)
        holds = bool(high < margin)
        evidence = (f"A − B = {_fmt(mean)}{unit}, {LEVEL:.0%} CI [{_fmt(low)}, {_fmt(high)}] < margin {margin:g}{unit} "
                    f"({interval}, n = {len(np.ravel(a))})")
        return self._add(Claim(statement, holds, evidence, "no_better", len(np.ravel(a)), mean, low, high, margin,
                               interval))

    def within(self, statement: str, a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray | float, *,
               margin: float, interval: Interval = "t", unit: str = "") -> bool:
        """"A and B agree to within ``margin``": the whole interval of A − B lies inside (−margin, margin)."""
        if margin <= 0:
            raise ValueError(f"the margin must be positive, got {margin}")
        mean, low, high = paired_interval(_paired(a, b, True), interval)
        holds = bool(-margin < low and high < margin)
        evidence = (f"A − B = {_fmt(mean)}{unit}, {LEVEL:.0%} CI [{_fmt(low)}, {_fmt(high)}] within ±{margin:g}{unit} "
                    f"({interval}, n = {len(np.ravel(a))})")
        return self._add(Claim(statement, holds, evidence, "within", len(np.ravel(a)), mean, low, high, margin,
                               interval))

    def _add(self, claim: Claim) -> bool:
        self.items.append(claim)
        return claim.holds

    def table(self) -> str:
        """The claims as a plain-text table."""
        width = max((len(c.statement) for c in self.items), default=10)
        lines = [f"{'claim':<{width}}  holds  evidence", "-" * (width + 17)]
        lines += [f"{c.statement:<{width}}  {'yes' if c.holds else 'NO':<5}  {c.evidence}" for c in self.items]
        return "\n".join(lines)

    def failures(self) -> list[Claim]:
        return [c for c in self.items if not c.holds]

    def record(self) -> dict:
        """The chapter's machine-readable record: where and how it ran, and every claim with its evidence."""
        return {
            "chapter": self.chapter,
            "profile": self.profile.name,
            "enforced": self.profile.checks_claims,
            "device": self.device or "unknown",
            "device_name": _device_name(self.device),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(time.perf_counter() - self._start, 1),
            "claims": [asdict(c) for c in self.items],
        }

    def write_record(self, directory: Path | str) -> Path:
        """Write :meth:`record` to ``directory/<chapter>.json`` and return the path."""
        if not self.chapter:
            raise ValueError("a record needs the chapter's name: Claims(profile, chapter=...)")
        path = Path(directory) / f"{self.chapter}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.record(), indent=1, default=_jsonable) + "\n")
        return path

    def verify(self) -> None:
        """Print the table, write the record (if ``MTL_RECORDS_DIR`` is set), and at quick and full raise if any
        claim does not hold."""
        print(f"profile: {self.profile}  ({'claims enforced' if self.profile.checks_claims else 'claims shown, not enforced'})")
        print(self.table())
        directory = os.environ.get(ENV_VAR)
        if directory and self.chapter:
            self.write_record(directory)
        failed = self.failures()
        if failed and self.profile.checks_claims:
            listing = "\n".join(f"- {c.statement} ({c.evidence})" for c in failed)
            raise AssertionError(f"{len(failed)} claim(s) do not hold at profile {self.profile}:\n{listing}")


def _device_name(device: str | None) -> str:
    if device and device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    if device in (None, "cpu"):
        return f"CPU, {os.cpu_count()} cores ({platform.machine()})"
    return str(device)


def _jsonable(x: object) -> object:
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
