"""Helpers that build tiny raw datasets in the published layouts (used by conftest and tests)."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

_counter = itertools.count()


def unique_number() -> int:
    return next(_counter)


def write_image(path: Path, size: tuple[int, int] = (6, 5)) -> Path:
    """A tiny image with unique random pixels (identical bytes across splits would be flagged)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(next(_counter)).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def write_corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is not really an image")
    return path


ADIENCE_HEADER = ("user_id\toriginal_image\tface_id\tage\tgender\tx\ty\tdx\tdy\ttilt_ang\t"
                  "fiducial_yaw_angle\tfiducial_score")
# One clean age string per group, using the published aliases and bare integers.
ADIENCE_AGES = ["(0, 2)", "(4, 6)", "(8, 12)", "(15, 20)", "(27, 32)", "(38, 42)", "(48, 53)", "(60, 100)"]
ADIENCE_MESSY = ["None", "(8, 23)", "(38, 48)", "35"]  # dropped: missing, two spanning ranges, between groups


def adience_row(user: str, face: int, image: str, age: str) -> str:
    return f"{user}\t{image}\t{face}\t{age}\tf\t10\t20\t300\t300\t0\t0\t80"


IDRID_IMAGES = "B. Disease Grading/1. Original Images"
IDRID_LABELS = "B. Disease Grading/2. Groundtruths"
IDRID_TRAIN_CSV = f"{IDRID_LABELS}/a. IDRiD_Disease Grading_Training Labels.csv"
IDRID_TEST_CSV = f"{IDRID_LABELS}/b. IDRiD_Disease Grading_Testing Labels.csv"


def write_idrid_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    """As published: trailing space in a header, empty trailing columns and blank rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["Image name,Retinopathy grade,Risk of macular edema ,,"]
    lines += [f"{name},{grade},0,," for name, grade in rows]
    lines += [",,,,", ",,,,"]
    path.write_text("\n".join(lines) + "\n")


SMALL_SYNTHETIC = {"n_train": 150, "n_val": 40, "n_test": 40}
