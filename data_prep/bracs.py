"""BRACS RoIs: {train,val,test}/{0_N,1_PB,2_UDH,3_FEA,4_ADH,5_DCIS,6_IC}/*.png."""
from __future__ import annotations

from pathlib import Path

from data_prep.collected import Collected, FileImages
from data_prep.layouts import split_class_folders

CLASS_FOLDERS = ["0_N", "1_PB", "2_UDH", "3_FEA", "4_ADH", "5_DCIS", "6_IC"]


def collect(spec, raw: Path, *, seed: int) -> Collected:
    frame = split_class_folders(spec, raw, CLASS_FOLDERS)
    return Collected(class_names=list(spec.class_names), splits=[frame], images=FileImages(raw),
                     protocol_description="official train/val/test folders")
