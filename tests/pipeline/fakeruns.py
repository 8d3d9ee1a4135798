"""Fabricated run folders (metrics.json, confusion.csv, margins.json, history.csv) for the
aggregation and figure tests: written in the engine's documented formats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

METRIC_NAMES = ["accuracy", "mae", "qwk", "amae", "mmae", "one_off_accuracy", "spearman", "rps"]


def write_run(root: Path, dataset="toy", split=0, backbone="bb", method="ce", seed=0, phase="ce",
              test=None, val=None, k=4, margins=None, epochs=3, folder=None) -> Path:
    """One run folder; the folder name is deliberately unrelated to the identity."""
    run = root / (folder or f"run_{dataset}_{split}_{backbone}_{method}_{seed}_{phase}")
    run.mkdir(parents=True, exist_ok=True)
    ident = dict(dataset=dataset, split=split, backbone=backbone, method=method, seed=seed, phase=phase)
    test = test or {m: 0.5 for m in METRIC_NAMES}
    metrics = dict(identity=ident, test=test, val=val or test, epochs_run=epochs, best_epoch=epochs - 1,
                   stop_reason="max_epochs", wall_time_s=1.5, train_images_per_s=100.0, device="cpu",
                   versions={"torch": "x", "timm": "y"}, git_commit="abc", config_hash="h")
    if margins is not None:
        metrics["margins"] = margins
    (run / "metrics.json").write_text(json.dumps(metrics))
    rng = np.random.default_rng(seed + 10 * split)
    mat = rng.integers(0, 10, size=(k, k)) + np.eye(k, dtype=int) * 20
    header = ",".join(["true"] + [str(i) for i in range(k)])
    lines = [header] + [",".join([str(i)] + [str(v) for v in row]) for i, row in enumerate(mat)]
    (run / "confusion.csv").write_text("\n".join(lines) + "\n")
    return run


def write_margins(root: Path, dataset="toy", split=0, backbone="bb", method="cloc_mm", seed=0,
                  margins=(0.5, 1.0, 0.7), epochs=3, folder=None) -> Path:
    run = root / (folder or f"p1_{dataset}_{split}_{backbone}_{method}_{seed}")
    run.mkdir(parents=True, exist_ok=True)
    ident = dict(dataset=dataset, split=split, backbone=backbone, method=method, seed=seed, phase=1)
    traj = [{"epoch": e, "margins": [m * (e + 1) / epochs for m in margins]} for e in range(epochs)]
    d = dict(identity=ident, method=method, margins=list(margins),
             learnable_map=[["fixed", m] for m in margins], trajectory=traj)
    p = run / "margins.json"
    p.write_text(json.dumps(d))
    return p
