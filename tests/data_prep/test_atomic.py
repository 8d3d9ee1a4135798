import json

import pytest

from data_prep import DataPrepError, prepare

from prep_helpers import SMALL_SYNTHETIC, write_corrupt


def leftovers(folder):
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_failed_run_leaves_no_folder_and_no_staging(knee_raw, tmp_path):
    write_corrupt(knee_raw / "train" / "0" / "zzz.png")
    out = tmp_path / "prepared" / "knee_oa"
    with pytest.raises(DataPrepError):
        prepare("knee_oa", knee_raw, out, size=8)
    assert not out.exists() and leftovers(out.parent) == []


def test_failed_rerun_keeps_the_previous_complete_folder(knee_raw, tmp_path):
    out = tmp_path / "prepared" / "knee_oa"
    first = prepare("knee_oa", knee_raw, out, size=8)
    write_corrupt(knee_raw / "train" / "0" / "zzz.png")
    with pytest.raises(DataPrepError):
        prepare("knee_oa", knee_raw, out, size=9)
    assert json.loads((out / "dataset.json").read_text())["content_hash"] == first["content_hash"]
    assert leftovers(out.parent) == []


def test_interrupted_write_leaves_no_partial_folder(tmp_path, monkeypatch):
    import data_prep.manifest

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data_prep.manifest, "write", crash)
    out = tmp_path / "syn"
    with pytest.raises(KeyboardInterrupt):
        prepare("synthetic", out=out, **SMALL_SYNTHETIC)
    assert not out.exists() and leftovers(tmp_path) == []


def test_success_replaces_the_previous_folder_completely(tmp_path):
    out = tmp_path / "syn"
    prepare("synthetic", out=out, n_splits=2, **SMALL_SYNTHETIC)
    prepare("synthetic", out=out, **SMALL_SYNTHETIC)
    assert not (out / "split1.csv").exists() and (out / "split0.csv").exists()
    assert leftovers(tmp_path) == []


def test_refuses_to_replace_a_folder_that_is_not_a_prepared_dataset(tmp_path):
    precious = tmp_path / "raw_photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"irreplaceable")
    with pytest.raises(DataPrepError, match="is not a prepared dataset folder"):
        prepare("synthetic", out=precious, **SMALL_SYNTHETIC)
    assert (precious / "holiday.jpg").read_bytes() == b"irreplaceable"
    (tmp_path / "empty").mkdir()
    prepare("synthetic", out=tmp_path / "empty", **SMALL_SYNTHETIC)  # an empty folder is fine
