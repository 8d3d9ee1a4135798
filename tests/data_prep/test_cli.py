import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_prep.cli import main

REPO = Path(__file__).resolve().parents[2]


def run_module(*args):
    return subprocess.run([sys.executable, "-m", "data_prep", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


def test_list_shows_the_registry():
    result = run_module("--list")
    assert result.returncode == 0
    for name in ("synthetic", "adience", "hci", "knee_oa", "idrid", "bracs", "image_folder", "csv"):
        assert name in result.stdout
    assert "talhassner" in result.stdout


def test_errors_exit_2_with_one_clean_message(tmp_path):
    result = run_module("idrid", "--raw", str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("data_prep: error: idrid: raw folder") and "ieee-dataport" in result.stderr


def test_prepare_and_bias_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert main(["synthetic", "--out", str(out), "--n-train", "150", "--n-val", "40", "--n-test", "40",
                 "--thresholds", "0.2,0.3,0.6,0.8", "--seed", "2"]) == 0
    assert "230 images at 32 px" in capsys.readouterr().out
    info = json.loads((out / "dataset.json").read_text())
    assert info["source"]["seed"] == 2 and info["details"]["thresholds"] == [0.2, 0.3, 0.6, 0.8]
    assert main(["bias", "--source", str(out), "--out", str(tmp_path / "synthetic_bias"), "--from-class", "S1",
                 "--to-class", "2", "--fraction", "0.5", "--splits", "train", "--seed", "1"]) == 0
    assert "moved S1 -> S2" in capsys.readouterr().out
    assert json.loads((tmp_path / "synthetic_bias" / "dataset.json").read_text())["bias"]["seed"] == 1


def test_config_file_supplies_adapter_options(class_folder_raw, tmp_path, capsys):
    config = tmp_path / "mine.yaml"
    config.write_text("classes: [mild, moderate, severe]\nval_fraction: 0.2\n")
    assert main(["image_folder", "--raw", str(class_folder_raw), "--out", str(tmp_path / "mine"),
                 "--size", "8", "--config", str(config)]) == 0
    info = json.loads((tmp_path / "mine" / "dataset.json").read_text())
    assert info["name"] == "mine" and sum(info["counts"]["split0"]["val"]) == 6


@pytest.mark.parametrize("argv, message", [
    (["nosuch", "--out", "x"], "unknown dataset 'nosuch'"),
    (["bias", "--source", "nowhere", "--out", "x", "--from-class", "0", "--to-class", "1", "--fraction", "0.1"],
     "is not a prepared dataset"),
])
def test_bad_invocations_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_config_option_exits_2(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("colour: red\n")
    assert main(["synthetic", "--out", str(tmp_path / "s"), "--config", str(config)]) == 2
    assert "unknown option(s) ['colour']" in capsys.readouterr().err
