"""HCI (Historical Colour Image dating): decade_database/{1930s..1970s}/*.jpg, 10 seeded random splits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data_prep.collected import Collected, FileImages
from data_prep.errors import DataPrepError
from data_prep.layouts import class_folders, require_dir


def add_arguments(parser) -> None:
    group = parser.add_argument_group("hci options (per decade; the paper's protocol is 210/5/50 x 10)")
    group.add_argument("--n-train", type=int, help="training images per decade (default 210)")
    group.add_argument("--n-val", type=int, help="validation images per decade (default 5)")
    group.add_argument("--n-test", type=int, help="test images per decade (default 50)")
    group.add_argument("--n-splits", type=int, help="number of seeded random splits (default 10)")


def collect(spec, raw: Path, *, seed: int, n_train: int = 210, n_val: int = 5, n_test: int = 50,
            n_splits: int = 10) -> Collected:
    folder = require_dir(spec, raw / "decade_database", f"decade_database/ with sub-folders {list(spec.class_names)}")
    images = class_folders(spec, folder, list(spec.class_names), raw)
    needed = n_train + n_val + n_test
    available = images["label"].value_counts().reindex(range(len(spec.class_names)), fill_value=0)
    short = [f"{spec.class_names[label]} has {count}" for label, count in available.items() if count < needed]
    if short:
        raise DataPrepError(f"{spec.name}: each decade folder in {folder} needs at least {needed} images "
                            f"({n_train} train + {n_val} val + {n_test} test), but {', '.join(short)}")
    if n_splits < 1 or min(n_train, n_val, n_test) < 1:
        raise DataPrepError(f"{spec.name}: n_splits and per-decade counts must be positive")
    roles = np.repeat(["train", "val", "test"], [n_train, n_val, n_test])
    splits = []
    for k in range(n_splits):
        rng = np.random.default_rng([seed, k])
        parts = [rows.iloc[rng.permutation(len(rows))[:needed]].assign(split=roles)
                 for _, rows in images.groupby("label")]
        splits.append(pd.concat(parts))
    return Collected(
        class_names=list(spec.class_names), splits=splits, images=FileImages(raw),
        dropped={"left out of each split (more images than drawn)": int((available - needed).sum())} if (available > needed).any() else {},
        protocol_description=(f"{n_splits} seeded random splits, per decade {n_train} train / {n_val} val / "
                              f"{n_test} test"))
