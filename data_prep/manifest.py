"""Checks and writes the tidy split manifests `split{k}.csv` (path,label,split[,group])."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_prep.errors import DataPrepError, describe_rows

SPLITS = ("train", "val", "test")
COLUMNS = ("path", "label", "split", "group")


def validate(frame: pd.DataFrame, class_names: list[str], dataset: str, k: int,
             digests: dict[str, str | None] | None = None) -> None:
    """Raise DataPrepError naming the offending rows of split k, if any rule is broken."""
    where = f"{dataset}, split {k}"
    missing = [column for column in ("path", "label", "split") if column not in frame.columns]
    if missing:
        raise DataPrepError(f"{where}: manifest lacks columns {missing}")
    bad_split = frame[~frame["split"].isin(SPLITS)]
    if len(bad_split):
        raise DataPrepError(f"{where}: split must be one of {SPLITS}; offending rows:\n"
                            f"{describe_rows(bad_split)}")
    labels = pd.to_numeric(frame["label"], errors="coerce")
    unknown = frame[labels.isna() | (labels % 1 != 0) | (labels < 0) | (labels >= len(class_names))]
    if len(unknown):
        raise DataPrepError(f"{where}: unknown labels (expected integers 0..{len(class_names) - 1} for "
                            f"{class_names}); offending rows:\n{describe_rows(unknown)}")
    for split in SPLITS:
        if not (frame["split"] == split).any():
            raise DataPrepError(f"{where}: the {split} split is empty")
    train_labels = set(frame.loc[frame["split"] == "train", "label"].astype(int))
    absent = [f"{label} ({name})" for label, name in enumerate(class_names) if label not in train_labels]
    if absent:
        raise DataPrepError(f"{where}: classes with no training images: {', '.join(absent)}")
    repeated = frame[frame["path"].duplicated(keep=False)]
    if len(repeated):
        raise DataPrepError(f"{where}: the same image is listed more than once; offending rows:\n"
                            f"{describe_rows(repeated.sort_values('path'))}")
    if "group" in frame.columns:
        _check_disjoint(frame, frame["group"], where, "subject (group)")
    if digests is not None:
        content = frame["path"].map(digests)
        _check_disjoint(frame[content.notna()], content[content.notna()], where,
                        "image content (identical file bytes)")


def _check_disjoint(frame: pd.DataFrame, key: pd.Series, where: str, what: str) -> None:
    roles = frame.groupby(key)["split"].nunique()
    shared = roles[roles > 1].index
    if len(shared):
        rows = frame[key.isin(shared)].assign(_key=key).sort_values(["_key", "split"])
        raise DataPrepError(f"{where}: the same {what} appears in more than one of train/val/test; "
                            f"offending rows:\n{describe_rows(rows.drop(columns='_key'))}")


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical column order, split order, sorted paths, integer labels."""
    frame = frame[[column for column in COLUMNS if column in frame.columns]].copy()
    frame["label"] = frame["label"].astype(int)
    if "group" in frame.columns:
        frame["group"] = frame["group"].astype(str)
    order = frame["split"].map({split: rank for rank, split in enumerate(SPLITS)})
    return frame.assign(_order=order).sort_values(["_order", "path"]).drop(columns="_order") \
        .reset_index(drop=True)


def class_counts(frame: pd.DataFrame, num_classes: int) -> dict[str, list[int]]:
    return {split: [int(n) for n in frame.loc[frame["split"] == split, "label"]
                    .value_counts().reindex(range(num_classes), fill_value=0)]
            for split in SPLITS}


def write(frame: pd.DataFrame, folder: Path, k: int) -> None:
    frame.to_csv(Path(folder) / f"split{k}.csv", index=False)


def read(folder: Path, k: int) -> pd.DataFrame:
    return pd.read_csv(Path(folder) / f"split{k}.csv", dtype={"path": str, "group": str})
