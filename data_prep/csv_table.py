"""Generic: a CSV listing image paths (relative to RAW) and ordinal labels (integers or named levels)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_prep.collected import Collected, FileImages
from data_prep.errors import DataPrepError, describe_rows
from data_prep.splitting import random_split, stratified_holdout

SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}


def add_arguments(parser) -> None:
    from data_prep.cli import name_list
    group = parser.add_argument_group("csv options")
    group.add_argument("--csv", help="the CSV file (relative to --raw or absolute; required)")
    group.add_argument("--path-column", help="column with image paths relative to --raw (default 'path')")
    group.add_argument("--label-column", help="column with the ordinal label (default 'label')")
    group.add_argument("--levels", type=name_list, help="label names in ordinal order, comma-separated "
                       "(default: labels are integers 0..K-1)")
    group.add_argument("--num-classes", type=int, help="K for integer labels (default: largest label + 1)")
    group.add_argument("--split-column", help="column with train/val/test (default: seeded random splits)")
    group.add_argument("--group-column", help="column with a subject id kept within one split")
    group.add_argument("--val-fraction", type=float, help="val share when not given (default 0.1)")
    group.add_argument("--test-fraction", type=float, help="test share when not given (default 0.2)")
    group.add_argument("--n-splits", type=int, help="seeded random splits without a split column (default 1)")


def collect(spec, raw: Path, *, seed: int, csv: str | None = None, path_column: str = "path",
            label_column: str = "label", levels: list[str] | None = None, num_classes: int | None = None,
            split_column: str | None = None, group_column: str | None = None, val_fraction: float = 0.1,
            test_fraction: float = 0.2, n_splits: int = 1) -> Collected:
    if not csv:
        raise DataPrepError(f"{spec.name}: option 'csv' (the CSV file listing images and labels) is required")
    file = Path(csv) if Path(csv).is_absolute() else raw / csv
    if not file.is_file():
        raise DataPrepError(f"{spec.name}: expected the CSV file at {file}, but it does not exist")
    table = pd.read_csv(file, dtype=str, keep_default_na=False)
    table.columns = table.columns.str.strip()
    wanted = [column for column in (path_column, label_column, split_column, group_column) if column]
    missing = [column for column in wanted if column not in table.columns]
    if missing:
        raise DataPrepError(f"{spec.name}: {file} lacks column(s) {missing}; it has {list(table.columns)}")
    table = table[wanted].apply(lambda column: column.str.strip())
    table.insert(0, "line", table.index + 2)
    labels, class_names = _labels(spec, file, table, label_column, levels, num_classes)
    frame = pd.DataFrame({"path": table[path_column], "label": labels})
    if group_column:
        frame["group"] = table[group_column]
    images = FileImages(raw)
    if split_column:
        split = table[split_column].str.lower().map(SPLIT_ALIASES)
        if split.isna().any():
            raise DataPrepError(f"{spec.name}: {file}: unknown values in '{split_column}' (expected one of "
                                f"{sorted(SPLIT_ALIASES)}):\n{describe_rows(table[split.isna()])}")
        frame["split"] = split
        description = f"given by column '{split_column}'"
        if not (split == "val").any():
            train, val = stratified_holdout(frame[split == "train"], val_fraction, seed, spec.name, "val")
            frame = pd.concat([train, val.assign(split="val"), frame[split == "test"]])
            description += f"; seeded stratified {val_fraction:.0%} val from train"
        return Collected(class_names, [frame], description, images, protocol_kind="official")
    splits = [random_split(frame, val_fraction, test_fraction, seed + k, spec.name) for k in range(n_splits)]
    by = "subject-grouped" if group_column else "stratified"
    return Collected(class_names, splits, f"{n_splits} seeded {by} random split(s), val {val_fraction:.0%}, "
                     f"test {test_fraction:.0%}", images, protocol_kind="random_splits")


def _labels(spec, file, table, column, levels, num_classes) -> tuple[pd.Series, list[str]]:
    if levels:
        levels = [str(level) for level in levels]
        labels = table[column].map({level: index for index, level in enumerate(levels)})
        expected = f"one of the levels {levels}"
        class_names = levels
    else:
        labels = pd.to_numeric(table[column], errors="coerce")
        labels = labels.where(labels % 1 == 0)
        k = num_classes or (int(labels.max()) + 1 if labels.notna().any() else 0)
        labels = labels.where((labels >= 0) & (labels < k))
        expected = f"integers 0..{k - 1} (or pass levels)"
        class_names = [str(level) for level in range(k)]
    bad = table[labels.isna()]
    if len(bad):
        raise DataPrepError(f"{spec.name}: {file}: unknown labels in '{column}' (expected {expected}):\n"
                            f"{describe_rows(bad)}")
    return labels.astype(int), class_names
