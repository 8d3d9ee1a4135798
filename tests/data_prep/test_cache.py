import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from data_prep import DataPrepError, prepare

from prep_helpers import write_corrupt, write_image


def images_inode(folder):
    return (folder / "images.npy").stat().st_ino


def test_cache_holds_every_image_resized_and_indexed(knee_raw, tmp_path):
    prepare("knee_oa", knee_raw, tmp_path / "out", size=12)
    images = np.load(tmp_path / "out" / "images.npy", mmap_mode="r")
    index = pd.read_csv(tmp_path / "out" / "images_index.csv")
    assert images.shape == (30, 12, 12, 3) and images.dtype == np.uint8
    path = "train/3/930tr.png"
    expected = np.asarray(Image.open(knee_raw / path).convert("RGB").resize((12, 12), Image.BILINEAR))
    assert np.array_equal(images[index.set_index("path").loc[path, "row"]], expected)


def test_cache_reused_when_nothing_changes(knee_raw, tmp_path):
    out = tmp_path / "out"
    first = prepare("knee_oa", knee_raw, out, size=8)
    inode = images_inode(out)
    second = prepare("knee_oa", knee_raw, out, size=8)
    assert not first["cache_reused"] and second["cache_reused"]
    assert images_inode(out) == inode and second["content_hash"] == first["content_hash"]


def test_cache_rebuilt_when_size_or_an_image_changes(knee_raw, tmp_path):
    out = tmp_path / "out"
    first = prepare("knee_oa", knee_raw, out, size=8)
    resized = prepare("knee_oa", knee_raw, out, size=10)
    assert not resized["cache_reused"] and resized["cache"]["shape"] == [30, 10, 10, 3]
    assert resized["content_hash"] == first["content_hash"]  # same inputs, different size
    write_image(knee_raw / "test" / "1" / "912te.png", size=(7, 7))  # new bytes for an existing file
    changed = prepare("knee_oa", knee_raw, out, size=10)
    assert not changed["cache_reused"] and changed["content_hash"] != first["content_hash"]


def test_new_seed_changes_splits_but_reuses_the_cache(idrid_raw, tmp_path):
    out = tmp_path / "out"
    first = prepare("idrid", idrid_raw, out, size=8, val_fraction=0.2, seed=0)
    second = prepare("idrid", idrid_raw, out, size=8, val_fraction=0.2, seed=1)
    assert second["cache_reused"] and second["content_hash"] != first["content_hash"]


def test_reused_cache_still_reports_corrupt_images(knee_raw, tmp_path):
    write_corrupt(knee_raw / "val" / "0" / "bad.png")
    out = tmp_path / "out"
    prepare("knee_oa", knee_raw, out, size=8, skip_corrupt=True)
    with pytest.raises(DataPrepError, match=r"val/0/bad\.png.*--skip-corrupt"):
        prepare("knee_oa", knee_raw, out, size=8)
    assert json.loads((out / "dataset.json").read_text())["skipped_corrupt"]["count"] == 1


def test_missing_cache_file_forces_a_rebuild(knee_raw, tmp_path):
    out = tmp_path / "out"
    prepare("knee_oa", knee_raw, out, size=8)
    (out / "images.npy").unlink()
    assert not prepare("knee_oa", knee_raw, out, size=8)["cache_reused"]
    assert np.load(out / "images.npy").shape == (30, 8, 8, 3)
