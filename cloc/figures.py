"""Figures of an experiment (matplotlib, Agg backend), drawn from the tidy tables of
``cloc.aggregate``: ``runs.csv``, ``margin_trajectories.csv`` and ``confusion.csv``.

- ``margins_{dataset}_{backbone}.png``: phase-one adjacent margins per epoch, one line per
  boundary (mean over seeds and splits, band = min..max), one panel per CLOC method;
- ``confusion_{dataset}_{backbone}.png``: row-normalised test confusion (summed over seeds and
  splits), one panel per method;
- ``metrics_{dataset}.png``: mean ± std of the headline metrics per backbone and method.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from cloc.checkpoint import atomic_write_bytes

METHOD_ORDER = {"ce": 0, "cloc_mm": 1, "cloc_sm": 2}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _methods(values) -> list[str]:
    return sorted(set(values), key=lambda m: (METHOD_ORDER.get(m, 9), m))


def _final(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the final phase of each method (ce, phase 2) when several are present."""
    if "phase" not in df.columns:
        return df
    ph = df["phase"].astype(str)
    return df[(ph == "ce") | (ph == "2") | ~df["method"].isin(df.loc[ph == "2", "method"])]


def _save(fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def margin_trajectories(traj: pd.DataFrame, dataset: str, backbone: str, path: Path) -> Path:
    plt = _plt()
    t = traj[(traj["dataset"] == dataset) & (traj["backbone"] == backbone)]
    meths = _methods(t["method"]) or ["(no CLOC runs)"]
    fig, axes = plt.subplots(1, len(meths), figsize=(5 * len(meths), 3.6), squeeze=False, sharey=True)
    for ax, m in zip(axes[0], meths):
        g = t[t["method"] == m]
        for b, gb in g.groupby("boundary"):
            stat = gb.groupby("epoch")["margin"].agg(["mean", "min", "max"])
            line, = ax.plot(stat.index, stat["mean"], marker=".", label=f"{b}|{b + 1}")
            ax.fill_between(stat.index, stat["min"], stat["max"], alpha=0.15, color=line.get_color())
        n = g.groupby(["split", "seed"]).ngroups if not g.empty else 0
        ax.set_title(f"{m} (n={n})")
        ax.set_xlabel("epoch (phase one; 0 = initial)")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if not g.empty:
            ax.legend(title="boundary", fontsize=7, title_fontsize=7)
    axes[0][0].set_ylabel("adjacent margin")
    fig.suptitle(f"Learned margins: {dataset} / {backbone}")
    return _save(fig, path)


def confusion_matrices(conf: pd.DataFrame, dataset: str, backbone: str, path: Path) -> Path:
    plt = _plt()
    c = _final(conf[(conf["dataset"] == dataset) & (conf["backbone"] == backbone)])
    meths = _methods(c["method"]) or ["(no runs)"]
    fig, axes = plt.subplots(1, len(meths), figsize=(3.8 * len(meths), 3.6), squeeze=False)
    for ax, m in zip(axes[0], meths):
        g = c[c["method"] == m]
        if g.empty:
            ax.axis("off")
            continue
        k = int(max(g["true"].max(), g["pred"].max())) + 1
        mat = np.zeros((k, k))
        np.add.at(mat, (g["true"].astype(int), g["pred"].astype(int)), g["count"].astype(float))
        norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.6 else "black")
        ax.set_title(f"{m} (n={int(g['n_runs'].iloc[0])} runs)")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
    fig.suptitle(f"Test confusion (row-normalised): {dataset} / {backbone}")
    return _save(fig, path)


def metric_comparison(runs: pd.DataFrame, dataset: str, metrics: Sequence[str], path: Path) -> Path:
    plt = _plt()
    r = _final(runs[(runs["dataset"] == dataset) & (runs["subset"] == "test")])
    metrics = [m for m in metrics if m in set(r["metric"])] or sorted(set(r["metric"]))[:3]
    backbones = sorted(set(r["backbone"]))
    meths = _methods(r["method"])
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(4.2 * max(len(metrics), 1), 3.6), squeeze=False)
    width = 0.8 / max(len(meths), 1)
    for ax, metric in zip(axes[0], metrics):
        g = r[r["metric"] == metric]
        for i, m in enumerate(meths):
            stat = g[g["method"] == m].groupby("backbone")["value"].agg(["mean", "std"]).reindex(backbones)
            x = np.arange(len(backbones)) + (i - (len(meths) - 1) / 2) * width
            ax.bar(x, stat["mean"], width, yerr=stat["std"].fillna(0), capsize=3, label=m)
        ax.set_xticks(np.arange(len(backbones)))
        ax.set_xticklabels(backbones, fontsize=8)
        ax.set_title(metric)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Test metrics (mean ± std over seeds and splits): {dataset}")
    return _save(fig, path)


def write_all(runs_csv, trajectories_csv, confusion_csv, out_dir, metrics=("accuracy", "mae", "qwk")) -> list[Path]:
    """Every figure for each dataset (x backbone) present in the tables."""
    out = Path(out_dir)
    runs = pd.read_csv(runs_csv)
    traj = pd.read_csv(trajectories_csv)
    conf = pd.read_csv(confusion_csv)
    for df in (runs, conf):
        if "phase" in df.columns:
            df["phase"] = df["phase"].astype(str).replace({"1.0": "1", "2.0": "2"})
    written = []
    pairs = runs[["dataset", "backbone"]].drop_duplicates().itertuples(index=False)
    for ds, bb in sorted(pairs):
        if not traj.empty and ((traj["dataset"] == ds) & (traj["backbone"] == bb)).any():
            written.append(margin_trajectories(traj, ds, bb, out / f"margins_{ds}_{bb}.png"))
        written.append(confusion_matrices(conf, ds, bb, out / f"confusion_{ds}_{bb}.png"))
    for ds in sorted(set(runs["dataset"])):
        written.append(metric_comparison(runs, ds, metrics, out / f"metrics_{ds}.png"))
    return written
