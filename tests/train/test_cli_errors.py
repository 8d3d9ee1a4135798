"""Command line and bad arguments: each fails before training, exit status 2, a message saying what to do."""
import json
import os
import subprocess
import sys
import time

import pytest

from cloc.cli import main

BASE = ["--set", "max_epochs=1", "--set", "threads=1", "--set", "batch_size=32"]


def run_cli(capsys, *argv):
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.err


def train_args(prepared, out, method="ce", *extra, backbone="test_resnet"):
    return ["train", "--prepared", str(prepared), "--split", "0", "--backbone", backbone, "--method", method,
            "--seed", "0", "--out", str(out), *BASE, *extra]


def test_cli_train_phase1_phase2_and_evaluate(prepared, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p1 = tmp_path / "p1"
    r = subprocess.run([sys.executable, "-m", "cloc", *train_args(prepared, p1, "cloc_sm", "--phase", "1"),
                        "--no-evaluate"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "epoch 1/1" in r.stderr  # one-line epoch summary in the log
    assert (p1 / "margins.json").is_file() and not (p1 / "metrics.json").exists()
    assert len(json.loads((p1 / "margins.json").read_text())["learnable_map"]) == 1
    p2 = tmp_path / "p2"
    rc = main(train_args(prepared, p2, "cloc_sm", "--phase", "2", "--margins-from", str(p1 / "margins.json")))
    assert rc == 0
    m = json.loads((p2 / "metrics.json").read_text())
    assert m["method"] == "cloc_sm" and m["phase"] == "2" and len(m["margins"]) == 3
    # evaluate a run afterwards (phase one was trained with --no-evaluate)
    assert main(["evaluate", "--run", str(p1)]) == 0
    assert (p1 / "metrics.json").is_file() and (p1 / "predictions.csv").is_file()
    assert main(["evaluate", "--run", str(p1), "--split-name", "val"]) == 0
    assert (p1 / "predictions_val.csv").is_file()


def test_config_file_and_overrides(prepared, tmp_path, capsys):
    cfg = tmp_path / "train.yaml"
    cfg.write_text("max_epochs: 5\nlambda: 0.5\nbatch_size: 16\naugment: flip\n")
    out = tmp_path / "run"
    rc = main(["train", "--prepared", str(prepared), "--split", "0", "--backbone", "test_resnet", "--method", "ce",
               "--seed", "1", "--out", str(out), "--config", str(cfg), "--set", "max_epochs=1", "--set", "threads=1",
               "--no-evaluate"])
    assert rc == 0
    import yaml

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["max_epochs"] == 1 and saved["lambda"] == 0.5 and saved["batch_size"] == 16 and saved["augment"] == "flip"


@pytest.mark.parametrize("case", [
    "unknown_backbone", "unknown_method", "missing_prepared", "not_prepared", "missing_split",
    "phase2_no_margins", "margins_file_missing", "ce_with_phase", "cloc_without_phase", "phase1_with_margins",
    "bad_phase", "unknown_key", "bad_value", "bad_set", "k_mismatch", "method_mismatch", "bad_learnable_map",
    "missing_weights_file",
])
def test_bad_arguments_fail_before_training(case, prepared, prepared_k3, tmp_path, capsys):
    out = tmp_path / "out"
    fake_margins = tmp_path / "margins.json"
    fake_margins.write_text(json.dumps({"identity": {"dataset": "toy"}, "method": "cloc_mm", "margins": [1.0, 1.0, 1.0],
                                        "learnable_map": [["fixed", 1.0]] * 3, "trajectory": []}))
    argv, expect = {
        "unknown_backbone": (train_args(prepared, out, backbone="resnet_18"), "unknown backbone 'resnet_18'.*resnet18"),
        "unknown_method": (train_args(prepared, out, "cloc_xx"), "unknown method 'cloc_xx'.*ce, cloc_mm, cloc_sm"),
        "missing_prepared": (train_args(tmp_path / "nope", out), "does not exist.*data_prep"),
        "not_prepared": (train_args(tmp_path, out), "no dataset.json"),
        "missing_split": (train_args(prepared, out)[:4] + ["7"] + train_args(prepared, out)[5:], "split 7 not found.*available splits: \\[0\\]"),
        "phase2_no_margins": (train_args(prepared, out, "cloc_mm", "--phase", "2"), "--margins-from"),
        "margins_file_missing": (train_args(prepared, out, "cloc_mm", "--phase", "2", "--margins-from",
                                            str(tmp_path / "p1" / "margins.json")), "does not exist; run phase 1 first"),
        "ce_with_phase": (train_args(prepared, out, "ce", "--phase", "1"), "does not apply to method ce"),
        "cloc_without_phase": (train_args(prepared, out, "cloc_mm"), "needs --phase 1"),
        "phase1_with_margins": (train_args(prepared, out, "cloc_mm", "--phase", "1", "--margins-from", str(fake_margins)),
                                "phase 2 only"),
        "bad_phase": (train_args(prepared, out, "cloc_mm", "--phase", "3"), "--phase must be 1 or 2"),
        "unknown_key": (train_args(prepared, out, "ce", "--set", "learning_rate=0.1"), "unknown training config key.*'learning_rate'"),
        "bad_value": (train_args(prepared, out, "ce", "--set", "augment=rotate"), "'augment': must be one of"),
        "bad_set": (train_args(prepared, out, "ce", "--set", "lr"), "--set expects key=value"),
        "k_mismatch": (train_args(prepared_k3, out, "cloc_mm", "--phase", "2", "--margins-from", str(fake_margins)),
                       "holds 3 margins.*num_classes=3"),
        "method_mismatch": (train_args(prepared, out, "cloc_sm", "--phase", "2", "--margins-from", str(fake_margins)),
                            "learned with method cloc_mm"),
        "bad_learnable_map": (train_args(prepared, out, "cloc_mm", "--phase", "1", "--set", "learnable_map=[[fixed, 1.0]]"),
                              "learnable_map has 1 entries"),
        "missing_weights_file": (train_args(prepared, out, "ce", "--set", "pretrained=/nope/w.safetensors"),
                                 "not found"),
    }[case]
    import re

    rc, err = run_cli(capsys, *argv)
    assert rc == 2, err
    assert err.startswith("cloc train: error: ")
    assert "Traceback" not in err
    assert re.search(expect, err, re.S), err
    assert not (out / "checkpoint.pt").exists()


def test_evaluate_bad_run(tmp_path, capsys):
    rc, err = run_cli(capsys, "evaluate", "--run", str(tmp_path))
    assert rc == 2 and "no run.json" in err


def test_cli_subprocess_error_exit_code(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cloc", "train", "--prepared", str(tmp_path), "--split", "0",
                        "--backbone", "test_resnet", "--method", "ce", "--seed", "0", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "dataset.json" in r.stderr
