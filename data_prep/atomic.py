"""Write a prepared folder next to its destination, then swap it in with renames.

A failed run leaves the previous folder (or nothing) in place, never a half-written one.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from data_prep.errors import DataPrepError


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    out = Path(out)
    if out.exists() and not (out / "dataset.json").is_file() and (not out.is_dir() or any(out.iterdir())):
        # Replacing means deleting: only ever replace an earlier prepared folder (or an empty one).
        raise DataPrepError(f"--out {out} exists and is not a prepared dataset folder (no dataset.json); "
                            "refusing to replace it, choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the prepared folder is shared data
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_folder(staging, out)


def replace_folder(new: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "previous")
    os.rename(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
