"""The Snakemake workflow: dry runs of the shipped experiments, lint, schema errors, the ci grid
end to end, and interrupt-and-resume. Every run uses a temporary working directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline_helpers import BIN, REPO, env, job_counts, load_config, snakemake, write_config

EXPECTED = {
    # 1 synthetic + its bias variant; 1 split x 2 backbones x 3 seeds = 6 per dataset
    "default": {"prepare": 1, "prepare_bias": 1, "train_ce": 12, "train_phase1": 24,
                "train_phase2": 24, "aggregate": 1, "figures": 1, "all": 1, "total": 65},
    # Adience 5 folds + HCI 10 splits + Knee OA + IDRiD + BRACS + IDRiD bias = 19 splits,
    # x 2 backbones x 3 seeds = 114
    "paper": {"prepare": 5, "prepare_bias": 1, "train_ce": 114, "train_phase1": 228,
              "train_phase2": 228, "aggregate": 1, "figures": 1, "all": 1, "total": 579},
    "ci": {"prepare": 1, "train_ce": 2, "train_phase1": 2, "train_phase2": 2, "aggregate": 1,
           "figures": 1, "all": 1, "total": 10},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dry_run_job_counts(name, workdir):
    r = snakemake(["-n", "--configfile", REPO / "experiments" / f"{name}.yaml"], workdir, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert job_counts(r.stdout) == EXPECTED[name]
    assert not (workdir / "results").exists()


def test_lint_is_clean(workdir):
    r = snakemake(["--lint"], workdir, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Congratulations, your workflow is in a good condition!" in r.stdout + r.stderr
    assert "Lints for" not in r.stdout + r.stderr


SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
SCHEMA_ERRORS = [
    (lambda c: c.update(seedz=[0]), "Additional properties are not allowed ('seedz' was unexpected)"),
    (lambda c: c["methods"].update(cloc_xx={}), "'cloc_xx' is not one of"),
    (lambda c: c.update(seeds="zero"), "'zero' is not of type 'array'"),
    (lambda c: c["datasets"]["synthetic_ci"].update(splits=[]), "should be non-empty"),
    (lambda c: c["backbones"]["test_resnet"].update(batch_size=0), "0 is less than the minimum of 1"),
]


@pytest.mark.parametrize("mutate, message", SCHEMA_ERRORS)
def test_schema_rejects(mutate, message):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    cfg = load_config("ci")
    validate(cfg, str(SCHEMA))  # the shipped config is valid
    mutate(cfg)
    with pytest.raises(WorkflowError, match=None) as e:
        validate(cfg, str(SCHEMA))
    assert message in str(e.value)


def test_schema_fills_defaults():
    from snakemake.utils import validate

    cfg = load_config("ci")
    del cfg["metrics"], cfg["resources"]
    validate(cfg, str(SCHEMA))
    assert cfg["metrics"] == ["accuracy", "mae", "qwk"] and cfg["results_dir"] == "results"


def test_schema_error_fails_the_workflow_fast(workdir):
    cfg = load_config("ci")
    cfg["seedz"] = [0]
    t0 = time.time()
    r = snakemake(["-n", "--configfile", write_config(workdir / "bad.yaml", cfg)], workdir, timeout=60)
    assert r.returncode != 0
    assert "Additional properties are not allowed ('seedz' was unexpected)" in r.stdout + r.stderr
    assert "Job stats" not in r.stdout
    assert time.time() - t0 < 45


def test_missing_raw_data_fails_in_prepare_with_data_prep_message(workdir):
    r = snakemake(["--cores", "1", "data/prepared/knee_oa/dataset.json",
                   "--configfile", REPO / "experiments" / "paper.yaml"], workdir, timeout=90)
    assert r.returncode != 0
    log = (workdir / "results/paper/logs/prepare/knee_oa.log").read_text()
    assert "data/raw/knee_oa" in log and "knee_oa" in log
    assert not (workdir / "data/prepared/knee_oa/dataset.json").exists()


@pytest.mark.slow
def test_ci_grid_end_to_end(workdir):
    """The whole ci experiment: tables complete and equal to the per-run metrics.json."""
    r = snakemake(["--cores", "2", "--configfile", REPO / "experiments" / "ci.yaml"], workdir, timeout=240)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    res = workdir / "results" / "ci"
    from cloc import pipeline as pl
    from cloc.metrics import METRICS

    cfg = load_config("ci")
    metrics_files = sorted(res.glob("runs/**/metrics.json"))
    assert len(metrics_files) == len(pl.metrics_files(cfg)) == 4
    runs = pd.read_csv(res / "runs.csv")
    test = runs[runs["subset"] == "test"]
    assert set(test["metric"]) == set(METRICS)
    assert len(test) == 4 * len(METRICS)  # rows complete: every job x every metric
    assert test["value"].notna().all()
    summary = pd.read_csv(res / "summary.csv")
    assert len(summary) == 2 * len(METRICS)
    for f in metrics_files:
        m = json.loads(f.read_text())
        ident = m["identity"]
        row = test[(test["method"] == ident["method"]) & (test["seed"] == ident["seed"])]
        for metric, value in m["test"].items():
            assert row[row["metric"] == metric]["value"].iloc[0] == pytest.approx(value)
    for method in ("ce", "cloc_mm"):
        vals = [json.loads(f.read_text()) for f in metrics_files]
        acc = [v["test"]["accuracy"] for v in vals if v["identity"]["method"] == method]
        s = summary[(summary["method"] == method) & (summary["metric"] == "accuracy")].iloc[0]
        assert s["mean"] == pytest.approx(sum(acc) / len(acc)) and s["n"] == 2
    cm = summary[(summary["method"] == "cloc_mm") & (summary["metric"] == "mae")].iloc[0]
    assert cm["test"] == "paired_t" and cm["n_pairs"] == 2
    margins = pd.read_csv(res / "margins.csv")
    assert len(margins) == 4 and set(margins["n"]) == {2}  # K-1 boundaries, two seeds
    for kind, files in pl.figure_files({**cfg, "results_dir": str(workdir / "results")}).items():
        for f in files:
            assert Path(f).stat().st_size > 1000, f
    assert "## synthetic_ci" in (res / "summary.md").read_text()
    # nothing left to do; the report builds
    r = snakemake(["-n", "--configfile", REPO / "experiments" / "ci.yaml"], workdir, timeout=60)
    assert "Nothing to be done" in r.stdout + r.stderr
    r = snakemake(["--configfile", REPO / "experiments" / "ci.yaml", "--report", res / "report.html"],
                  workdir, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert (res / "report.html").stat().st_size > 10000


@pytest.mark.slow
def test_interrupt_and_resume(workdir):
    """Kill snakemake (and its job) mid-training; rerunning resumes from the checkpoint."""
    cfg = load_config("ci")
    cfg["methods"] = {"ce": {}}
    cfg["seeds"] = [0]
    cfg["train"]["set"].update(max_epochs=30, patience=30)
    conf = write_config(workdir / "resume.yaml", cfg)
    run = workdir / "results/ci/runs/synthetic_ci/split0/test_resnet/ce/seed0/ce"
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "1",
           "--configfile", str(conf)]
    proc = subprocess.Popen(cmd, cwd=workdir, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 150
        while time.time() < deadline:
            hist = run / "history.csv"
            if (run / "checkpoint.pt").exists() and hist.exists() and len(hist.read_text().splitlines()) >= 3:
                break
            assert proc.poll() is None, "snakemake finished before it could be interrupted"
            time.sleep(0.2)
        else:
            pytest.fail("training never checkpointed")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the running `cloc train`
        proc.wait(timeout=30)
    done_epochs = len((run / "history.csv").read_text().splitlines()) - 1
    assert not (run / "metrics.json").exists()
    assert any((workdir / ".snakemake/incomplete").iterdir())
    # a SIGKILLed snakemake cannot release its lock: the documented first step is --unlock
    r = snakemake(["--cores", "1", "--configfile", conf], workdir, timeout=60)
    assert r.returncode != 0 and "Directory cannot be locked" in r.stdout + r.stderr
    assert snakemake(["--unlock", "--configfile", conf], workdir, timeout=60).returncode == 0
    r = snakemake(["--cores", "1", "--configfile", conf], workdir, timeout=180)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    log = (workdir / "results/ci/logs/train/synthetic_ci/split0/test_resnet/ce/seed0/ce.log").read_text()
    assert "resuming after epoch" in log, log[-2000:]
    resumed_at = int(log.split("resuming after epoch")[1].split()[0])
    # the engine writes history.csv just before checkpoint.pt, so a kill between the two leaves
    # history one epoch ahead; that epoch is redone from the checkpoint
    assert done_epochs >= 2 and done_epochs - 1 <= resumed_at <= done_epochs
    assert "epoch 1/" not in log  # did not start over
    hist = pd.read_csv(run / "history.csv")
    assert hist["epoch"].is_unique and len(hist) == 30
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] == 30
    assert (workdir / "results/ci/summary.csv").exists()
