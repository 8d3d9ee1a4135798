"""What an adapter hands back: the split manifests plus a source of images, before any caching."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
# Whole-slide RoIs (BRACS) exceed Pillow's decompression-bomb limit; the inputs are trusted datasets.
Image.MAX_IMAGE_PIXELS = None


class FileImages:
    """Images stored as files under a raw root; manifest paths are relative to it."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def digest(self, path: str) -> str | None:
        """sha256 of the file's bytes, None when it cannot be read (reported when decoding)."""
        try:
            return hashlib.sha256((self.root / path).read_bytes()).hexdigest()
        except OSError:
            return None

    def decode(self, path: str, size: int) -> np.ndarray:
        with Image.open(self.root / path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at reduced scale, much faster for big photos
            image = ImageOps.exif_transpose(image).convert("RGB")
            # Squash to a square (no crop) so no part of a lesion or face is ever cut away.
            return np.asarray(image.resize((size, size), Image.BILINEAR, reducing_gap=3.0), dtype=np.uint8)


class ArrayImages:
    """Images already in memory (the synthetic generator), keyed by id."""

    def __init__(self, paths: list[str], images: np.ndarray):
        self.rows = {path: row for row, path in enumerate(paths)}
        self.images = images

    def digest(self, path: str) -> str:
        return hashlib.sha256(self.images[self.rows[path]].tobytes()).hexdigest()

    def decode(self, path: str, size: int) -> np.ndarray:
        image = self.images[self.rows[path]]
        if image.shape[0] != size:
            image = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
        return image


@dataclass
class Collected:
    """Manifests for every split index k (columns path,label,split[,group]) and their images."""

    class_names: list[str]
    splits: list[pd.DataFrame]
    protocol_description: str
    images: FileImages | ArrayImages
    protocol_kind: str | None = None  # overrides the registry's kind (generic adapters decide per layout)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows left out on purpose
    details: dict = field(default_factory=dict)  # adapter-specific facts recorded in dataset.json
    extra_files: dict[str, pd.DataFrame] = field(default_factory=dict)  # file name -> table to write

    def all_paths(self) -> list[str]:
        return sorted(set().union(*(set(frame["path"]) for frame in self.splits)))
