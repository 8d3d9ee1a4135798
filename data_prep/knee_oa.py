"""Knee OA (Kaggle release): {train,val,test}/{0..4}/*.png; an auto_test folder is ignored."""
from __future__ import annotations

from pathlib import Path

from data_prep.collected import Collected, FileImages
from data_prep.layouts import split_class_folders

GRADE_FOLDERS = ["0", "1", "2", "3", "4"]


def collect(spec, raw: Path, *, seed: int) -> Collected:
    frame = split_class_folders(spec, raw, GRADE_FOLDERS)
    return Collected(class_names=list(spec.class_names), splits=[frame], images=FileImages(raw),
                     protocol_description="official train/val/test folders (auto_test ignored)")
