"""Evaluate a finished training run with its best checkpoint.

Writes (atomically) ``predictions.csv`` (per image: path, true, pred, p_0..p_{K-1}),
``confusion.csv`` (rows: true class, columns: predicted class) and, last, ``metrics.json``
(its presence marks the job complete).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .checkpoint import atomic_write_csv, atomic_write_json, load_checkpoint
from .data import BatchTransform, load_prepared
from .engine import Engine, Objective
from .errors import ClocError
from .models import FeaturesAndLogits, create_model

log = logging.getLogger("cloc.evaluate")


def evaluate_run(run_dir: str | Path, split_name: str = "test", prepared: str | Path | None = None,
                 device: str | None = None) -> dict:
    from .metrics import METRICS, compute_metrics, confusion
    from .train import resolve_device

    run = Path(run_dir)
    info_path = run / "run.json"
    if not info_path.is_file():
        raise ClocError(f"{run} is not a training run folder (no run.json); run `cloc train ... --out {run}` first")
    info = json.loads(info_path.read_text())
    if not info.get("finished"):
        raise ClocError(
            f"the training run in {run} has not finished (epochs run: {info.get('epochs_run')}); "
            f"re-run the same `cloc train` command to resume it"
        )
    best_path = run / "best.pt"
    if not best_path.is_file():
        raise ClocError(f"{best_path} is missing; re-run the same `cloc train` command")
    if split_name not in ("train", "val", "test"):
        raise ClocError(f"--split-name must be train, val or test, got {split_name!r}")
    ident = info["identity"]
    K = int(info["num_classes"])
    prepared = Path(prepared) if prepared is not None else Path(info["prepared"])
    which = tuple(dict.fromkeys(["val", "test", split_name]))
    data = load_prepared(prepared, ident["split"], which=which)
    if data.num_classes != K:
        raise ClocError(f"{prepared} has {data.num_classes} classes but the run was trained with {K}")
    dev = resolve_device(device or ("cuda" if info["device"].startswith("cuda") and torch.cuda.is_available() else "cpu"))
    model = create_model(ident["backbone"], K, "none")
    best = load_checkpoint(best_path)
    model.load_state_dict(best["model"])
    model.to(dev)
    channels_last = bool(info.get("channels_last")) and dev.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    te = BatchTransform(info["image_size"], info["mean"], info["std"], "none", channels_last=channels_last)
    engine = Engine(FeaturesAndLogits(model, False), Objective(None), None, dev, te, te,
                    amp=info.get("amp", "none") if dev.type == "cuda" else "none")

    results = {}
    preds = {}
    for name in which:
        part = data.splits[name]
        if len(part) == 0:
            if name in ("test", split_name):
                raise ClocError(f"split {ident['split']} of {prepared} has no {name} images to evaluate")
            results[name] = None
            continue
        logits = engine.predict(part, 256)
        probs = torch.softmax(logits, 1).numpy().astype(np.float64)
        y_true = part.labels.numpy()
        y_pred = probs.argmax(1)
        results[name] = compute_metrics(y_true, y_pred, K, probs=probs)
        preds[name] = (part.paths, y_true, y_pred, probs)

    paths, y_true, y_pred, probs = preds[split_name]
    pdf = pd.DataFrame({"path": paths, "true": y_true, "pred": y_pred})
    for k in range(K):
        pdf[f"p_{k}"] = probs[:, k]
    cm = confusion(y_true, y_pred, K)
    cdf = pd.DataFrame(cm, columns=[str(k) for k in range(K)])
    cdf.insert(0, "true", range(K))
    suffix = "" if split_name == "test" else f"_{split_name}"
    atomic_write_csv(run / f"predictions{suffix}.csv", pdf)
    atomic_write_csv(run / f"confusion{suffix}.csv", cdf)

    metrics = {
        **ident,
        "identity": ident,
        "test": results["test"],
        "val": results["val"],
        "epochs_run": info["epochs_run"],
        "best_epoch": info["best_epoch"],
        "stop_reason": info["stop_reason"],
        "wall_time_s": info["wall_time_s"],
        "train_images_per_s": info["train_images_per_s"],
        "device": info["device"],
        "versions": info["versions"],
        "git_commit": info["git_commit"],
        "config_hash": info["config_hash"],
        "num_classes": K,
        "class_names": data.class_names,
        "higher_is_better": {k: METRICS[k].higher_is_better for k in results["test"]},
    }
    if info.get("margins") is not None:
        metrics["margins"] = info["margins"]
    atomic_write_json(run / "metrics.json", metrics)
    log.info("%s: test %s", run, ", ".join(f"{k} {v:.4f}" for k, v in results["test"].items()))
    return metrics
