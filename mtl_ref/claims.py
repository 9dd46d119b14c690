"""Checked claims: every result a chapter states is computed, shown, and asserted.

A chapter collects its claims in a :class:`Claims` object and ends with ``claims.verify()``. The table is
always shown; at the ``quick`` and ``full`` profiles a claim that does not hold raises an ``AssertionError``
that lists every failure. At ``smoke`` the runs are too small for the claims to mean anything, so they are
shown but not enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

from .profiles import Profile, current_profile


@dataclass(frozen=True)
class Claim:
    """One statement, whether it held, and the numbers behind it."""

    statement: str
    holds: bool
    evidence: str


class Claims:
    """The claims of one chapter."""

    def __init__(self, profile: Profile | None = None) -> None:
        self.profile = profile if profile is not None else current_profile()
        self.items: list[Claim] = []

    def check(self, statement: str, holds: bool, evidence: str = "") -> bool:
        """Record a claim; return whether it holds so that the text can say so."""
        self.items.append(Claim(statement, bool(holds), evidence))
        return bool(holds)

    def table(self) -> str:
        """The claims as a plain-text table."""
        width = max((len(c.statement) for c in self.items), default=10)
        lines = [f"{'claim':<{width}}  holds  evidence", "-" * (width + 17)]
        lines += [f"{c.statement:<{width}}  {'yes' if c.holds else 'NO':<5}  {c.evidence}" for c in self.items]
        return "\n".join(lines)

    def failures(self) -> list[Claim]:
        return [c for c in self.items if not c.holds]

    def verify(self) -> None:
        """Print the table; at quick and full, raise if any claim does not hold."""
        print(f"profile: {self.profile}  ({'claims enforced' if self.profile.checks_claims else 'claims shown, not enforced'})")
        print(self.table())
        failed = self.failures()
        if failed and self.profile.checks_claims:
            listing = "\n".join(f"- {c.statement} ({c.evidence})" for c in failed)
            raise AssertionError(f"{len(failed)} claim(s) do not hold at profile {self.profile}:\n{listing}")
