import pandas as pd
import pytest

from data_prep import DataPrepError, prepare

from prep_helpers import IDRID_TEST_CSV, IDRID_TRAIN_CSV, write_idrid_csv


def test_official_split_with_stratified_val(idrid_raw, tmp_path):
    info = prepare("idrid", idrid_raw, tmp_path / "out", size=8, val_fraction=0.2)
    counts = info["counts"]["split0"]
    assert [t + v for t, v in zip(counts["train"], counts["val"])] == [6] * 5
    assert sum(counts["val"]) == 6 and min(counts["val"]) == 1  # stratified: every grade in val
    assert counts["test"] == [2] * 5
    frame = pd.read_csv(tmp_path / "out" / "split0.csv")
    test_paths = frame.loc[frame["split"] == "test", "path"]
    assert test_paths.str.startswith("B. Disease Grading/1. Original Images/b. Testing Set/IDRiD_").all()
    assert frame.loc[frame["path"].str.endswith("IDRiD_007.jpg") & (frame["split"] == "test"), "label"].item() == 2


def test_header_spacing_variants_and_names_with_suffix(idrid_raw, tmp_path):
    path = idrid_raw / IDRID_TEST_CSV
    path.write_text(path.read_text().replace("edema ,", "edema,").replace("IDRiD_001,", "IDRiD_001.jpg,"))
    path = idrid_raw / IDRID_TRAIN_CSV
    path.write_text(path.read_text().replace("Image name,Retinopathy grade,", "Image name ,Retinopathy grade ,"))
    info = prepare("idrid", idrid_raw, tmp_path / "out", size=8, val_fraction=0.2)
    assert sum(info["counts"]["split0"]["test"]) == 10


def test_unknown_grade_names_the_row(idrid_raw, tmp_path):
    write_idrid_csv(idrid_raw / IDRID_TEST_CSV, [("IDRiD_001", "1"), ("IDRiD_002", "7")])
    with pytest.raises(DataPrepError, match=r"Testing Labels\.csv: unknown retinopathy grades(.|\n)*3 +IDRiD_002 +7"):
        prepare("idrid", idrid_raw, tmp_path / "out", size=8, val_fraction=0.2)


def test_missing_ground_truth(idrid_raw, tmp_path):
    (idrid_raw / IDRID_TRAIN_CSV).unlink()
    with pytest.raises(DataPrepError, match=r"idrid: expected the train ground-truth CSV at .*ieee-dataport"):
        prepare("idrid", idrid_raw, tmp_path / "out", size=8, val_fraction=0.2)


def test_listed_image_missing_from_disk(idrid_raw, tmp_path):
    write_idrid_csv(idrid_raw / IDRID_TEST_CSV,
                    [(f"IDRiD_{index:03d}", str(index % 5)) for index in range(1, 11)] + [("IDRiD_404", "0")])
    with pytest.raises(DataPrepError, match=r"Testing Set/IDRiD_404\.jpg"):
        prepare("idrid", idrid_raw, tmp_path / "out", size=8, val_fraction=0.2)
