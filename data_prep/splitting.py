"""Seeded split helpers on manifests (scikit-learn does the sampling)."""
from __future__ import annotations

import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from data_prep.errors import DataPrepError


def stratified_holdout(frame: pd.DataFrame, fraction: float, seed: int, dataset: str,
                       what: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off `fraction` of the rows, keeping class proportions; returns (rest, held_out)."""
    if not 0 < fraction < 1:
        raise DataPrepError(f"{dataset}: {what} fraction must be in (0, 1), got {fraction}")
    try:
        rest, held = train_test_split(frame, test_size=fraction, random_state=seed,
                                      stratify=frame["label"])
    except ValueError as error:
        counts = frame["label"].value_counts().sort_index().to_dict()
        raise DataPrepError(
            f"{dataset}: cannot carve a stratified {what} part ({fraction:.0%}) out of "
            f"{len(frame)} images with per-class counts {counts}: {error}") from None
    return rest.sort_index(), held.sort_index()


def group_holdout(frame: pd.DataFrame, fraction: float, seed: int, dataset: str,
                  what: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off about `fraction` of the rows by whole groups (subjects); returns (rest, held_out)."""
    if not 0 < fraction < 1:
        raise DataPrepError(f"{dataset}: {what} fraction must be in (0, 1), got {fraction}")
    if frame["group"].nunique() < 2:
        raise DataPrepError(f"{dataset}: cannot carve a {what} part by subject out of a single subject")
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    rest_rows, held_rows = next(splitter.split(frame, groups=frame["group"]))
    return frame.iloc[rest_rows], frame.iloc[held_rows]


def random_split(frame: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int,
                 dataset: str) -> pd.DataFrame:
    """Assign train/val/test: by group when a `group` column exists, else stratified by label."""
    holdout = group_holdout if "group" in frame.columns else stratified_holdout
    rest, test = holdout(frame, test_fraction, seed, dataset, "test")
    train, val = holdout(rest, val_fraction / (1 - test_fraction), seed, dataset, "val")
    return pd.concat([train.assign(split="train"), val.assign(split="val"),
                      test.assign(split="test")]).sort_values("path", kind="stable")
