"""Prepared-dataset loading and batched tensor augmentation.

A prepared dataset (see docs/architecture.md) is read once: the selected split's uint8 images are
gathered from the memory-mapped ``images.npy`` into one (N, 3, H, W) uint8 tensor in RAM. Batches
are sliced from it, moved to the device as uint8 and augmented there in one batched
``affine_grid``/``grid_sample`` call (random resized crop + horizontal flip), so no PIL or
per-image Python runs per step.

Every random draw of the data pipeline comes from a per-batch ``torch.Generator`` seeded from
(job seed, epoch, batch index), so the data order and augmentation are identical whether a job
runs through or is resumed from a checkpoint, and whatever the number of loader workers.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .errors import ClocError

_MIX = 0x9E3779B97F4A7C15


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (stable across runs and platforms)."""
    h = 0x12345678
    for p in parts:
        h = (h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * _MIX & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
    return h & 0x7FFFFFFFFFFFFFFF


@dataclass
class SplitData:
    images: torch.Tensor  # (N, 3, H, W) uint8, CPU
    labels: torch.Tensor  # (N,) int64, CPU
    paths: list[str]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class PreparedDataset:
    root: Path
    meta: dict
    name: str
    num_classes: int
    class_names: list[str]
    image_size: int
    splits: dict[str, SplitData]


def read_dataset_meta(root: str | Path) -> dict:
    root = Path(root)
    meta_path = root / "dataset.json"
    if not root.is_dir():
        raise ClocError(
            f"prepared dataset folder {root} does not exist; create it with "
            f"`python -m data_prep NAME --raw RAW --out {root}` or fix --prepared"
        )
    if not meta_path.is_file():
        raise ClocError(
            f"{root} is not a prepared dataset (no dataset.json); run `python -m data_prep` "
            f"to prepare it, or point --prepared at the folder that holds dataset.json"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise ClocError(f"{meta_path} is not valid JSON ({e}); re-run data_prep for this dataset") from None
    for key in ("num_classes",):
        if key not in meta:
            raise ClocError(f"{meta_path} lacks '{key}'; re-run data_prep for this dataset")
    return meta


def load_prepared(root: str | Path, split: int, which=("train", "val", "test")) -> PreparedDataset:
    """Load split ``split`` of a prepared dataset (only the parts in ``which``)."""
    root = Path(root)
    meta = read_dataset_meta(root)
    K = int(meta["num_classes"])
    if K < 2:
        raise ClocError(f"{root}/dataset.json says num_classes={K}; ordinal classification needs >= 2")
    csv_path = root / f"split{split}.csv"
    if not csv_path.is_file():
        avail = sorted(int(p.stem[5:]) for p in root.glob("split*.csv") if p.stem[5:].isdigit())
        raise ClocError(
            f"split {split} not found in {root} (no {csv_path.name}); available splits: "
            f"{avail if avail else 'none'}"
        )
    df = pd.read_csv(csv_path, dtype={"path": str})
    missing = {"path", "label", "split"} - set(df.columns)
    if missing:
        raise ClocError(f"{csv_path} lacks column(s) {sorted(missing)}; re-run data_prep")
    if len(df) and (df["label"].min() < 0 or df["label"].max() >= K):
        raise ClocError(
            f"{csv_path} has labels outside [0, {K - 1}] (num_classes={K} in dataset.json); re-run data_prep"
        )
    cache = meta.get("cache") or {}
    img_path = root / cache.get("images", "images.npy")
    idx_path = root / cache.get("index", "images_index.csv")
    for p in (img_path, idx_path):
        if not p.is_file():
            raise ClocError(f"image cache file {p} is missing; re-run data_prep for {root}")
    arr = np.load(img_path, mmap_mode="r")
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ClocError(f"{img_path} must be uint8 (N, H, W, 3), got {arr.dtype} {arr.shape}; re-run data_prep")
    index = pd.read_csv(idx_path, dtype={"path": str})
    row_of = dict(zip(index["path"], index["row"].astype(np.int64)))
    splits: dict[str, SplitData] = {}
    for name in which:
        part = df[df["split"] == name]
        paths = part["path"].tolist()
        try:
            rows = np.fromiter((row_of[p] for p in paths), dtype=np.int64, count=len(paths))
        except KeyError as e:
            raise ClocError(f"image {e.args[0]!r} of {csv_path.name} is not in {idx_path.name}; re-run data_prep") from None
        if len(rows) and (rows.min() < 0 or rows.max() >= arr.shape[0]):
            raise ClocError(f"{idx_path.name} points outside {img_path.name}; re-run data_prep")
        # read in sorted row order (sequential on disk), then restore the split's order
        order = np.argsort(rows, kind="stable")
        buf = np.empty((len(rows),) + arr.shape[1:], dtype=np.uint8)
        if len(rows):
            buf[order] = arr[rows[order]]
        images = torch.from_numpy(buf).permute(0, 3, 1, 2).contiguous()
        labels = torch.from_numpy(np.array(part["label"], dtype=np.int64))
        splits[name] = SplitData(images, labels, paths)
    return PreparedDataset(
        root=root,
        meta=meta,
        name=str(meta.get("name") or root.name),
        num_classes=K,
        class_names=list(meta.get("class_names") or [str(i) for i in range(K)]),
        image_size=int(arr.shape[1]),
        splits=splits,
    )


# ---------------------------------------------------------------------------- augmentation
class BatchTransform:
    """uint8 (B,3,H,W) on device -> normalised float (B,3,S,S), optionally augmented.

    Training: one affine grid per image implements random resized crop (area fraction in
    ``crop_scale``, aspect ratio in ``crop_ratio``, torchvision's sampling) and horizontal flip,
    resampled bilinearly to ``size`` in a single ``grid_sample``. Evaluation: resize only (none
    when the cache size already equals ``size``).
    """

    def __init__(self, size: int, mean, std, augment: str = "none", crop_scale=(0.6, 1.0),
                 crop_ratio=(0.75, 4 / 3), channels_last: bool = False):
        self.size = int(size)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.inv_std = 1.0 / (torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0)
        self.augment = augment
        self.crop = augment in ("crop", "crop_flip")
        self.flip = augment in ("flip", "crop_flip")
        self.crop_scale = tuple(crop_scale)
        self.log_ratio = (math.log(crop_ratio[0]), math.log(crop_ratio[1]))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self._dev = None

    def _consts(self, device):
        if self._dev != device:
            self.mean = self.mean.to(device)
            self.inv_std = self.inv_std.to(device)
            self._dev = device
        return self.mean, self.inv_std

    def sample_params(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """(n, 2, 3) affine thetas on CPU, drawn from ``generator`` (None: no augmentation)."""
        if not (self.crop or self.flip) or n == 0:
            return None
        theta = torch.zeros(n, 2, 3)
        sx = torch.ones(n)
        sy = torch.ones(n)
        if self.crop:
            u = torch.rand(n, 4, generator=generator)
            area = self.crop_scale[0] + (self.crop_scale[1] - self.crop_scale[0]) * u[:, 0]
            logr = self.log_ratio[0] + (self.log_ratio[1] - self.log_ratio[0]) * u[:, 1]
            ratio = torch.exp(logr)
            sx = torch.sqrt(area * ratio).clamp(max=1.0)  # crop width / image width
            sy = torch.sqrt(area / ratio).clamp(max=1.0)
            tx = (1 - sx) * (2 * u[:, 2] - 1)  # centre offset in [-1+sx, 1-sx]
            ty = (1 - sy) * (2 * u[:, 3] - 1)
            theta[:, 0, 2] = tx
            theta[:, 1, 2] = ty
        if self.flip:
            f = torch.rand(n, generator=generator) < 0.5
            sx = torch.where(f, -sx, sx)
        theta[:, 0, 0] = sx
        theta[:, 1, 1] = sy
        return theta

    def __call__(self, x_uint8: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        mean, inv_std = self._consts(x_uint8.device)
        x = x_uint8.float()
        if theta is not None:
            grid = F.affine_grid(theta.to(x.device), [x.shape[0], 3, self.size, self.size], align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        elif x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.size)
        x = (x - mean) * inv_std
        return x.contiguous(memory_format=self.memory_format)


class TrainBatches(torch.utils.data.Dataset):
    """Epoch-level batch plan: item i -> (uint8 images, labels, theta) of batch i.

    The permutation and the augmentation parameters are drawn from generators seeded by
    (seed, epoch) and (seed, epoch, i), so any worker computes the same batch. The last
    incomplete batch is dropped when it would hold a single image (BatchNorm cannot train on it).
    """

    def __init__(self, data: SplitData, batch_size: int, seed: int, epoch: int, transform: BatchTransform):
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = epoch
        self.transform = transform
        g = torch.Generator().manual_seed(derive_seed(seed, 1, epoch))
        self.perm = torch.randperm(len(data), generator=g)
        n = len(data)
        nb = n // batch_size
        if n % batch_size >= 2:
            nb += 1
        self.n_batches = max(nb, 1) if n >= 2 else 0

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, i: int):
        idx = self.perm[i * self.batch_size:(i + 1) * self.batch_size]
        g = torch.Generator().manual_seed(derive_seed(self.seed, 2, self.epoch, i))
        theta = self.transform.sample_params(len(idx), g)
        return self.data.images[idx], self.data.labels[idx], theta


def iterate_train(batches: TrainBatches, workers: int, pin_memory: bool):
    if workers <= 0:
        for i in range(len(batches)):
            yield batches[i]
        return
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, shuffle=False, num_workers=workers, pin_memory=pin_memory,
        persistent_workers=False,
    )
    yield from loader


def iterate_eval(data: SplitData, batch_size: int):
    for s in range(0, len(data), batch_size):
        yield data.images[s:s + batch_size], data.labels[s:s + batch_size]
