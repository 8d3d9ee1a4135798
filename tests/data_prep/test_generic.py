
import pandas as pd
import pytest

from data_prep import DataPrepError, prepare

from prep_helpers import write_image


def test_image_folder_random_splits_follow_the_given_order(class_folder_raw, tmp_path):
    info = prepare("image_folder", class_folder_raw, tmp_path / "mine", size=8,
                   classes=["mild", "moderate", "severe"], val_fraction=0.2, test_fraction=0.2, n_splits=2)
    assert info["name"] == "mine" and info["class_names"] == ["mild", "moderate", "severe"]
    assert info["protocol"]["kind"] == "random_splits" and info["splits"] == [0, 1]
    assert info["counts"]["split0"] == {"train": [6] * 3, "val": [2] * 3, "test": [2] * 3}
    frame = pd.read_csv(tmp_path / "mine" / "split0.csv")
    assert (frame["label"] == frame["path"].str.split("/").str[0].map({"mild": 0, "moderate": 1, "severe": 2})).all()
    other = pd.read_csv(tmp_path / "mine" / "split1.csv")
    assert not frame.equals(other)


def test_image_folder_with_train_test_folders_carves_val(tmp_path):
    raw = tmp_path / "raw"
    for split, count in (("train", 5), ("test", 2)):
        for name in ("low", "high"):
            for index in range(count):
                write_image(raw / split / name / f"{index}.png")
    info = prepare("image_folder", raw, tmp_path / "out", size=8, classes=["low", "high"], val_fraction=0.4)
    assert info["protocol"]["kind"] == "official"
    assert info["counts"]["split0"] == {"train": [3, 3], "val": [2, 2], "test": [2, 2]}


def test_image_folder_needs_classes_and_rejects_unknown_folders(class_folder_raw, tmp_path):
    with pytest.raises(DataPrepError, match="option 'classes' must list"):
        prepare("image_folder", class_folder_raw, tmp_path / "out")
    with pytest.raises(DataPrepError, match=r"unknown class folder\(s\) severe"):
        prepare("image_folder", class_folder_raw, tmp_path / "out", classes=["mild", "moderate"])


def write_table(raw, rows, header="file,grade,subject,part"):
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "labels.csv").write_text(header + "\n" + "\n".join(",".join(row) for row in rows) + "\n")


@pytest.fixture
def csv_raw(tmp_path):
    raw = tmp_path / "csvdata"
    rows = []
    for subject in range(12):
        for level in ("none", "some", "lots"):
            path = f"img/s{subject}_{level}.png"
            write_image(raw / path)
            part = "test" if subject >= 9 else "val" if subject == 8 else "train"
            rows.append((path, level, f"s{subject}", part))
    write_table(raw, rows)
    return raw


def test_csv_named_levels_with_split_and_group_columns(csv_raw, tmp_path):
    info = prepare("csv", csv_raw, tmp_path / "out", size=8, csv="labels.csv", path_column="file",
                   label_column="grade", levels=["none", "some", "lots"], split_column="part",
                   group_column="subject")
    assert info["class_names"] == ["none", "some", "lots"] and info["protocol"]["kind"] == "official"
    assert info["counts"]["split0"] == {"train": [8] * 3, "val": [1] * 3, "test": [3] * 3}
    frame = pd.read_csv(tmp_path / "out" / "split0.csv")
    assert list(frame.columns) == ["path", "label", "split", "group"]


def test_csv_random_splits_keep_subjects_together(csv_raw, tmp_path):
    prepare("csv", csv_raw, tmp_path / "out", size=8, csv="labels.csv", path_column="file",
            label_column="grade", levels=["none", "some", "lots"], group_column="subject",
            val_fraction=0.2, test_fraction=0.25)
    frame = pd.read_csv(tmp_path / "out" / "split0.csv")
    assert (frame.groupby("group")["split"].nunique() == 1).all()
    assert set(frame["split"]) == {"train", "val", "test"}


def test_csv_integer_labels(tmp_path):
    raw = tmp_path / "ints"
    rows = []
    for index in range(30):
        write_image(raw / f"{index}.png")
        rows.append((f"{index}.png", str(index % 3), "x", "train"))
    write_table(raw, rows)
    info = prepare("csv", raw, tmp_path / "out", size=8, csv="labels.csv", path_column="file",
                   label_column="grade", val_fraction=0.2, test_fraction=0.2)
    assert info["class_names"] == ["0", "1", "2"]
    assert info["counts"]["split0"]["test"] == [2, 2, 2]


def test_csv_unknown_level_names_the_row(csv_raw, tmp_path):
    table = csv_raw / "labels.csv"
    table.write_text(table.read_text().replace("img/s3_some.png,some", "img/s3_some.png,sum"))
    with pytest.raises(DataPrepError, match=r"unknown labels in 'grade'(.|\n)*img/s3_some\.png +sum"):
        prepare("csv", csv_raw, tmp_path / "out", csv="labels.csv", path_column="file",
                label_column="grade", levels=["none", "some", "lots"], split_column="part")


def test_csv_subject_in_two_splits_names_the_rows(csv_raw, tmp_path):
    table = csv_raw / "labels.csv"
    table.write_text(table.read_text().replace("img/s9_lots.png,lots,s9,test", "img/s9_lots.png,lots,s0,test"))
    with pytest.raises(DataPrepError, match=r"same subject \(group\)(.|\n)*img/s9_lots\.png"):
        prepare("csv", csv_raw, tmp_path / "out", csv="labels.csv", path_column="file",
                label_column="grade", levels=["none", "some", "lots"], split_column="part",
                group_column="subject")


def test_csv_same_image_twice_names_the_rows(csv_raw, tmp_path):
    table = csv_raw / "labels.csv"
    table.write_text(table.read_text() + "img/s0_none.png,some,s0,train\n")
    with pytest.raises(DataPrepError, match=r"listed more than once(.|\n)*img/s0_none\.png"):
        prepare("csv", csv_raw, tmp_path / "out", csv="labels.csv", path_column="file",
                label_column="grade", levels=["none", "some", "lots"], split_column="part")


def test_csv_bad_split_value_and_missing_column(csv_raw, tmp_path):
    table = csv_raw / "labels.csv"
    with pytest.raises(DataPrepError, match=r"lacks column\(s\) \['label'\]"):
        prepare("csv", csv_raw, tmp_path / "out", csv="labels.csv", path_column="file")
    table.write_text(table.read_text().replace("s1,train", "s1,holdout"))
    with pytest.raises(DataPrepError, match=r"unknown values in 'part'(.|\n)*holdout"):
        prepare("csv", csv_raw, tmp_path / "out", csv="labels.csv", path_column="file",
                label_column="grade", levels=["none", "some", "lots"], split_column="part")
