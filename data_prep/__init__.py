"""Ordinal datasets: published raw layouts -> canonical prepared folders (see docs/datasets.md)."""
from data_prep.bias import apply_bias
from data_prep.errors import DataPrepError
from data_prep.prepare import prepare
from data_prep.registry import DatasetSpec, registry

__all__ = ["DataPrepError", "DatasetSpec", "apply_bias", "prepare", "registry"]
