"""Progress bars that a reader can switch off everywhere at once with ``TQDM_DISABLE=1``.

``make`` sets the variable for rendered pages, where a bar would be frozen noise. ``tqdm`` itself reads it only
when it is imported and only for arguments the caller leaves out, so it is read here, at every call.
"""

from __future__ import annotations

import os
from typing import Any

from tqdm.auto import tqdm


def bars_disabled() -> bool:
    """Whether the environment switches progress bars off (``TQDM_DISABLE`` set to anything but 0/false/empty)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in {"", "0", "false"}


def progress_bar(iterable: Any = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, shown unless ``enabled`` is false or the environment disables bars."""
    return tqdm(iterable, leave=False, disable=not enabled or bars_disabled(), **kwargs)
