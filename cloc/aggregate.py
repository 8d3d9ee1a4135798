"""Aggregate per-run outputs into the comparison tables of an experiment.

Inputs are the per-run files written by ``cloc train`` / ``cloc evaluate``: ``metrics.json`` (with
its sibling ``confusion.csv``) and phase one's ``margins.json``. Job identity (dataset, split,
backbone, method, seed, phase) is read from those files, never parsed from paths.

Outputs (``write_all``), in the experiment's results folder:

- ``runs.csv``: tidy, one row per job x subset (test/val) x metric, plus run metadata;
- ``summary.csv``: tidy, one row per dataset x backbone x method x phase x metric: ``n``, ``mean``,
  ``std`` (sample std, ddof=1; empty with one run), paired difference to ``ce`` over matching
  (split, seed) with the test used (``wilcoxon`` with >= 6 pairs, ``paired_t`` with 2..5,
  ``none`` with fewer, ``no_baseline`` when ce is missing) and its two-sided p-value, and
  ``best`` (the best mean within dataset x backbone by the metric's direction);
- ``summary.md`` / ``summary.tex`` / ``summary.html``: the same, formatted for reading;
- ``margins.csv``: learned adjacent margins per dataset x backbone x method x boundary;
- ``margin_trajectories.csv`` and ``confusion.csv``: tidy inputs of ``cloc.figures``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from cloc.checkpoint import atomic_write_text
from cloc.metrics import METRICS

IDENTITY = ["dataset", "split", "backbone", "method", "seed", "phase"]
GROUP = ["dataset", "backbone", "method", "phase"]
BASELINE = "ce"
WILCOXON_MIN_PAIRS = 6
META = [
    "epochs_run", "best_epoch", "stop_reason", "wall_time_s", "train_images_per_s", "device",
    "git_commit", "config_hash",
]


def higher_is_better(metric: str) -> bool | None:
    """Direction of a metric from the `cloc.metrics.METRICS` registry (None if unknown)."""
    m = METRICS.get(metric)
    return None if m is None else bool(m.higher_is_better)


def _phase(value) -> str:
    s = str(value)
    return {"1.0": "1", "2.0": "2"}.get(s, s)


def _identity(d: dict, source: str) -> dict:
    ident = d.get("identity", d)
    missing = [k for k in IDENTITY if k not in ident]
    if missing:
        raise ValueError(f"{source}: identity lacks {missing} (found {sorted(ident)})")
    out = {k: ident[k] for k in IDENTITY}
    out["split"], out["seed"], out["phase"] = int(out["split"]), int(out["seed"]), _phase(out["phase"])
    return out


# ------------------------------------------------------------------------------------ reading
def read_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """runs.csv rows from metrics.json files."""
    rows = []
    for p in paths:
        p = Path(p)
        d = json.loads(p.read_text())
        ident = _identity(d, str(p))
        meta = {k: d.get(k) for k in META}
        for name, version in (d.get("versions") or {}).items():
            meta[f"version_{name}"] = version
        meta["run_dir"] = str(p.parent)
        for subset in ("test", "val"):
            for metric, value in (d.get(subset) or {}).items():
                if isinstance(value, (int, float)) or value is None:
                    rows.append({**ident, "subset": subset, "metric": metric,
                                 "value": np.nan if value is None else float(value), **meta})
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=IDENTITY + ["subset", "metric", "value"] + META + ["run_dir"])
    return df.sort_values(IDENTITY + ["subset", "metric"], kind="stable").reset_index(drop=True)


def read_margins(paths: Iterable[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(final margins, trajectories), tidy, from phase one's margins.json files."""
    final, traj = [], []
    for p in paths:
        p = Path(p)
        d = json.loads(p.read_text())
        ident = _identity(d, str(p))
        for i, m in enumerate(d.get("margins") or []):
            final.append({**ident, "boundary": i, "margin": float(m)})
        for point in d.get("trajectory") or []:
            for i, m in enumerate(point.get("margins") or []):
                traj.append({**ident, "epoch": int(point["epoch"]), "boundary": i, "margin": float(m)})
    cols = IDENTITY + ["boundary", "margin"]
    return (
        pd.DataFrame(final, columns=cols),
        pd.DataFrame(traj, columns=IDENTITY + ["epoch", "boundary", "margin"]),
    )


