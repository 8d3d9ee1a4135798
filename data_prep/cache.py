"""The image cache: every image resized once into a memory-mappable uint8 .npy plus a path->row index."""
from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from data_prep.collected import ArrayImages, FileImages
from data_prep.errors import DataPrepError
from data_prep.hashing import stable_hash

IMAGES_FILE = "images.npy"
INDEX_FILE = "images_index.csv"
CHUNK_ROWS = 1024


def workers() -> int:
    return min(8, os.cpu_count() or 1)


def compute_digests(source: FileImages | ArrayImages, paths: list[str]) -> dict[str, str | None]:
    with ThreadPoolExecutor(workers()) as pool:
        return dict(zip(paths, pool.map(source.digest, paths)))


def images_key(digests: dict[str, str | None], size: int) -> str:
    """Identifies the cache content: which images (by bytes) at which size."""
    return stable_hash({"images": sorted(digests.items()), "size": size})


def reusable_cache(out: Path, key: str) -> dict | None:
    """The existing prepared folder's dataset.json if its cache was built from the same images and size."""
    try:
        info = json.loads((Path(out) / "dataset.json").read_text())
    except (OSError, ValueError):
        return None
    cache = info.get("cache") or {}
    files_present = all((Path(out) / cache.get(name, "-")).is_file() for name in ("images", "index"))
    return info if cache.get("key") == key and files_present else None


def link_or_copy(source: Path, target: Path) -> None:
    """Hard link (instant, no extra disk) where the file system allows, else copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def reuse(old_folder: Path, new_folder: Path) -> None:
    for name in (IMAGES_FILE, INDEX_FILE):
        link_or_copy(Path(old_folder) / name, Path(new_folder) / name)


def build(folder: Path, paths: list[str], source: FileImages | ArrayImages, size: int,
          dataset: str, skip_corrupt: bool) -> list[str]:
    """Decode and resize every image into folder/images.npy; returns the skipped (unreadable) paths."""
    target = Path(folder) / IMAGES_FILE
    images = np.lib.format.open_memmap(target, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
    failures: dict[str, str] = {}

    def store(row: int) -> None:
        try:
            images[row] = source.decode(paths[row], size)
        except Exception as error:  # noqa: BLE001 - any decoder failure means "unreadable image"
            failures[paths[row]] = f"{type(error).__name__}: {error}"

    with ThreadPoolExecutor(workers()) as pool:
        list(pool.map(store, range(len(paths))))
    images.flush()
    if failures and not skip_corrupt:
        del images
        details = "\n".join(f"  {path}: {reason}" for path, reason in list(sorted(failures.items()))[:10])
        raise DataPrepError(
            f"{dataset}: {len(failures)} corrupt or unreadable image(s) (pass --skip-corrupt to skip "
            f"and count them instead):\n{details}")
    kept = [row for row, path in enumerate(paths) if path not in failures]
    if failures:
        _compact(target, images, kept)
    pd.DataFrame({"path": [paths[row] for row in kept], "row": range(len(kept))}) \
        .to_csv(Path(folder) / INDEX_FILE, index=False)
    return sorted(failures)


def _compact(target: Path, images: np.ndarray, kept: list[int]) -> None:
    """Rewrite the array without the rows of skipped images, chunk by chunk (bounded memory)."""
    compact_path = target.with_name("images.compact.npy")
    compact = np.lib.format.open_memmap(compact_path, mode="w+", dtype=np.uint8,
                                        shape=(len(kept),) + images.shape[1:])
    for start in range(0, len(kept), CHUNK_ROWS):
        compact[start:start + CHUNK_ROWS] = images[kept[start:start + CHUNK_ROWS]]
    compact.flush()
    del compact, images
    os.replace(compact_path, target)


def load(folder: Path) -> tuple[np.ndarray, dict[str, int]]:
    """Memory-mapped images and the path -> row index of a prepared folder."""
    index = pd.read_csv(Path(folder) / INDEX_FILE, dtype={"path": str})
    return np.load(Path(folder) / IMAGES_FILE, mmap_mode="r"), dict(zip(index["path"], index["row"]))

