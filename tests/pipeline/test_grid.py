"""cloc.pipeline: the grid and the command-line arguments the rules pass."""

from __future__ import annotations

import shlex

import pytest

from cloc import pipeline as pl
from pipeline_helpers import load_config


def test_grid_sizes_of_the_shipped_experiments():
    d, p, c = (load_config(n) for n in ("default", "paper", "ci"))
    assert len(pl.grid(d)) == 2 * 1 * 2 * 3 * 3
    assert len(pl.grid(p)) == (5 + 10 + 1 + 1 + 1 + 1) * 2 * 3 * 3
    assert len(pl.grid(c)) == 1 * 1 * 2 * 2
    assert len(pl.metrics_files(c)) == 4 and len(pl.phase1_margin_files(c)) == 2


def test_paths_and_stages():
    c = load_config("ci")
    assert pl.run_dir(c, "synthetic_ci", 0, "test_resnet", "cloc_mm", 1, "phase2") == \
        "results/ci/runs/synthetic_ci/split0/test_resnet/cloc_mm/seed1/phase2"
    assert pl.stages("ce") == ("ce",) and pl.stages("cloc_sm") == ("phase1", "phase2")
    c["train"] = {"evaluate_phase1": True}
    assert sum("/phase1" in r for r in pl.evaluated_runs(c)) == 2


def test_train_args_precedence():
    cfg = {
        "experiment": "x", "seeds": [0],
        "datasets": {"d": {"splits": [0], "set": {"lr": 0.5}}},
        "backbones": {"b": {"input_size": 64, "batch_size": 16, "pretrained": "hub", "set": {"lr": 0.1}}},
        "methods": {"ce": {}, "cloc_mm": {"set": {"max_epochs": 3}, "phase1": {"max_epochs": 2}}},
        "train": {"config": "t.yaml", "set": {"max_epochs": 9, "lr": 0.01}},
    }
    args = shlex.split(pl.train_args(cfg, "d", "b", "cloc_mm", "phase1", threads=2))
    sets = dict(a.split("=", 1) for a in args[3::2])
    assert args[:2] == ["--config", "t.yaml"]
    assert sets == {"max_epochs": "2", "lr": "0.5", "batch_size": "16", "image_size": "64",
                    "pretrained": "hub", "threads": "2"}
    sets2 = dict(a.split("=", 1) for a in shlex.split(pl.train_args(cfg, "d", "b", "cloc_mm", "phase2"))[3::2])
    assert sets2["max_epochs"] == "3"
    sets3 = dict(a.split("=", 1) for a in shlex.split(pl.train_args(cfg, "d", "b", "ce", "ce"))[3::2])
    assert sets3["max_epochs"] == "9"


def test_prepare_and_bias_args():
    d = load_config("default")
    assert shlex.split(pl.prepare_args(d, "synthetic")) == [
        "synthetic", "--size", "32", "--seed", "0", "--dataset-name", "synthetic"]
    p = load_config("paper")
    assert shlex.split(pl.prepare_args(p, "adience"))[:3] == ["adience", "--raw", "data/raw/adience"]
    assert "--fraction" in pl.bias_args(d, "synthetic_bias")
    assert pl.cli_options({"n_train": 5, "flag": True, "off": False, "xs": [1, 2]}) == [
        "--n-train", "5", "--flag", "--xs", "1,2"]


def test_list_options_reach_data_prep_in_its_comma_form():
    from data_prep.cli import dataset_parser
    from data_prep.registry import registry

    config = {"datasets": {"my_grades": {"adapter": "image_folder", "raw": "/data/my_grades",
                                         "size": 64, "options": {"classes": ["g0", "g1", "g2"]}}}}
    argv = shlex.split(pl.prepare_args(config, "my_grades"))
    parsed = dataset_parser(registry["image_folder"]).parse_args([*argv, "--out", "x"])
    assert parsed.classes == ["g0", "g1", "g2"]


def test_cross_field_checks():
    c = load_config("default")
    c["datasets"]["synthetic_bias"]["bias"]["source"] = "nope"
    with pytest.raises(ValueError, match="bias.source 'nope'"):
        pl.check_config(c)


def test_alternation_is_exact():
    import re

    rx = re.compile(f"^({pl.alternation(['synthetic', 'synthetic_bias'])})$")
    assert rx.match("synthetic_bias") and rx.match("synthetic") and not rx.match("synthetic_b")
