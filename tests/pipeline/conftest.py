"""Pipeline tests: helpers live in pipeline_helpers.py and fakeruns.py (importable because this
folder is put on sys.path here; the suite runs with --import-mode=importlib)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def workdir(tmp_path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d