def read_confusion_matrix(path: str | Path) -> np.ndarray:
    """A confusion matrix (rows true, columns predicted) from ``confusion.csv``: either a square
    matrix (optionally with a leading index column) or long columns true/pred/count."""
    df = pd.read_csv(path)
    cols = {c.lower(): c for c in df.columns}
    if {"true", "pred", "count"} <= set(cols) or {"true", "predicted", "count"} <= set(cols):
        t, pcol = cols["true"], cols.get("pred", cols.get("predicted"))
        k = int(max(df[t].max(), df[pcol].max())) + 1
        m = np.zeros((k, k), dtype=np.int64)
        for a, b, c in zip(df[t], df[pcol], df[cols["count"]]):
            m[int(a), int(b)] += int(c)
        return m
    if df.shape[1] == df.shape[0] + 1:  # leading index/label column
        df = df.iloc[:, 1:]
    m = df.to_numpy()
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"{path}: confusion matrix is not square: {m.shape}")
    return m.astype(np.int64)


def read_confusions(metrics_paths: Iterable[str | Path]) -> pd.DataFrame:
    """Tidy confusion counts summed over splits and seeds per dataset x backbone x method x phase."""
    acc: dict[tuple, np.ndarray] = {}
    n: dict[tuple, int] = {}
    for p in metrics_paths:
        p = Path(p)
        cpath = p.parent / "confusion.csv"
        if not cpath.exists():
            continue
        ident = _identity(json.loads(p.read_text()), str(p))
        key = tuple(ident[k] for k in GROUP)
        m = read_confusion_matrix(cpath)
        if key in acc and acc[key].shape != m.shape:
            raise ValueError(f"{cpath}: {m.shape} differs from other runs {acc[key].shape}")
        acc[key] = acc.get(key, 0) + m
        n[key] = n.get(key, 0) + 1
    rows = []
    for key, m in acc.items():
        for t in range(m.shape[0]):
            for q in range(m.shape[1]):
                rows.append({**dict(zip(GROUP, key)), "true": t, "pred": q,
                             "count": int(m[t, q]), "n_runs": n[key]})
    return pd.DataFrame(rows, columns=GROUP + ["true", "pred", "count", "n_runs"])


# ----------------------------------------------------------------------------------- statistics
def paired_test(values: Sequence[float], baseline: Sequence[float]) -> tuple[float, str, float]:
    """(mean difference, test name, two-sided p) of paired samples ``values - baseline``.

    Wilcoxon signed-rank with >= 6 pairs, paired t-test with 2..5 pairs, ``none`` below.
    All-zero differences give p = 1; a constant non-zero difference gives an undefined (NaN)
    p-value for the t-test.
    """
    from scipy import stats

    d = np.asarray(values, float) - np.asarray(baseline, float)
    d = d[~np.isnan(d)]
    n = len(d)
    if n == 0:
        return math.nan, "none", math.nan
    diff = float(d.mean())
    if n < 2:
        return diff, "none", math.nan
    if np.all(d == 0):
        return diff, "wilcoxon" if n >= WILCOXON_MIN_PAIRS else "paired_t", 1.0
    if n >= WILCOXON_MIN_PAIRS:
        return diff, "wilcoxon", float(stats.wilcoxon(d).pvalue)
    if np.all(d == d[0]):
        return diff, "paired_t", math.nan
    return diff, "paired_t", float(stats.ttest_1samp(d, 0.0).pvalue)  # == ttest_rel


def summarize(runs: pd.DataFrame, subset: str = "test", baseline: str = BASELINE) -> pd.DataFrame:
    """summary.csv from the tidy runs table."""
    df = runs[runs["subset"] == subset]
    cols = GROUP + ["metric", "higher_is_better", "n", "mean", "std", "diff_vs_ce", "n_pairs",
                    "test", "p_value", "best"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (ds, bb, meth, ph, metric), g in df.groupby(GROUP + ["metric"], sort=True):
        vals = g["value"].astype(float)
        row = {"dataset": ds, "backbone": bb, "method": meth, "phase": ph, "metric": metric,
               "higher_is_better": higher_is_better(metric), "n": int(vals.notna().sum()),
               "mean": float(vals.mean()),
               "std": float(vals.std(ddof=1)) if vals.notna().sum() > 1 else math.nan}
        if meth == baseline:
            row.update(diff_vs_ce=math.nan, n_pairs=math.nan, test="baseline", p_value=math.nan)
        else:
            base = df[(df["dataset"] == ds) & (df["backbone"] == bb) & (df["method"] == baseline)
                      & (df["metric"] == metric)]
            if base.empty:
                row.update(diff_vs_ce=math.nan, n_pairs=0, test="no_baseline", p_value=math.nan)
            else:
                merged = g.merge(base, on=["split", "seed"], suffixes=("", "_ce"))
                diff, test, p = paired_test(merged["value"], merged["value_ce"])
                row.update(diff_vs_ce=diff, n_pairs=int(len(merged)), test=test, p_value=p)
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols[:-1])
    out["best"] = False
    for _, g in out.groupby(["dataset", "backbone", "metric"]):
        hib = g["higher_is_better"].iloc[0]
        means = g["mean"].dropna()
        if hib is None or means.empty or len(g) < 2:
            continue
        target = means.max() if hib else means.min()
        out.loc[means.index[np.isclose(means, target, rtol=0, atol=1e-12)], "best"] = True
    return out[cols]


