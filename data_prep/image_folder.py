"""Generic: RAW/{class}/* (seeded stratified splits) or RAW/{train,[val],test}/{class}/* (given split)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_prep.collected import Collected, FileImages
from data_prep.errors import DataPrepError
from data_prep.layouts import class_folders, split_class_folders
from data_prep.splitting import random_split, stratified_holdout


def add_arguments(parser) -> None:
    from data_prep.cli import name_list
    group = parser.add_argument_group("image_folder options")
    group.add_argument("--classes", type=name_list, help="class folder names in ordinal order, comma-separated (required)")
    group.add_argument("--val-fraction", type=float, help="share used for val when not given by folders (default 0.1)")
    group.add_argument("--test-fraction", type=float, help="share used for test when not given by folders (default 0.2)")
    group.add_argument("--n-splits", type=int, help="seeded random splits when no split folders exist (default 1)")


def collect(spec, raw: Path, *, seed: int, classes: list[str] | None = None, val_fraction: float = 0.1,
            test_fraction: float = 0.2, n_splits: int = 1) -> Collected:
    if not classes or len(classes) < 2:
        raise DataPrepError(f"{spec.name}: option 'classes' must list at least two class folder names in "
                            f"ordinal order (e.g. --classes mild,moderate,severe), got {classes}")
    classes = [str(name) for name in classes]
    images = FileImages(raw)
    if (raw / "train").is_dir():
        given = [split for split in ("train", "val", "test") if (raw / split).is_dir()]
        if "test" not in given:
            raise DataPrepError(f"{spec.name}: {raw} has a train/ folder but no test/ folder; provide "
                                "train/[val/]test/{class}/ folders, or one folder per class without train/")
        frame = split_class_folders(spec, raw, classes, tuple(given))
        if "val" in given:
            return Collected(classes, [frame], "given train/val/test folders", images, protocol_kind="official")
        train, val = stratified_holdout(frame[frame["split"] == "train"], val_fraction, seed, spec.name, "val")
        frame = pd.concat([train, val.assign(split="val"), frame[frame["split"] == "test"]])
        return Collected(classes, [frame], f"given train/test folders; seeded stratified {val_fraction:.0%} val "
                         "from train", images, protocol_kind="official")
    pool = class_folders(spec, raw, classes, raw)
    splits = [random_split(pool, val_fraction, test_fraction, seed + k, spec.name) for k in range(n_splits)]
    return Collected(classes, splits, f"{n_splits} seeded stratified random split(s), val {val_fraction:.0%}, "
                     f"test {test_fraction:.0%}", images, protocol_kind="random_splits")
