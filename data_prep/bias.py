"""Clinical decision bias: relabel a seeded fraction of class a as class b on chosen splits.

Reproduces the paper's synthetic experiment (cautious over-grading at a critical boundary). The
output is a complete prepared dataset sharing the source's image cache; val/test stay clean by default.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data_prep import atomic, cache, manifest
from data_prep.errors import DataPrepError
from data_prep.hashing import stable_hash
from data_prep.prepare import read_info, write_info


def resolve_class(value: int | str, class_names: list[str], what: str) -> int:
    """A class given by index or by name."""
    if str(value) in class_names:
        return class_names.index(str(value))
    try:
        index = int(value)
    except ValueError:
        index = -1
    if not 0 <= index < len(class_names):
        raise DataPrepError(f"bias: {what} {value!r} is neither a class index 0..{len(class_names) - 1} "
                            f"nor a class name {class_names}")
    return index


def apply_bias(source: str | Path, out: str | Path, from_class: int | str, to_class: int | str,
               fraction: float, splits: tuple[str, ...] | list[str] = ("train",), seed: int = 0,
               name: str | None = None) -> dict:
    """Write `out` = `source` with `fraction` of class `from_class` relabelled `to_class` on `splits`."""
    source, out = Path(source), Path(out)
    info = read_info(source)
    if source.resolve() == out.resolve():
        raise DataPrepError("bias: --out must differ from --source (the source stays clean)")
    class_names = info["class_names"]
    a = resolve_class(from_class, class_names, "from-class")
    b = resolve_class(to_class, class_names, "to-class")
    if a == b:
        raise DataPrepError(f"bias: from-class and to-class are the same class ({class_names[a]})")
    if not 0 <= fraction <= 1:
        raise DataPrepError(f"bias: fraction must be in [0, 1], got {fraction}")
    splits = list(dict.fromkeys(splits))
    unknown = [split for split in splits if split not in manifest.SPLITS]
    if unknown or not splits:
        raise DataPrepError(f"bias: splits must be a non-empty subset of {manifest.SPLITS}, got {splits}")

    frames, relabelled = [], {}
    for k in info["splits"]:
        try:
            frame = manifest.read(source, k)
        except FileNotFoundError:
            raise DataPrepError(f"bias: {source} lists split {k} but split{k}.csv is missing") from None
        rng = np.random.default_rng([seed, k])
        relabelled[f"split{k}"] = {}
        for split in splits:
            candidates = frame.index[(frame["split"] == split) & (frame["label"] == a)]
            chosen = rng.choice(candidates, size=int(round(fraction * len(candidates))), replace=False)
            frame.loc[chosen, "label"] = b
            relabelled[f"split{k}"][split] = len(chosen)
        manifest.validate(frame, class_names, f"bias of {info['name']}", k)
        frames.append(frame)

    parameters = {"from_class": a, "to_class": b, "from_name": class_names[a], "to_name": class_names[b],
                  "fraction": fraction, "splits": splits, "seed": seed}
    biased = {**info,
              "name": name or out.name,
              "counts": {f"split{k}": manifest.class_counts(frame, len(class_names))
                         for k, frame in zip(info["splits"], frames)},
              "content_hash": stable_hash({"source": info["content_hash"], "bias": parameters}),
              "bias": {**parameters, "source": str(source), "source_name": info["name"],
                       "source_content_hash": info["content_hash"], "source_bias": info.get("bias"),
                       "relabelled": relabelled}}
    with atomic.staged_folder(out) as staging:
        cache.reuse(source, staging)
        for extra in source.iterdir():  # side tables such as synthetic_latent.csv travel along
            if extra.is_file() and not (staging / extra.name).exists() and extra.name != "dataset.json" \
                    and not (extra.name.startswith("split") and extra.suffix == ".csv"):
                cache.link_or_copy(extra, staging / extra.name)
        for k, frame in zip(info["splits"], frames):
            manifest.write(frame, staging, k)
        write_info(staging, biased)
    return biased
