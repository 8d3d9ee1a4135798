import pandas as pd
import pytest

from data_prep import DataPrepError, prepare
from data_prep.adience import age_group

from prep_helpers import ADIENCE_HEADER, adience_row


@pytest.mark.parametrize("age, expected", [
    ("(0, 2)", 0), ("(4, 6)", 1), ("(8, 12)", 2), ("(8, 13)", 2), ("(15, 20)", 3), ("(25, 32)", 4),
    ("(27, 32)", 4), ("(38, 43)", 5), ("(38, 42)", 5), ("(48, 53)", 6), ("(60, 100)", 7),
    ("5", 1), ("13", 2), (" 57 ", "age between groups"), ("35", "age between groups"),
    ("None", "age missing (None)"), ("(8, 23)", "age range spanning groups"),
    ("(38, 48)", "age range spanning groups"),
])
def test_age_strings_map_to_groups_or_drop_reasons(age, expected):
    assert age_group(age) == expected


def test_unreadable_age_raises():
    with pytest.raises(ValueError):
        age_group("thirty")


def test_five_subject_disjoint_folds(adience_raw, tmp_path):
    info = prepare("adience", adience_raw, tmp_path / "out", size=8)
    assert info["protocol"]["kind"] == "folds" and info["splits"] == [0, 1, 2, 3, 4]
    # Per fold and user: 4 messy rows dropped -> None, two spanning ranges, one age between groups.
    assert info["dropped"] == {"age missing (None)": 10, "age range spanning groups": 20,
                               "age between groups": 10}
    folds = {k: pd.read_csv(tmp_path / "out" / f"split{k}.csv", dtype=str) for k in range(5)}
    test_sets = [set(frame.loc[frame["split"] == "test", "path"]) for frame in folds.values()]
    assert all(a.isdisjoint(b) for i, a in enumerate(test_sets) for b in test_sets[i + 1:])
    for k, frame in folds.items():
        assert set(frame.columns) == {"path", "label", "split", "group"}
        roles = frame.groupby("group")["split"].nunique()
        assert (roles == 1).all()  # no subject in two of train/val/test
        assert (frame.loc[frame["split"] == "test", "group"].str.startswith(str(k))).all()
        assert set(frame["split"]) == {"train", "val", "test"}
    fold0_test = folds[0][folds[0]["split"] == "test"]
    assert len(fold0_test) == 2 * 10  # 8 groups + the aliases "5" and "(8, 13)", per user
    assert fold0_test["path"].str.match(r"aligned/0\d@N00/landmark_aligned_face\.\d+\.\d+_abc\.jpg").all()
    assert info["counts"]["split0"]["test"] == [2, 4, 4, 2, 2, 2, 2, 2]


def test_unknown_age_names_the_file_and_line(adience_raw, tmp_path):
    fold = adience_raw / "fold_2_data.txt"
    fold.write_text(fold.read_text() + adience_row("20@N02", 999, "x.jpg", "about ten") + "\n")
    with pytest.raises(DataPrepError, match=r"fold_2_data\.txt: unknown age values(.|\n)*about ten"):
        prepare("adience", adience_raw, tmp_path / "out", size=8)


def test_subject_in_two_folds_is_an_error(adience_raw, tmp_path):
    fold = adience_raw / "fold_3_data.txt"
    lines = fold.read_text().splitlines()
    lines.append(lines[1].replace("30@N03", "00@N00").replace("\t1", "\t1", 1))
    fold.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataPrepError, match=r"same subject \(group\)(.|\n)*00@N00"):
        prepare("adience", adience_raw, tmp_path / "out", size=8)


def test_missing_fold_file_says_where_the_data_is_published(adience_raw, tmp_path):
    (adience_raw / "fold_4_data.txt").unlink()
    with pytest.raises(DataPrepError, match=r"adience: expected fold file fold_4_data\.txt at .*talhassner"):
        prepare("adience", adience_raw, tmp_path / "out", size=8)


def test_missing_header_column_is_named(adience_raw, tmp_path):
    (adience_raw / "fold_1_data.txt").write_text(ADIENCE_HEADER.replace("face_id", "faceid") + "\n")
    with pytest.raises(DataPrepError, match=r"fold_1_data\.txt lacks column\(s\) \['face_id'\]"):
        prepare("adience", adience_raw, tmp_path / "out", size=8)


def test_missing_image_is_named(adience_raw, tmp_path):
    victim = sorted((adience_raw / "aligned").rglob("*.jpg"))[0]
    victim.unlink()
    with pytest.raises(DataPrepError, match=f"unreadable image(.|\n)*{victim.name}"):
        prepare("adience", adience_raw, tmp_path / "out", size=8)
