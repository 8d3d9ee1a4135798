import json

import pandas as pd
import pytest

from data_prep import DataPrepError, apply_bias, prepare

from prep_helpers import SMALL_SYNTHETIC


@pytest.fixture
def clean(tmp_path):
    out = tmp_path / "syn"
    prepare("synthetic", out=out, n_splits=2, **SMALL_SYNTHETIC)
    return out


def test_relabels_a_seeded_fraction_of_train_only(clean, tmp_path):
    out = tmp_path / "syn_bias"
    info = apply_bias(clean, out, from_class=1, to_class=2, fraction=0.5, seed=3)
    for k in (0, 1):
        before, after = (pd.read_csv(folder / f"split{k}.csv") for folder in (clean, out))
        assert before["path"].equals(after["path"]) and before["split"].equals(after["split"])
        changed = before["label"] != after["label"]
        assert set(before.loc[changed, "split"]) == {"train"}
        assert (before.loc[changed, "label"] == 1).all() and (after.loc[changed, "label"] == 2).all()
        n_class1 = ((before["split"] == "train") & (before["label"] == 1)).sum()
        assert changed.sum() == round(0.5 * n_class1) == info["bias"]["relabelled"][f"split{k}"]["train"]
    on_disk = json.loads((out / "dataset.json").read_text())
    assert on_disk["name"] == "syn_bias" and on_disk["bias"]["fraction"] == 0.5
    assert on_disk["bias"]["splits"] == ["train"] and on_disk["bias"]["from_name"] == "S1"
    source = json.loads((clean / "dataset.json").read_text())
    assert on_disk["counts"]["split0"]["val"] == source["counts"]["split0"]["val"]
    assert on_disk["counts"]["split0"]["train"] != source["counts"]["split0"]["train"]
    assert on_disk["content_hash"] != source["content_hash"] and source["bias"] is None
    assert (out / "images.npy").stat().st_ino == (clean / "images.npy").stat().st_ino  # hard link
    assert (out / "synthetic_latent.csv").exists()


def test_same_seed_same_relabelling_and_class_names_work(clean, tmp_path):
    apply_bias(clean, tmp_path / "a", 1, 2, 0.3, seed=5)
    apply_bias(clean, tmp_path / "b", "S1", "S2", 0.3, seed=5)
    apply_bias(clean, tmp_path / "c", 1, 2, 0.3, seed=6)
    a, b, c = (pd.read_csv(tmp_path / name / "split0.csv") for name in "abc")
    assert a.equals(b) and not a.equals(c)


def test_chosen_splits_including_val(clean, tmp_path):
    source = json.loads((clean / "dataset.json").read_text())["counts"]["split0"]
    info = apply_bias(clean, tmp_path / "out", 3, 4, 0.5, splits=["train", "val"])
    counts = info["bias"]["relabelled"]["split0"]
    assert counts == {"train": round(0.5 * source["train"][3]), "val": round(0.5 * source["val"][3])}
    assert info["counts"]["split0"]["val"][3] == source["val"][3] - counts["val"]
    assert info["counts"]["split0"]["test"] == source["test"]


@pytest.mark.parametrize("kwargs, message", [
    ({"from_class": 2, "to_class": 2}, "same class"),
    ({"from_class": 9}, "neither a class index"),
    ({"to_class": "S9"}, "neither a class index"),
    ({"fraction": 1.5}, r"fraction must be in \[0, 1\]"),
    ({"splits": ["holdout"]}, "splits must be a non-empty subset"),
    ({"fraction": 1.0}, r"classes with no training images: 1 \(S1\)"),
])
def test_bad_bias_parameters(clean, tmp_path, kwargs, message):
    arguments = {"from_class": 1, "to_class": 2, "fraction": 0.5, **kwargs}
    with pytest.raises(DataPrepError, match=message):
        apply_bias(clean, tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()


def test_source_must_be_prepared_and_stay_clean(clean, tmp_path):
    with pytest.raises(DataPrepError, match="is not a prepared dataset"):
        apply_bias(tmp_path / "nothing", tmp_path / "out", 1, 2, 0.5)
    with pytest.raises(DataPrepError, match="--out must differ from --source"):
        apply_bias(clean, clean, 1, 2, 0.5)
