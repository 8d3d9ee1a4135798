"""Aggregation and figures on fabricated run folders (no training)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cloc import aggregate as agg
from cloc import figures
from fakeruns import METRIC_NAMES, write_margins, write_run


def _grid(root, n_seeds=3, n_splits=1, methods=("ce", "cloc_mm"), gain=0.05, backbones=("bb",)):
    paths, margins = [], []
    for split in range(n_splits):
        for seed in range(n_seeds):
            for bb in backbones:
                for m in methods:
                    base = 0.6 + 0.01 * seed + 0.02 * split
                    acc = base + (gain + 0.003 * seed if m != "ce" else 0.0)
                    test = {"accuracy": acc, "mae": 1 - acc, "qwk": acc - 0.1}
                    phase = "ce" if m == "ce" else 2
                    paths.append(write_run(root, split=split, seed=seed, backbone=bb, method=m,
                                           phase=phase, test=test) / "metrics.json")
                    if m != "ce":
                        margins.append(write_margins(root, split=split, seed=seed, backbone=bb, method=m,
                                                     margins=(0.5 + 0.1 * seed, 1.0, 0.7)))
    return paths, margins


def _row(summary, method, metric, backbone="bb"):
    r = summary[(summary["method"] == method) & (summary["metric"] == metric) & (summary["backbone"] == backbone)]
    assert len(r) == 1
    return r.iloc[0]


def test_runs_table_is_tidy_and_reads_identity_from_files(tmp_path):
    # folder names carry nothing: identity must come from metrics.json
    p = write_run(tmp_path, dataset="dsX", split=3, backbone="bbY", method="cloc_sm", seed=7, phase=2,
                  folder="opaque") / "metrics.json"
    runs = agg.read_metrics([p])
    assert set(runs["subset"]) == {"test", "val"}
    assert len(runs) == 2 * len(METRIC_NAMES)
    row = runs.iloc[0]
    assert (row["dataset"], row["split"], row["backbone"], row["method"], row["seed"], row["phase"]) == \
        ("dsX", 3, "bbY", "cloc_sm", 7, "2")
    assert row["device"] == "cpu" and row["version_torch"] == "x" and row["epochs_run"] == 3


def test_paired_t_below_six_pairs_and_wilcoxon_from_six(tmp_path):
    paths, _ = _grid(tmp_path / "a", n_seeds=3)
    s = agg.summarize(agg.read_metrics(paths))
    r = _row(s, "cloc_mm", "accuracy")
    assert r["test"] == "paired_t" and r["n_pairs"] == 3
    assert r["diff_vs_ce"] == pytest.approx(0.05 + 0.003)
    assert 0 < r["p_value"] < 0.05
    paths, _ = _grid(tmp_path / "b", n_seeds=3, n_splits=2)
    s = agg.summarize(agg.read_metrics(paths))
    r = _row(s, "cloc_mm", "accuracy")
    assert r["test"] == "wilcoxon" and r["n_pairs"] == 6
    assert r["p_value"] == pytest.approx(0.03125)  # exact two-sided, all 6 differences positive
    assert _row(s, "ce", "accuracy")["test"] == "baseline"


def test_pairs_match_on_split_and_seed(tmp_path):
    paths, _ = _grid(tmp_path, n_seeds=3)
    # an extra cloc run with no ce partner is not paired
    paths.append(write_run(tmp_path, seed=9, method="cloc_mm", phase=2,
                           test={"accuracy": 0.1, "mae": 0.9, "qwk": 0.0}) / "metrics.json")
    s = agg.summarize(agg.read_metrics(paths))
    r = _row(s, "cloc_mm", "accuracy")
    assert r["n"] == 4 and r["n_pairs"] == 3
    assert r["diff_vs_ce"] == pytest.approx(0.053)


def test_best_marked_by_metric_direction(tmp_path):
    paths, _ = _grid(tmp_path, n_seeds=2, methods=("ce", "cloc_mm", "cloc_sm"))
    s = agg.summarize(agg.read_metrics(paths))
    # cloc methods have higher accuracy and lower mae than ce (equal to each other: both marked)
    for metric in ("accuracy", "mae"):
        best = set(s[(s["metric"] == metric) & s["best"]]["method"])
        assert best == {"cloc_mm", "cloc_sm"}, metric
    # make ce best on mae only: lower is better
    paths.append(write_run(tmp_path, seed=0, method="ce", phase="ce", backbone="other",
                           test={"accuracy": 0.5, "mae": 0.1, "qwk": 0.3}) / "metrics.json")
    paths.append(write_run(tmp_path, seed=0, method="cloc_mm", phase=2, backbone="other",
                           test={"accuracy": 0.6, "mae": 0.4, "qwk": 0.2}) / "metrics.json")
    s = agg.summarize(agg.read_metrics(paths))
    assert _row(s, "ce", "mae", "other")["best"] and not _row(s, "cloc_mm", "mae", "other")["best"]
    assert _row(s, "cloc_mm", "accuracy", "other")["best"]
    assert _row(s, "ce", "qwk", "other")["best"]
    assert _row(s, "ce", "accuracy", "other")["higher_is_better"] is True or \
        _row(s, "ce", "accuracy", "other")["higher_is_better"] == True  # noqa: E712
    assert not _row(s, "ce", "mae", "other")["higher_is_better"]


def test_one_seed_has_no_std_and_no_test(tmp_path):
    paths, _ = _grid(tmp_path, n_seeds=1)
    files = agg.write_all(tmp_path / "out", paths)
    s = pd.read_csv(files["summary"])
    r = _row(s, "cloc_mm", "accuracy")
    assert r["n"] == 1 and math.isnan(r["std"])
    assert r["test"] == "none" and math.isnan(r["p_value"]) and r["diff_vs_ce"] == pytest.approx(0.05)
    md = files["summary_md"].read_text()
    assert "±" not in md.split("## toy")[1]  # no "± nan"
    assert "nan" not in md.split("## toy")[1]


def test_missing_ce_baseline(tmp_path):
    paths, _ = _grid(tmp_path, methods=("cloc_mm", "cloc_sm"))
    files = agg.write_all(tmp_path / "out", paths)
    s = pd.read_csv(files["summary"])
    r = _row(s, "cloc_mm", "accuracy")
    assert r["test"] == "no_baseline" and r["n_pairs"] == 0 and math.isnan(r["diff_vs_ce"])
    assert "no ce" in files["summary_md"].read_text()


def test_margins_and_trajectories(tmp_path):
    paths, margins = _grid(tmp_path, n_seeds=3)
    files = agg.write_all(tmp_path / "out", paths, margins)
    m = pd.read_csv(files["margins"])
    assert list(m["boundary"]) == [0, 1, 2] and set(m["n"]) == {3}
    assert m.loc[0, "mean"] == pytest.approx(0.6) and m.loc[0, "std"] == pytest.approx(0.1)
    assert m.loc[1, "mean"] == pytest.approx(1.0)
    t = pd.read_csv(files["trajectories"])
    assert len(t) == 3 * 3 * 3  # runs x epochs x boundaries
    assert set(t["phase"].astype(str)) == {"1"}


def test_confusion_summed_over_runs(tmp_path):
    paths, _ = _grid(tmp_path, n_seeds=2)
    files = agg.write_all(tmp_path / "out", paths)
    c = pd.read_csv(files["confusion"])
    total = sum(agg.read_confusion_matrix(p.parent / "confusion.csv").sum() for p in paths
                if json.loads(p.read_text())["identity"]["method"] == "ce")
    assert c[c["method"] == "ce"]["count"].sum() == total
    assert set(c["n_runs"]) == {2}


def test_confusion_formats(tmp_path):
    (tmp_path / "a.csv").write_text("0,1\n3,1\n0,2\n")
    assert agg.read_confusion_matrix(tmp_path / "a.csv").tolist() == [[3, 1], [0, 2]]
    (tmp_path / "b.csv").write_text("true,pred,count\n0,0,3\n0,1,1\n1,1,2\n")
    assert agg.read_confusion_matrix(tmp_path / "b.csv").tolist() == [[3, 1], [0, 2]]


def test_tables_formatted(tmp_path):
    paths, margins = _grid(tmp_path, n_seeds=3, methods=("ce", "cloc_mm", "cloc_sm"))
    files = agg.write_all(tmp_path / "out", paths, margins, show_metrics=["accuracy", "mae"])
    md = files["summary_md"].read_text()
    assert "| bb | cloc_mm | 2 | 3 | **" in md and "(p=" in md and ", t)" in md
    tex = files["summary_tex"].read_text()
    assert r"\textbf{" in tex and r"cloc\_mm" in tex and r"\begin{tabular}" in tex
    assert "<b>" in files["summary_html"].read_text()


def test_identity_missing_is_an_error(tmp_path):
    p = tmp_path / "metrics.json"
    p.write_text(json.dumps({"identity": {"dataset": "x"}, "test": {"accuracy": 1.0}}))
    with pytest.raises(ValueError, match="identity lacks"):
        agg.read_metrics([p])


def test_figures_and_cli(tmp_path):
    from cloc.cli import main

    paths, margins = _grid(tmp_path, n_seeds=2, methods=("ce", "cloc_mm", "cloc_sm"), backbones=("a", "b"))
    out = tmp_path / "out"
    assert main(["aggregate", "--out-dir", str(out), "--metrics", *map(str, paths),
                 "--margins", *map(str, margins)]) == 0
    assert main(["figures", "--runs", str(out / "runs.csv"), "--trajectories",
                 str(out / "margin_trajectories.csv"), "--confusion", str(out / "confusion.csv"),
                 "--out-dir", str(out / "figures")]) == 0
    names = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert names == ["confusion_toy_a.png", "confusion_toy_b.png", "margins_toy_a.png",
                     "margins_toy_b.png", "metrics_toy.png"]
    assert all((out / "figures" / n).read_bytes()[:4] == b"\x89PNG" for n in names)
