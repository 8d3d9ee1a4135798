import shutil

import pandas as pd
import pytest

from data_prep import DataPrepError, prepare

from prep_helpers import write_corrupt


def test_knee_oa_official_split_ignores_auto_test(knee_raw, tmp_path):
    info = prepare("knee_oa", knee_raw, tmp_path / "out", size=8)
    assert info["protocol"]["kind"] == "official" and info["splits"] == [0]
    assert info["counts"]["split0"] == {"train": [3] * 5, "val": [1] * 5, "test": [2] * 5}
    frame = pd.read_csv(tmp_path / "out" / "split0.csv")
    assert not frame["path"].str.startswith("auto_test").any()
    assert (frame["label"] == frame["path"].str.split("/").str[1].astype(int)).all()
    assert (frame["split"] == frame["path"].str.split("/").str[0]).all()


def test_knee_oa_missing_split_folder(knee_raw, tmp_path):
    shutil.rmtree(knee_raw / "val")
    with pytest.raises(DataPrepError, match=r"knee_oa: expected the val folder .* at .*/val.*kaggle"):
        prepare("knee_oa", knee_raw, tmp_path / "out", size=8)


def test_knee_oa_class_without_training_images(knee_raw, tmp_path):
    shutil.rmtree(knee_raw / "train" / "4")
    with pytest.raises(DataPrepError, match=r"classes with no training images: 4 \(KL4\)"):
        prepare("knee_oa", knee_raw, tmp_path / "out", size=8)


def test_knee_oa_empty_split(knee_raw, tmp_path):
    for grade in range(5):
        shutil.rmtree(knee_raw / "test" / str(grade))
    with pytest.raises(DataPrepError, match="the test split is empty"):
        prepare("knee_oa", knee_raw, tmp_path / "out", size=8)


def test_corrupt_image_is_named_or_skipped_and_counted(knee_raw, tmp_path):
    write_corrupt(knee_raw / "train" / "2" / "broken.png")
    with pytest.raises(DataPrepError, match=r"1 corrupt or unreadable(.|\n)*train/2/broken\.png"):
        prepare("knee_oa", knee_raw, tmp_path / "out", size=8)
    assert not (tmp_path / "out").exists()

    info = prepare("knee_oa", knee_raw, tmp_path / "out", size=8, skip_corrupt=True)
    assert info["skipped_corrupt"] == {"count": 1, "paths": ["train/2/broken.png"]}
    assert info["cache"]["shape"] == [30, 8, 8, 3]
    frame = pd.read_csv(tmp_path / "out" / "split0.csv")
    index = pd.read_csv(tmp_path / "out" / "images_index.csv")
    assert "train/2/broken.png" not in set(frame["path"]) | set(index["path"])
    assert sorted(index["row"]) == list(range(30)) and set(index["path"]) == set(frame["path"])


def test_bracs_seven_classes_in_order(bracs_raw, tmp_path):
    info = prepare("bracs", bracs_raw, tmp_path / "out", size=8)
    assert info["class_names"] == ["N", "PB", "UDH", "FEA", "ADH", "DCIS", "IC"]
    assert info["counts"]["split0"] == {"train": [2] * 7, "val": [1] * 7, "test": [1] * 7}
    frame = pd.read_csv(tmp_path / "out" / "split0.csv")
    assert (frame["label"] == frame["path"].str.split("/").str[1].str[0].astype(int)).all()


def test_bracs_unknown_class_folder(bracs_raw, tmp_path):
    (bracs_raw / "train" / "7_XX").mkdir()
    with pytest.raises(DataPrepError, match=r"bracs: unknown class folder\(s\) 7_XX in .*/train"):
        prepare("bracs", bracs_raw, tmp_path / "out", size=8)


def test_identical_image_in_two_splits_is_named(bracs_raw, tmp_path):
    shutil.copy(bracs_raw / "train" / "3_FEA" / "BRACS_0_3_FEA_train.png", bracs_raw / "test" / "3_FEA" / "copy.png")
    with pytest.raises(DataPrepError, match=r"same image content(.|\n)*test/3_FEA/copy\.png"):
        prepare("bracs", bracs_raw, tmp_path / "out", size=8)
