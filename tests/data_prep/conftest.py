"""Miniature raw datasets in each published layout, built in tmp_path from tiny unique images."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

# The venv's editable install may predate data_prep/__init__.py and then resolve `data_prep` as an
# empty namespace package when the repo root is not on sys.path (plain `pytest`); put the root first.
# This folder goes on the path too, for the shared helpers module.
for folder in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[2]):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from prep_helpers import (ADIENCE_AGES, ADIENCE_HEADER, ADIENCE_MESSY, IDRID_IMAGES,  # noqa: E402
                          IDRID_TEST_CSV, IDRID_TRAIN_CSV, adience_row, unique_number, write_idrid_csv,
                          write_image)


@pytest.fixture
def adience_raw(tmp_path) -> Path:
    """5 folds x 2 users; every user has one face per age group plus messy rows; fold 0 adds aliases."""
    raw = tmp_path / "adience"
    face = itertools.count(1)
    for fold in range(5):
        lines = [ADIENCE_HEADER]
        for user_number in range(2):
            user = f"{fold}{user_number}@N0{fold}"
            ages = ADIENCE_AGES + ADIENCE_MESSY + (["5", "(8, 13)"] if fold == 0 else [])
            for age in ages:
                number, image = next(face), f"{1000 + unique_number()}_abc.jpg"
                lines.append(adience_row(user, number, image, age))
                write_image(raw / "aligned" / user / f"landmark_aligned_face.{number}.{image}")
        (raw / f"fold_{fold}_data.txt").write_text("\n".join(lines) + "\n")
    return raw


@pytest.fixture
def hci_raw(tmp_path) -> Path:
    raw = tmp_path / "hci"
    for decade in ("1930s", "1940s", "1950s", "1960s", "1970s"):
        for index in range(6):
            write_image(raw / "decade_database" / decade / f"{index}.jpg")
    return raw


@pytest.fixture
def knee_raw(tmp_path) -> Path:
    raw = tmp_path / "knee"
    for split, per_class in (("train", 3), ("val", 1), ("test", 2), ("auto_test", 1)):
        for grade in range(5):
            for index in range(per_class):
                write_image(raw / split / str(grade) / f"9{grade}{index}{split[:2]}.png")
    return raw


@pytest.fixture
def bracs_raw(tmp_path) -> Path:
    raw = tmp_path / "bracs"
    for split, per_class in (("train", 2), ("val", 1), ("test", 1)):
        for name in ("0_N", "1_PB", "2_UDH", "3_FEA", "4_ADH", "5_DCIS", "6_IC"):
            for index in range(per_class):
                write_image(raw / split / name / f"BRACS_{index}_{name}_{split}.png")
    return raw


@pytest.fixture
def idrid_raw(tmp_path) -> Path:
    raw = tmp_path / "idrid"
    train = [(f"IDRiD_{index:03d}", str(index % 5)) for index in range(1, 31)]
    test = [(f"IDRiD_{index:03d}", str(index % 5)) for index in range(1, 11)]
    for name, _ in train:
        write_image(raw / IDRID_IMAGES / "a. Training Set" / f"{name}.jpg")
    for name, _ in test:
        write_image(raw / IDRID_IMAGES / "b. Testing Set" / f"{name}.jpg")
    write_idrid_csv(raw / IDRID_TRAIN_CSV, train)
    write_idrid_csv(raw / IDRID_TEST_CSV, test)
    return raw


@pytest.fixture
def class_folder_raw(tmp_path) -> Path:
    raw = tmp_path / "folders"
    for name in ("mild", "moderate", "severe"):
        for index in range(10):
            write_image(raw / name / f"{name}_{index}.png")
    return raw


@pytest.fixture(scope="session")
def synthetic_default(tmp_path_factory):
    """The default synthetic dataset, prepared once for the session: (folder, info, seconds taken)."""
    import time

    from data_prep import prepare
    out = tmp_path_factory.mktemp("prepared") / "synthetic"
    start = time.perf_counter()
    info = prepare("synthetic", out=out)
    return out, info, time.perf_counter() - start
