import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from data_prep import DataPrepError, prepare, registry, synthetic

from prep_helpers import SMALL_SYNTHETIC

ARCHITECTURE_KEYS = {"name", "num_classes", "class_names", "source", "protocol", "splits", "counts",
                     "image_size", "cache", "content_hash", "bias"}


def test_default_prepared_folder_matches_the_architecture(synthetic_default):
    out, info, _ = synthetic_default
    on_disk = json.loads((out / "dataset.json").read_text())
    assert ARCHITECTURE_KEYS <= set(on_disk)
    assert on_disk["num_classes"] == 5 and on_disk["class_names"] == ["S0", "S1", "S2", "S3", "S4"]
    assert on_disk["protocol"] == {"kind": "random_splits", "n_splits": 1,
                                   "description": on_disk["protocol"]["description"]}
    assert on_disk["splits"] == [0] and on_disk["image_size"] == 32 and on_disk["bias"] is None
    counts = on_disk["counts"]["split0"]
    assert [sum(counts[s]) for s in ("train", "val", "test")] == [2000, 500, 500]
    assert min(counts["train"]) > 100  # every class well represented in training

    split = pd.read_csv(out / "split0.csv")
    assert list(split.columns) == ["path", "label", "split"]
    assert split["label"].between(0, 4).all() and len(split) == 3000

    images = np.load(out / "images.npy", mmap_mode="r")
    assert isinstance(images, np.memmap) and images.dtype == np.uint8
    assert list(images.shape) == on_disk["cache"]["shape"] == [3000, 32, 32, 3]
    index = pd.read_csv(out / "images_index.csv")
    assert set(index["path"]) == set(split["path"]) and sorted(index["row"]) == list(range(3000))


def test_generation_is_deterministic_per_seed():
    spec = registry["synthetic"]
    first, again = (synthetic.collect(spec, None, seed=3, **SMALL_SYNTHETIC) for _ in range(2))
    other = synthetic.collect(spec, None, seed=4, **SMALL_SYNTHETIC)
    assert np.array_equal(first.images.images, again.images.images)
    pd.testing.assert_frame_equal(first.splits[0], again.splits[0])
    assert not np.array_equal(first.images.images, other.images.images)


def test_default_preparation_takes_seconds(synthetic_default):
    _, _, seconds = synthetic_default
    assert seconds < 20  # about 1-3 s on a loaded 2-core machine


def test_thresholds_are_uneven_and_noise_only_flips_near_them(synthetic_default):
    out, info, _ = synthetic_default
    thresholds = np.array(info["details"]["thresholds"])
    widths = np.diff(np.concatenate([[0], thresholds, [1]]))
    assert widths.max() > 2 * widths.min()
    latent = pd.read_csv(out / "synthetic_latent.csv")
    flipped = latent[latent["label"] != latent["clean_label"]]
    assert 50 < len(flipped) < 600
    distance = np.abs(flipped["severity"].to_numpy()[:, None] - thresholds[None, :]).min(axis=1)
    assert distance.max() < 0.3 and np.median(distance) < 0.04
    assert (np.abs(flipped["label"] - flipped["clean_label"]) == 1).all()


def test_noise_free_labels_follow_thresholds():
    collected = synthetic.collect(registry["synthetic"], None, seed=1, annotator_noise=0.0, **SMALL_SYNTHETIC)
    latent = collected.extra_files["synthetic_latent.csv"]
    assert (latent["label"] == latent["clean_label"]).all()
    expected = np.searchsorted(collected.details["thresholds"], latent["severity"], side="right")
    assert (latent["clean_label"] == expected).all()


def test_learnable_but_not_trivial(synthetic_default):
    """Simple darkness statistics predict severity far above chance, but far from perfectly."""
    out, _, _ = synthetic_default
    images = np.load(out / "images.npy").astype(np.float32) / 255
    index = pd.read_csv(out / "images_index.csv").set_index("path")["row"]
    split = pd.read_csv(out / "split0.csv")
    darkness = 1 - images[index[split["path"]].to_numpy()].mean(axis=-1)
    features = np.stack([(darkness > level).mean(axis=(1, 2)) for level in (0.3, 0.4, 0.5, 0.6)], axis=1)
    train, test = (split["split"] == "train").to_numpy(), (split["split"] == "test").to_numpy()
    model = LogisticRegression(max_iter=1000).fit(features[train], split["label"][train])
    accuracy = model.score(features[test], split["label"][test])
    majority = split["label"][test].value_counts(normalize=True).max()
    assert majority + 0.2 < accuracy < 0.9


def test_more_splits_reshuffle_the_same_pool(tmp_path):
    info = prepare("synthetic", out=tmp_path / "syn", n_splits=3, **SMALL_SYNTHETIC)
    frames = [pd.read_csv(tmp_path / "syn" / f"split{k}.csv").set_index("path") for k in range(3)]
    assert info["splits"] == [0, 1, 2] and info["cache"]["shape"][0] == 230
    assert frames[0].index.sort_values().equals(frames[1].index.sort_values())
    assert (frames[0]["split"] != frames[1].loc[frames[0].index, "split"]).any()
    assert (frames[0]["label"] == frames[1].loc[frames[0].index, "label"]).all()


def test_custom_size_and_classes(tmp_path):
    info = prepare("synthetic", out=tmp_path / "syn", size=20, num_classes=3, thresholds=[0.3, 0.8],
                   **SMALL_SYNTHETIC)
    assert info["num_classes"] == 3 and info["cache"]["shape"] == [230, 20, 20, 3]
    assert info["details"]["thresholds"] == [0.3, 0.8]


@pytest.mark.parametrize("options, message", [
    ({"thresholds": [0.5, 0.4, 0.6, 0.7]}, "thresholds must be 4 increasing"),
    ({"thresholds": [0.5]}, "thresholds must be 4 increasing"),
    ({"num_classes": 1}, "num_classes must be at least 2"),
    ({"n_val": 0}, "counts must be positive"),
    ({"annotator_noise": 1.5}, "annotator_noise"),
    ({"colour": "red"}, "unknown option"),
])
def test_bad_options_are_rejected(tmp_path, options, message):
    with pytest.raises(DataPrepError, match=message):
        prepare("synthetic", out=tmp_path / "syn", **options)
    assert not (tmp_path / "syn").exists()
