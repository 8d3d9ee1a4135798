"""IDRiD disease grading: official train/test images + ground-truth CSVs; seeded stratified val."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_prep.collected import Collected, FileImages
from data_prep.errors import DataPrepError, describe_rows
from data_prep.layouts import require_dir, require_file
from data_prep.splitting import stratified_holdout

ROOT = "B. Disease Grading"
IMAGE_DIRS = {"train": "1. Original Images/a. Training Set", "test": "1. Original Images/b. Testing Set"}
LABEL_FILES = {"train": "2. Groundtruths/a. IDRiD_Disease Grading_Training Labels.csv",
               "test": "2. Groundtruths/b. IDRiD_Disease Grading_Testing Labels.csv"}
NAME_COLUMN, GRADE_COLUMN = "Image name", "Retinopathy grade"


def add_arguments(parser) -> None:
    parser.add_argument_group("idrid options").add_argument(
        "--val-fraction", type=float, help="stratified share of the training set used for val (default 0.1)")


def read_labels(spec, raw: Path, part: str) -> pd.DataFrame:
    path = require_file(spec, raw / ROOT / LABEL_FILES[part], f"the {part} ground-truth CSV")
    table = pd.read_csv(path, dtype=str)
    # Published copies differ: some have a trailing space in a header, empty trailing columns and rows.
    table.columns = table.columns.str.strip()
    table = table.loc[:, ~table.columns.str.startswith("Unnamed")].dropna(how="all")
    missing = [column for column in (NAME_COLUMN, GRADE_COLUMN) if column not in table.columns]
    if missing:
        raise DataPrepError(f"{spec.name}: {path} lacks column(s) {missing}; expected "
                            f"'{NAME_COLUMN},{GRADE_COLUMN},Risk of macular edema'")
    table.insert(0, "line", table.index + 2)
    grade = pd.to_numeric(table[GRADE_COLUMN].str.strip(), errors="coerce")
    bad = table[~grade.isin(range(len(spec.class_names))) | table[NAME_COLUMN].isna()]
    if len(bad):
        raise DataPrepError(f"{spec.name}: {path}: unknown retinopathy grades or empty image names "
                            f"(expected 0..{len(spec.class_names) - 1}):\n"
                            f"{describe_rows(bad[['line', NAME_COLUMN, GRADE_COLUMN]])}")
    names = table[NAME_COLUMN].str.strip()
    names = names.where(names.str.lower().str.endswith(".jpg"), names + ".jpg")
    return pd.DataFrame({"path": f"{ROOT}/{IMAGE_DIRS[part]}/" + names, "label": grade.astype(int)})


def collect(spec, raw: Path, *, seed: int, val_fraction: float = 0.1) -> Collected:
    for part, folder in IMAGE_DIRS.items():
        require_dir(spec, raw / ROOT / folder, f"the {part} images")
    train, val = stratified_holdout(read_labels(spec, raw, "train"), val_fraction, seed, spec.name, "val")
    frame = pd.concat([train.assign(split="train"), val.assign(split="val"),
                       read_labels(spec, raw, "test").assign(split="test")])
    return Collected(class_names=list(spec.class_names), splits=[frame], images=FileImages(raw),
                     protocol_description=(f"official train/test; {val_fraction:.0%} of train held out as "
                                           "a seeded stratified val set"))
