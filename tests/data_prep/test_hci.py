import pandas as pd
import pytest

from data_prep import DataPrepError, prepare

SMALL = {"n_train": 3, "n_val": 1, "n_test": 1, "n_splits": 3}


def test_per_decade_counts_and_seeded_random_splits(hci_raw, tmp_path):
    info = prepare("hci", hci_raw, tmp_path / "out", size=8, seed=7, **SMALL)
    assert info["protocol"] == {"kind": "random_splits", "n_splits": 3,
                                "description": "3 seeded random splits, per decade 3 train / 1 val / 1 test"}
    assert info["class_names"] == ["1930s", "1940s", "1950s", "1960s", "1970s"]
    for k in range(3):
        assert info["counts"][f"split{k}"] == {"train": [3] * 5, "val": [1] * 5, "test": [1] * 5}
    assert info["dropped"] == {"left out of each split (more images than drawn)": 5}  # 6 per decade, 5 drawn
    frames = [pd.read_csv(tmp_path / "out" / f"split{k}.csv") for k in range(3)]
    assert not frames[0].equals(frames[1])
    labels = frames[0].set_index("path")["label"]
    assert all(labels[path] == int(path.split("/")[1][2]) - 3 for path in labels.index)

    again = prepare("hci", hci_raw, tmp_path / "again", size=8, seed=7, **SMALL)
    assert again["content_hash"] == info["content_hash"]
    assert pd.read_csv(tmp_path / "again" / "split2.csv").equals(frames[2])


def test_paper_defaults_need_265_images_per_decade(hci_raw, tmp_path):
    with pytest.raises(DataPrepError, match=r"needs at least 265 images \(210 train \+ 5 val \+ 50 test\).*1930s has 6"):
        prepare("hci", hci_raw, tmp_path / "out", size=8)


def test_unknown_decade_folder_is_an_error(hci_raw, tmp_path):
    (hci_raw / "decade_database" / "1980s").mkdir()
    with pytest.raises(DataPrepError, match=r"unknown class folder\(s\) 1980s"):
        prepare("hci", hci_raw, tmp_path / "out", size=8, **SMALL)


def test_missing_layout_names_the_folder_and_the_owners(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataPrepError, match=r"hci: expected decade_database/.*graphics\.cs\.cmu\.edu"):
        prepare("hci", tmp_path / "empty", tmp_path / "out", size=8, **SMALL)