def summarize_margins(final: pd.DataFrame) -> pd.DataFrame:
    """margins.csv: per dataset x backbone x method x boundary, mean/std over seeds and splits of
    the learned margin and of its share of the run's total margin."""
    cols = ["dataset", "backbone", "method", "boundary", "classes", "n", "mean", "std",
            "share_mean", "share_std"]
    if final.empty:
        return pd.DataFrame(columns=cols)
    f = final.copy()
    f["share"] = f["margin"] / f.groupby(IDENTITY)["margin"].transform("sum")
    rows = []
    for (ds, bb, meth, b), g in f.groupby(["dataset", "backbone", "method", "boundary"], sort=True):
        n = len(g)
        rows.append({"dataset": ds, "backbone": bb, "method": meth, "boundary": int(b),
                     "classes": f"{b}|{b + 1}", "n": n, "mean": g["margin"].mean(),
                     "std": g["margin"].std(ddof=1) if n > 1 else math.nan,
                     "share_mean": g["share"].mean(),
                     "share_std": g["share"].std(ddof=1) if n > 1 else math.nan})
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------------------------ formatting
def _num(x: float, digits: int = 3) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _cell(row, latex=False, bold=True) -> str:
    s = _num(row["mean"])
    if not math.isnan(row["std"]):
        s += (r" $\pm$ " if latex else " ± ") + _num(row["std"])
    if bold and row["best"]:
        s = rf"\textbf{{{s}}}" if latex else f"**{s}**"
    return s


_TEST_ABBR = {"wilcoxon": "W", "paired_t": "t", "none": "", "no_baseline": "no ce", "baseline": ""}


def _delta(row, latex=False) -> str:
    if row["test"] == "baseline":
        return "(baseline)" if not latex else "--"
    if row["test"] == "no_baseline":
        return "no ce"
    if math.isnan(row["diff_vs_ce"]):
        return ""
    s = f"{row['diff_vs_ce']:+.3f}"
    if not math.isnan(row["p_value"]):
        s += f" (p={row['p_value']:.3g}, {_TEST_ABBR[row['test']]})"
    return s


def wide_table(summary: pd.DataFrame, metrics: Sequence[str], latex=False, bold=True) -> pd.DataFrame:
    """One row per dataset x backbone x method x phase; per metric a value and a Δ-vs-ce column."""
    keys = GROUP
    s = summary[summary["metric"].isin(metrics)]
    if s.empty:
        return pd.DataFrame(columns=keys + ["n"])
    out = s[keys + ["n"]].groupby(keys, sort=False, as_index=False)["n"].max()
    for m in metrics:
        sm = s[s["metric"] == m].set_index(keys)
        arrow = "↑" if higher_is_better(m) else "↓" if higher_is_better(m) is False else ""
        if latex:
            arrow = {"↑": r"$\uparrow$", "↓": r"$\downarrow$"}.get(arrow, "")
        vcol, dcol = f"{m} {arrow}".strip(), f"Δ{m} vs ce" if not latex else rf"$\Delta${m}"
        idx = [tuple(r) for r in out[keys].itertuples(index=False)]
        out[vcol] = [_cell(sm.loc[i], latex, bold) if i in sm.index else "" for i in idx]
        out[dcol] = [_delta(sm.loc[i], latex) if i in sm.index else "" for i in idx]
    return out


def _order(summary: pd.DataFrame) -> pd.DataFrame:
    order = {"ce": 0, "cloc_mm": 1, "cloc_sm": 2}
    return summary.assign(_o=summary["method"].map(order).fillna(9)).sort_values(
        ["dataset", "backbone", "_o", "method", "phase"], kind="stable").drop(columns="_o")


