"""Helpers for reading published folder layouts, with errors that say where the data comes from."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_prep.collected import IMAGE_SUFFIXES
from data_prep.errors import DataPrepError, listing
from data_prep.registry import DatasetSpec

OFFICIAL_SPLITS = ("train", "val", "test")


def missing_raw(spec: DatasetSpec, path: Path, what: str) -> DataPrepError:
    return DataPrepError(f"{spec.name}: expected {what} at {path}, but it does not exist. "
                         f"The owners publish this dataset at {spec.homepage}")


def require_dir(spec: DatasetSpec, path: Path, what: str) -> Path:
    if not Path(path).is_dir():
        raise missing_raw(spec, path, what)
    return Path(path)


def require_file(spec: DatasetSpec, path: Path, what: str) -> Path:
    if not Path(path).is_file():
        raise missing_raw(spec, path, what)
    return Path(path)


def list_images(folder: Path) -> list[Path]:
    """Image files below folder (any depth), sorted, hidden files skipped."""
    return sorted(path for path in Path(folder).rglob("*")
                  if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def relative(path: Path, root: Path) -> str:
    return Path(path).relative_to(root).as_posix()


def class_folders(spec: DatasetSpec, folder: Path, class_dirs: list[str], root: Path) -> pd.DataFrame:
    """Rows (path, label) for folder/{class_dir}/*; a sub-folder that is not a known class is an error."""
    present = sorted(child.name for child in folder.iterdir()
                     if child.is_dir() and not child.name.startswith("."))
    unknown = [name for name in present if name not in class_dirs]
    if unknown:
        raise DataPrepError(f"{spec.name}: unknown class folder(s) {listing(unknown)} in {folder}; "
                            f"expected only {class_dirs}")
    rows = [(relative(image, root), label) for label, name in enumerate(class_dirs)
            if (folder / name).is_dir() for image in list_images(folder / name)]
    return pd.DataFrame(rows, columns=["path", "label"])


def split_class_folders(spec: DatasetSpec, root: Path, class_dirs: list[str],
                        splits: tuple[str, ...] = OFFICIAL_SPLITS) -> pd.DataFrame:
    """Rows (path, label, split) for root/{split}/{class_dir}/* (the official-split layouts)."""
    frames = []
    for split in splits:
        folder = require_dir(spec, Path(root) / split,
                             f"the {split} folder with one sub-folder per class {class_dirs}")
        frames.append(class_folders(spec, folder, class_dirs, root).assign(split=split))
    return pd.concat(frames, ignore_index=True)
