"""Adience: fold_{0..4}_data.txt + aligned/{user_id}/landmark_aligned_face.{face_id}.{original_image}."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from data_prep.collected import Collected, FileImages
from data_prep.errors import DataPrepError, describe_rows
from data_prep.layouts import require_dir, require_file
from data_prep.splitting import group_holdout

N_FOLDS = 5
# Each group's widest span; the published aliases (8,12), (27,32) and (38,42) fall inside these.
GROUP_SPANS = ((0, 2), (4, 6), (8, 13), (15, 20), (25, 32), (38, 43), (48, 53), (60, 100))
REQUIRED_COLUMNS = ("user_id", "original_image", "face_id", "age")
RANGE = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def add_arguments(parser) -> None:
    parser.add_argument_group("adience options").add_argument(
        "--val-fraction", type=float, help="share of each training part's subjects used for val (default 0.1)")


def age_group(age: str) -> int | str:
    """Class index for an age string, or the reason the row is dropped; ValueError if unreadable."""
    text = str(age).strip()
    if text in ("None", "", "nan"):
        return "age missing (None)"
    if match := RANGE.fullmatch(text):
        low, high = int(match[1]), int(match[2])
        reason = "age range spanning groups"
    elif text.isdigit():
        low = high = int(text)
        reason = "age between groups"
    else:
        raise ValueError(text)
    for label, (start, end) in enumerate(GROUP_SPANS):
        if start <= low and high <= end:
            return label
    return reason


def read_fold(spec, raw: Path, fold: int) -> tuple[pd.DataFrame, dict[str, int]]:
    path = require_file(spec, raw / f"fold_{fold}_data.txt", f"fold file fold_{fold}_data.txt")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataPrepError(f"{spec.name}: cannot parse {path} as tab-separated text: {error}") from None
    table.columns = table.columns.str.strip()
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise DataPrepError(f"{spec.name}: {path} lacks column(s) {missing}; expected a tab-separated "
                            f"header starting with {' '.join(REQUIRED_COLUMNS[:3])} age gender ...")
    table = table.apply(lambda column: column.str.strip())
    table.insert(0, "line", table.index + 2)  # 1-based line numbers in the file, after the header
    blank = table[(table[list(REQUIRED_COLUMNS[:3])] == "").any(axis=1)]
    if len(blank):
        raise DataPrepError(f"{spec.name}: {path}: rows with an empty user_id/original_image/face_id:\n"
                            f"{describe_rows(blank[['line', *REQUIRED_COLUMNS]])}")
    groups, unreadable = [], []
    for line, age in zip(table["line"], table["age"]):
        try:
            groups.append(age_group(age))
        except ValueError:
            groups.append(None)
            unreadable.append(line)
    if unreadable:
        rows = table[table["line"].isin(unreadable)][["line", *REQUIRED_COLUMNS]]
        raise DataPrepError(f"{spec.name}: {path}: unknown age values (expected '(a, b)', an integer or "
                            f"None):\n{describe_rows(rows)}")
    group = pd.Series(groups, index=table.index, dtype=object)
    keep = group.map(lambda value: isinstance(value, int))
    dropped = group[~keep].value_counts().to_dict()
    kept = table[keep]
    frame = pd.DataFrame({
        "path": "aligned/" + kept["user_id"] + "/landmark_aligned_face." + kept["face_id"] + "."
                + kept["original_image"],
        "label": group[keep].astype(int),
        "group": kept["user_id"],
        "fold": fold,
    })
    return frame, dropped


def collect(spec, raw: Path, *, seed: int, val_fraction: float = 0.1) -> Collected:
    require_dir(spec, raw / "aligned", "the aligned/{user_id}/ face image folders")
    folds, dropped = [], {}
    for fold in range(N_FOLDS):
        frame, fold_dropped = read_fold(spec, raw, fold)
        folds.append(frame)
        for reason, count in fold_dropped.items():
            dropped[reason] = dropped.get(reason, 0) + count
    everything = pd.concat(folds, ignore_index=True)
    splits = []
    for k in range(N_FOLDS):
        test = everything[everything["fold"] == k]
        train, val = group_holdout(everything[everything["fold"] != k], val_fraction, seed + k,
                                   spec.name, "val")
        splits.append(pd.concat([train.assign(split="train"), val.assign(split="val"),
                                 test.assign(split="test")]).drop(columns="fold"))
    return Collected(
        class_names=list(spec.class_names), splits=splits, images=FileImages(raw), dropped=dropped,
        protocol_description=("official 5 subject-disjoint folds: split k tests on fold k and trains on "
                              f"the other four, {val_fraction:.0%} of whose subjects form val (seed+k)"))
