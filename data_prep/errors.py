"""The one exception type data_prep raises for bad input."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

MAX_LISTED = 10


class DataPrepError(ValueError):
    """Bad raw data, options or prepared folder; the message says what, where and what was expected."""


def listing(items: Iterable[object], limit: int = MAX_LISTED) -> str:
    """Comma-separated items, shortened to `limit` with a count of the rest."""
    items = [str(item) for item in items]
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items) - limit} more)"
    return shown


def describe_rows(frame: pd.DataFrame, limit: int = MAX_LISTED) -> str:
    """The first offending rows of a manifest, one per line, for error messages."""
    text = frame.head(limit).to_string(index=False)
    if len(frame) > limit:
        text += f"\n... ({len(frame) - limit} more rows)"
    return text
