"""Numbers computed in a chapter, named so that the chapter's text can quote them.

In the rendered book, ``glue("gain", 0.31)`` lets the prose write ``{glue:text}`gain:.0%``` and show the value
the chapter computed on this build (MyST-NB's glue). Where MyST-NB is not installed (Colab) the roles in the text
do not render, so every glued value is also remembered here, and :func:`glued_numbers` lists them at the end of a
chapter: a Colab reader sees, labelled, every number the text quotes. A glued figure is shown where it is
glued, since no directive will place it.
"""

from __future__ import annotations

from numbers import Number
from typing import Any, TypeVar

import pandas as pd

T = TypeVar("T")

_GLUED: dict[str, Any] = {}


def glue(name: str, value: T) -> T:
    """Register ``value`` under ``name`` for the book's text (without displaying it) and return it."""
    shown = value.item() if hasattr(value, "item") and getattr(value, "ndim", 0) == 0 else value
    _GLUED[name] = shown
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab: no book to place a glued figure in, so show it here
        if hasattr(value, "savefig"):
            from IPython.display import display

            display(value)
        return value
    myst_glue(name, shown, display=False)
    return value


def glue_interval(name: str, interval: tuple[float, float, float]) -> tuple[float, float, float]:
    """Glue a ``(mean, low, high)`` interval as ``name_mean``, ``name_low`` and ``name_high``, and what it says
    about zero as ``name_sign``: "above zero", "below zero" or "includes zero", so that the text's verdict is
    computed with the numbers it sits beside. Returns ``interval``."""
    mean, low, high = (float(v) for v in interval)
    for part, value in (("mean", mean), ("low", low), ("high", high)):
        glue(f"{name}_{part}", value)
    glue(f"{name}_sign", "above zero" if low > 0 else "below zero" if high < 0 else "includes zero")
    return interval


def glued_numbers() -> pd.DataFrame:
    """Every scalar or text glued so far in this kernel, in the order first glued, as a ``name → value`` table.

    Figures and tables glued for the book are listed by their type, not drawn again.
    """
    rows = [(name, _describe(value)) for name, value in _GLUED.items()]
    return pd.DataFrame(rows, columns=["name", "value"]).set_index("name")


def _describe(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (Number, str)):
        return str(value) if isinstance(value, bool) else f"<{type(value).__name__}>"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
