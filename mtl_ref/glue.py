"""Numbers computed in a chapter, named so that the chapter's text can quote them.

In the rendered book, ``glue("gain", 0.31)`` lets the prose write ``{glue:text}`gain:.0%``` and show the value
the chapter computed on this build (MyST-NB's glue). Where MyST-NB is not installed (Colab) this only returns the
value, which the chapter's printed output shows anyway.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def glue(name: str, value: T) -> T:
    """Register ``value`` under ``name`` for the book's text (without displaying it) and return it."""
    shown = value.item() if hasattr(value, "item") else value  # numpy scalars print as np.float64(...)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, shown, display=False)
    return value
