"""Raw published layout -> canonical prepared folder (manifests, image cache, dataset.json)."""
from __future__ import annotations

import inspect
import json
from pathlib import Path

from data_prep import atomic, cache, manifest
from data_prep.collected import Collected
from data_prep.errors import DataPrepError, listing
from data_prep.hashing import stable_hash
from data_prep.registry import DatasetSpec, get

FORMAT_VERSION = 1


def prepare(name: str, raw: str | Path | None = None, out: str | Path | None = None, *,
            size: int | None = None, seed: int = 0, skip_corrupt: bool = False,
            dataset_name: str | None = None, **options) -> dict:
    """Prepare dataset `name` from `raw` into `out`; returns the written dataset.json content.

    `options` are the adapter's keyword options (see `python -m data_prep NAME --help`).
    """
    spec = get(name)
    dataset_name = dataset_name or _default_name(spec, out)
    out = Path(out) if out is not None else Path("data/prepared") / dataset_name
    size = int(size or spec.default_size)
    if size < 1:
        raise DataPrepError(f"{name}: --size must be a positive number of pixels, got {size}")
    raw = _check_raw(spec, raw)
    collected = _collect(spec, raw, seed, size, options)

    paths = collected.all_paths()
    digests = cache.compute_digests(collected.images, paths)
    for k, frame in enumerate(collected.splits):
        manifest.validate(frame, collected.class_names, name, k, digests)
    cache_key = cache.images_key(digests, size)
    content_hash = stable_hash({
        "adapter": name, "seed": seed, "options": options, "class_names": collected.class_names,
        "manifests": [manifest.tidy(frame).to_csv(index=False) for frame in collected.splits],
        "images": sorted(digests.items())})

    with atomic.staged_folder(out) as staging:
        previous = cache.reusable_cache(out, cache_key)
        if previous is not None:
            skipped = previous["skipped_corrupt"]["paths"]
            if skipped and not skip_corrupt:
                raise DataPrepError(f"{name}: corrupt or unreadable image(s) {listing(skipped)} "
                                    "(pass --skip-corrupt to skip and count them instead)")
            cache.reuse(out, staging)
        else:
            skipped = cache.build(staging, paths, collected.images, size, name, skip_corrupt)
        frames = [manifest.tidy(frame[~frame["path"].isin(skipped)]) for frame in collected.splits]
        for k, frame in enumerate(frames):
            if skipped:
                manifest.validate(frame, collected.class_names, name, k)
            manifest.write(frame, staging, k)
        for file_name, table in collected.extra_files.items():
            table.to_csv(staging / file_name, index=False)
        info = {
            "name": dataset_name,
            "num_classes": len(collected.class_names),
            "class_names": list(collected.class_names),
            "source": {"adapter": name, "raw": None if raw is None else str(raw),
                       "homepage": spec.homepage, "seed": seed,
                       "options": json.loads(json.dumps(options, default=str))},
            "protocol": {"kind": collected.protocol_kind or spec.protocol, "n_splits": len(frames),
                         "description": collected.protocol_description},
            "splits": list(range(len(frames))),
            "counts": {f"split{k}": manifest.class_counts(frame, len(collected.class_names))
                       for k, frame in enumerate(frames)},
            "image_size": size,
            "cache": {"images": cache.IMAGES_FILE, "index": cache.INDEX_FILE,
                      "shape": [len(paths) - len(skipped), size, size, 3], "key": cache_key},
            "content_hash": content_hash,
            "bias": None,
            "dropped": dict(sorted(collected.dropped.items())),
            "details": collected.details,
            "skipped_corrupt": {"count": len(skipped), "paths": list(skipped)},
            "format_version": FORMAT_VERSION,
        }
        write_info(staging, info)
    info["cache_reused"] = previous is not None  # reported to the caller, not stored
    return info


def write_info(folder: Path, info: dict) -> None:
    (Path(folder) / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")


def read_info(folder: Path, dataset: str = "bias") -> dict:
    path = Path(folder) / "dataset.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataPrepError(f"{dataset}: {folder} is not a prepared dataset (no dataset.json); "
                            "prepare it first with `python -m data_prep NAME --raw ... --out ...`") from None
    except ValueError as error:
        raise DataPrepError(f"{dataset}: {path} is not valid JSON: {error}") from None


def _default_name(spec: DatasetSpec, out: str | Path | None) -> str:
    """Named datasets keep their registry name; generic adapters are named after their out folder."""
    generic = spec.class_names is None and spec.needs_raw
    return Path(out).name if generic and out is not None else spec.name


def _check_raw(spec: DatasetSpec, raw: str | Path | None) -> Path | None:
    if not spec.needs_raw:
        return None
    if raw is None:
        raise DataPrepError(f"{spec.name}: --raw is required (the folder holding the published data; "
                            f"the owners publish it at {spec.homepage})")
    raw = Path(raw)
    if not raw.is_dir():
        raise DataPrepError(f"{spec.name}: raw folder {raw} does not exist. "
                            f"The owners publish this dataset at {spec.homepage}")
    return raw


def _collect(spec: DatasetSpec, raw: Path | None, seed: int, size: int,
             options: dict) -> Collected:
    collect = spec.adapter().collect
    accepted = inspect.signature(collect).parameters
    unknown = sorted(set(options) - set(accepted) - {"spec", "raw", "seed", "size"})
    if unknown:
        known = sorted(set(accepted) - {"spec", "raw", "seed", "size"})
        raise DataPrepError(f"{spec.name}: unknown option(s) {unknown}; this adapter accepts {known}")
    if "size" in accepted:  # the synthetic generator renders directly at the cache size
        options = {**options, "size": size}
    collected = collect(spec, raw, seed=seed, **options)
    if spec.class_names is not None and tuple(collected.class_names) != spec.class_names:
        raise AssertionError(f"adapter {spec.name} disagrees with the registry's class names")
    return collected

