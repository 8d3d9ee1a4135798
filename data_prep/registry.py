"""Registry of datasets: name -> adapter module, classes, protocol and where the owners publish it.

Adding a dataset is one adapter module (with `collect(spec, raw, seed, **options)` and optionally
`add_arguments(parser)`) plus one `_register(...)` line below.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from data_prep.errors import DataPrepError, listing


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    module: str                              # adapter module, imported lazily
    summary: str
    protocol: str                            # "folds" | "random_splits" | "official"
    n_splits: int | None                     # None: decided by options (generic adapters)
    homepage: str                            # where the owners publish the raw data
    class_names: tuple[str, ...] | None = None  # None: given by the config (generic adapters)
    default_size: int = 224
    needs_raw: bool = True

    @property
    def num_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    def adapter(self) -> ModuleType:
        return importlib.import_module(self.module)


registry: dict[str, DatasetSpec] = {}
RESERVED_NAMES = {"bias"}  # sub-commands of `python -m data_prep`


def _register(spec: DatasetSpec) -> None:
    assert spec.name not in RESERVED_NAMES and spec.name not in registry, spec.name
    registry[spec.name] = spec


def get(name: str) -> DatasetSpec:
    try:
        return registry[name]
    except KeyError:
        raise DataPrepError(
            f"unknown dataset {name!r}; registered datasets: {listing(sorted(registry), limit=50)}"
        ) from None


_register(DatasetSpec(
    name="synthetic", module="data_prep.synthetic",
    summary="embedded procedural ordinal 'severity' images (no download)",
    protocol="random_splits", n_splits=1, homepage="embedded in cloc-bench (data_prep/synthetic.py)",
    class_names=None, default_size=32, needs_raw=False))
_register(DatasetSpec(
    name="adience", module="data_prep.adience",
    summary="Adience faces, 8 age groups, official 5 subject-disjoint folds",
    protocol="folds", n_splits=5,
    homepage="https://talhassner.github.io/home/projects/Adience/Adience-data.html",
    class_names=("0-2", "4-6", "8-13", "15-20", "25-32", "38-43", "48-53", "60-100")))
_register(DatasetSpec(
    name="hci", module="data_prep.hci",
    summary="Historical Colour Image dating, 5 decades, 10 seeded random splits",
    protocol="random_splits", n_splits=10,
    homepage="http://graphics.cs.cmu.edu/projects/historicalColor/ (Palermo et al., ECCV 2012)",
    class_names=("1930s", "1940s", "1950s", "1960s", "1970s")))
_register(DatasetSpec(
    name="knee_oa", module="data_prep.knee_oa",
    summary="Knee osteoarthritis X-rays, Kellgren-Lawrence grades 0-4, official split",
    protocol="official", n_splits=1,
    homepage="https://www.kaggle.com/datasets/shashwatwork/knee-osteoarthritis-dataset-with-severity "
             "(from Chen, Mendeley Data 2018: https://data.mendeley.com/datasets/56rmx5bjcr/1)",
    class_names=("KL0", "KL1", "KL2", "KL3", "KL4")))
_register(DatasetSpec(
    name="idrid", module="data_prep.idrid",
    summary="IDRiD diabetic retinopathy grading 0-4, official train/test + stratified val",
    protocol="official", n_splits=1,
    homepage="https://ieee-dataport.org/open-access/indian-diabetic-retinopathy-image-dataset-idrid",
    class_names=("No DR", "Mild NPDR", "Moderate NPDR", "Severe NPDR", "PDR")))
_register(DatasetSpec(
    name="bracs", module="data_prep.bracs",
    summary="BRACS breast histology RoIs, 7 lesion types, official split",
    protocol="official", n_splits=1, homepage="https://www.bracs.icar.cnr.it/",
    class_names=("N", "PB", "UDH", "FEA", "ADH", "DCIS", "IC")))
_register(DatasetSpec(
    name="image_folder", module="data_prep.image_folder",
    summary="generic: one folder per class (ordered by --classes), optional train/val/test folders",
    protocol="random_splits", n_splits=None, homepage="your own data"))
_register(DatasetSpec(
    name="csv", module="data_prep.csv_table",
    summary="generic: a CSV with a path column and an ordinal label column",
    protocol="random_splits", n_splits=None, homepage="your own data"))
