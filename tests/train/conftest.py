"""Fixtures for the training-engine tests: a tiny prepared dataset in the data_prep layout."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

torch.set_num_threads(1)


def make_prepared(root: Path, K: int = 4, n_per_class=(40, 10, 10), size: int = 16, seed: int = 0,
                  name: str = "toy") -> Path:
    """A tiny prepared dataset in the data_prep layout: class k = brighter blob + noise."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows, imgs = [], []
    yy, xx = np.mgrid[0:size, 0:size]
    for split, n in zip(("train", "val", "test"), n_per_class):
        for k in range(K):
            for i in range(n):
                cx, cy = rng.uniform(size * 0.3, size * 0.7, 2)
                r = size * (0.15 + 0.1 * k)
                blob = ((xx - cx) ** 2 + (yy - cy) ** 2 < r * r).astype(np.float32)
                img = 60 + 150 * blob[..., None] * np.array([1.0, 0.4 + 0.2 * k, 0.8]) + rng.normal(0, 20, (size, size, 3))
                imgs.append(np.clip(img, 0, 255).astype(np.uint8))
                rows.append({"path": f"img/{split}_{k}_{i}.png", "label": k, "split": split})
    images = np.stack(imgs)
    perm = rng.permutation(len(images))  # cache order differs from split order
    np.save(root / "images.npy", images[perm])
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    pd.DataFrame({"path": [r["path"] for r in rows], "row": inv}).to_csv(root / "images_index.csv", index=False)
    pd.DataFrame(rows).to_csv(root / "split0.csv", index=False)
    meta = {"name": name, "num_classes": K, "class_names": [f"c{k}" for k in range(K)],
            "image_size": size, "splits": [0],
            "cache": {"images": "images.npy", "index": "images_index.csv", "shape": list(images.shape)},
            "content_hash": f"toy{seed}{K}{size}"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    return make_prepared(tmp_path_factory.mktemp("prep") / "toy")


@pytest.fixture(scope="session")
def prepared_k3(tmp_path_factory):
    return make_prepared(tmp_path_factory.mktemp("prep3") / "toy3", K=3, n_per_class=(8, 4, 4), name="toy3")
