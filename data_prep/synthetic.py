"""Embedded synthetic ordinal dataset: lesion-like blobs whose count, size and darkness grow with severity.

A latent severity t ~ U[0, 1) sets the class through K-1 unevenly spaced thresholds (narrow classes
are hard to tell from their neighbours). Annotators flip labels near a threshold to the class on the
other side with probability `annotator_noise * exp(-distance / noise_width)`. Everything is drawn
from one seeded generator, so a seed fixes the images, labels and splits.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_prep.collected import ArrayImages, Collected
from data_prep.errors import DataPrepError

GENERATOR_VERSION = 1
CLASS_WIDTH_PATTERN = (1.0, 0.45, 1.25, 0.65, 0.9)  # relative class widths on the severity axis
MAX_LESIONS = 7
RENDER_CHUNK = 256  # images rendered at once (bounds memory at large sizes)
TISSUE_RGB = np.array([0.86, 0.70, 0.72])
LESION_RGB = np.array([0.42, 0.10, 0.16])


def add_arguments(parser) -> None:
    from data_prep.cli import float_list
    group = parser.add_argument_group("synthetic options")
    group.add_argument("--num-classes", type=int, help="K (default 5)")
    group.add_argument("--n-train", type=int, help="training images (default 2000)")
    group.add_argument("--n-val", type=int, help="validation images (default 500)")
    group.add_argument("--n-test", type=int, help="test images (default 500)")
    group.add_argument("--thresholds", type=float_list, help="K-1 increasing severities in (0,1), comma-separated")
    group.add_argument("--annotator-noise", type=float, help="flip probability at a threshold (default 0.35)")
    group.add_argument("--noise-width", type=float, help="severity distance over which flips decay (default 0.03)")
    group.add_argument("--n-splits", type=int, help="number of seeded re-splits of the pool (default 1)")


def default_thresholds(num_classes: int) -> list[float]:
    widths = np.resize(CLASS_WIDTH_PATTERN, num_classes)
    return [round(float(edge), 4) for edge in np.cumsum(widths)[:-1] / widths.sum()]


def collect(spec, raw, *, seed: int, size: int = 32, num_classes: int = 5, n_train: int = 2000,
            n_val: int = 500, n_test: int = 500, thresholds: list[float] | None = None,
            annotator_noise: float = 0.35, noise_width: float = 0.03, n_splits: int = 1) -> Collected:
    thresholds = np.asarray(default_thresholds(num_classes) if thresholds is None else thresholds, float)
    _check(num_classes, thresholds, (n_train, n_val, n_test), annotator_noise, noise_width, n_splits)
    n_total = n_train + n_val + n_test
    rng = np.random.default_rng(seed)
    severity = rng.random(n_total)
    clean = np.searchsorted(thresholds, severity, side="right")
    labels = annotate(severity, clean, thresholds, annotator_noise, noise_width, rng)
    images = np.concatenate([render(severity[start:start + RENDER_CHUNK], size, rng)
                             for start in range(0, n_total, RENDER_CHUNK)])
    paths = [f"synthetic/{index:05d}" for index in range(n_total)]
    roles = np.repeat(["train", "val", "test"], [n_train, n_val, n_test])
    splits = []
    for k in range(n_splits):
        # Samples are i.i.d., so split 0 is simply generation order; later splits re-shuffle the pool.
        order = np.arange(n_total) if k == 0 else np.random.default_rng([seed, k]).permutation(n_total)
        split_of = np.empty(n_total, dtype=object)
        split_of[order] = roles
        splits.append(pd.DataFrame({"path": paths, "label": labels, "split": split_of}))
    class_names = [f"S{level}" for level in range(num_classes)]
    latent = pd.DataFrame({"path": paths, "severity": severity.round(6), "clean_label": clean,
                           "label": labels})
    return Collected(
        class_names=class_names, splits=splits, images=ArrayImages(paths, images),
        protocol_description=(f"{n_train}/{n_val}/{n_test} i.i.d. generated train/val/test images; "
                              f"{n_splits} seeded split(s) of the pool"),
        details={"generator_version": GENERATOR_VERSION, "thresholds": thresholds.tolist(),
                 "annotator_noise": annotator_noise, "noise_width": noise_width,
                 "label_flips": int((labels != clean).sum())},
        extra_files={"synthetic_latent.csv": latent})


def annotate(severity: np.ndarray, clean: np.ndarray, thresholds: np.ndarray, strength: float,
             width: float, rng: np.random.Generator) -> np.ndarray:
    """Noisy labels: near a threshold an annotator may pick the neighbouring class across it."""
    nearest = np.abs(severity[:, None] - thresholds[None, :]).argmin(axis=1)
    distance = np.abs(severity - thresholds[nearest])
    flip = rng.random(len(severity)) < strength * np.exp(-distance / width)
    across = np.where(severity < thresholds[nearest], nearest + 1, nearest)
    return np.where(flip, across, clean)


def render(severity: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 images (n, size, size, 3) showing severity through the lesions, plus nuisance variation."""
    n = len(severity)
    coords = (np.arange(size) + 0.5) / size
    y, x = np.meshgrid(coords, coords, indexing="ij")          # (H, W) in [0, 1)

    # Tissue background: jittered colour times a low-frequency texture of three random plane waves.
    angle, freq, phase = (rng.uniform(0, np.pi, (n, 3)), rng.uniform(1.5, 5, (n, 3)),
                          rng.uniform(0, 2 * np.pi, (n, 3)))
    waves = np.sin(2 * np.pi * freq[..., None, None]
                   * (np.cos(angle)[..., None, None] * x + np.sin(angle)[..., None, None] * y)
                   + phase[..., None, None])
    texture = 1 + 0.05 * waves.sum(axis=1)                      # (n, H, W)
    tissue = TISSUE_RGB + rng.normal(0, 0.04, (n, 3))
    image = tissue[:, None, None, :] * texture[..., None]

    # Lesions: more, larger and darker with severity; each a rotated elliptical Gaussian.
    count = np.clip(np.rint(1 + severity * (MAX_LESIONS - 1) + rng.uniform(-0.7, 0.7, n)), 1, MAX_LESIONS)
    active = np.arange(MAX_LESIONS)[None, :] < count[:, None]  # (n, M)
    radius = (0.04 + 0.07 * severity)[:, None] * rng.uniform(0.75, 1.25, (n, MAX_LESIONS))
    stretch = rng.uniform(0.7, 1.4, (n, MAX_LESIONS))
    theta = rng.uniform(0, np.pi, (n, MAX_LESIONS))
    centre_y, centre_x = rng.uniform(0.15, 0.85, (2, n, MAX_LESIONS))
    dy, dx = y - centre_y[..., None, None], x - centre_x[..., None, None]  # (n, M, H, W)
    along = np.cos(theta)[..., None, None] * dx + np.sin(theta)[..., None, None] * dy
    across = -np.sin(theta)[..., None, None] * dx + np.cos(theta)[..., None, None] * dy
    blob = np.exp(-0.5 * ((along / (radius * stretch)[..., None, None]) ** 2
                          + (across / (radius / stretch)[..., None, None]) ** 2))
    coverage = 1 - np.prod(1 - blob * active[..., None, None], axis=1)   # (n, H, W)
    darkness = (0.35 + 0.55 * severity) * rng.uniform(0.85, 1.15, n)
    alpha = np.clip(coverage * darkness[:, None, None], 0, 1)[..., None]
    lesion = LESION_RGB + rng.normal(0, 0.03, (n, 3))
    image = image * (1 - alpha) + lesion[:, None, None, :] * alpha

    # Acquisition: brightness/contrast jitter and sensor noise.
    contrast, brightness = rng.uniform(0.85, 1.15, n), rng.normal(0, 0.04, n)
    image = (image - 0.5) * contrast[:, None, None, None] + 0.5 + brightness[:, None, None, None]
    image += rng.normal(0, 0.025, image.shape)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def _check(num_classes, thresholds, counts, noise, width, n_splits) -> None:
    if num_classes < 2:
        raise DataPrepError(f"synthetic: num_classes must be at least 2, got {num_classes}")
    if len(thresholds) != num_classes - 1 or np.any(np.diff(thresholds) <= 0) \
            or thresholds.min() <= 0 or thresholds.max() >= 1:
        raise DataPrepError(f"synthetic: thresholds must be {num_classes - 1} increasing values in (0, 1), "
                            f"got {thresholds.tolist()}")
    if min(counts) < 1:
        raise DataPrepError(f"synthetic: train/val/test image counts must be positive, got {list(counts)}")
    if not 0 <= noise <= 1 or width <= 0:
        raise DataPrepError(f"synthetic: annotator_noise must be in [0, 1] and noise_width > 0, "
                            f"got {noise} and {width}")
    if n_splits < 1:
        raise DataPrepError(f"synthetic: n_splits must be at least 1, got {n_splits}")