def to_markdown(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
    lines = ["# Summary", "",
             "Test metrics, mean ± std over seeds and splits (n runs). **Bold**: best within "
             "dataset x backbone by the metric's direction (↑ higher is better, ↓ lower). "
             "Δ: mean paired difference to ce over matching (split, seed), with the two-sided "
             "p-value of the Wilcoxon signed-rank test (W, >= 6 pairs) or the paired t-test "
             "(t, 2-5 pairs). Full numbers: summary.csv.", ""]
    s = _order(summary)
    for ds, g in s.groupby("dataset", sort=False):
        w = wide_table(g, metrics).drop(columns=["dataset"])
        lines += [f"## {ds}", "", _md_table(w), ""]
    return "\n".join(lines)


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in df.itertuples(index=False):
        out.append("| " + " | ".join(str(v) for v in r) + " |")
    return "\n".join(out)


def _tex_escape(s: str) -> str:
    return str(s).replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def to_latex(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
    out = ["% Generated by cloc aggregate; needs \\usepackage{booktabs}.",
           "% Bold: best within dataset x backbone. Delta: paired difference to ce (p-value; "
           "W = Wilcoxon signed-rank, t = paired t-test)."]
    s = _order(summary)
    for ds, g in s.groupby("dataset", sort=False):
        w = wide_table(g, metrics, latex=True).drop(columns=["dataset"])
        delta_cols = [c for c in w.columns if str(c).startswith(r"$\Delta$")]
        for c in ["backbone", "method", "phase"] + delta_cols:
            w[c] = w[c].map(_tex_escape)
        header = " & ".join(c if c.startswith("$") else _tex_escape(c) for c in map(str, w.columns))
        out += ["", r"\begin{table}[t]", r"\centering", rf"\caption{{{_tex_escape(ds)}}}",
                r"\begin{tabular}{" + "l" * 3 + "r" * (len(w.columns) - 3) + "}", r"\toprule",
                header + r" \\", r"\midrule"]
        out += [" & ".join(str(v) for v in r) + r" \\" for r in w.itertuples(index=False)]
        out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def to_html(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
    parts = ["<html><head><meta charset='utf-8'><title>Summary</title></head><body>",
             "<p>Test metrics, mean ± std over seeds and splits. <b>Bold</b>: best within dataset "
             "x backbone. Δ: paired difference to ce (p-value; W = Wilcoxon signed-rank, "
             "t = paired t-test).</p>"]
    for ds, g in _order(summary).groupby("dataset", sort=False):
        w = wide_table(g, metrics, bold=False).drop(columns=["dataset"])
        best = wide_table(g, metrics, bold=True).drop(columns=["dataset"])
        w = w.where(best == w, best.replace(r"\*\*(.*)\*\*", r"<b>\1</b>", regex=True))
        parts += [f"<h2>{ds}</h2>", w.to_html(index=False, escape=False)]
    return "\n".join(parts + ["</body></html>"])


# ------------------------------------------------------------------------------------------ main
def write_all(out_dir: str | Path, metrics_paths: Sequence[str | Path],
              margins_paths: Sequence[str | Path] = (), show_metrics: Sequence[str] = ("accuracy", "mae", "qwk")) -> dict[str, Path]:
    """Write every table of the experiment into ``out_dir``; returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = read_metrics(metrics_paths)
    summary = summarize(runs)
    final, traj = read_margins(margins_paths)
    files = {
        "runs": out / "runs.csv", "summary": out / "summary.csv", "summary_md": out / "summary.md",
        "summary_tex": out / "summary.tex", "summary_html": out / "summary.html",
        "margins": out / "margins.csv", "trajectories": out / "margin_trajectories.csv",
        "confusion": out / "confusion.csv",
    }
    shown = [m for m in show_metrics if m in set(summary["metric"])] or sorted(set(summary["metric"]))
    contents = {
        "runs": runs.to_csv(index=False),
        "summary": summary.to_csv(index=False),
        "summary_md": to_markdown(summary, shown),
        "summary_tex": to_latex(summary, shown),
        "summary_html": to_html(summary, shown),
        "margins": summarize_margins(final).to_csv(index=False),
        "trajectories": traj.to_csv(index=False),
        "confusion": read_confusions(metrics_paths).to_csv(index=False),
    }
    for name, text in contents.items():
        atomic_write_text(files[name], text)
    return files
