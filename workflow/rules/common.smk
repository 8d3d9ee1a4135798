# Shared state and helpers (functions only; rules live in the other .smk files).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir)))  # the cloc package of this checkout

from cloc import pipeline as pl

pl.check_config(config)

RESULTS = pl.results_root(config)
PREPARED = pl.prepared_root(config)
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
RUNS = f"{RESULTS}/runs/{{dataset}}/split{{split}}/{{backbone}}/{{method}}/seed{{seed}}"
CE_RUN = f"{RESULTS}/runs/{{dataset}}/split{{split}}/{{backbone}}/ce/seed{{seed}}/ce"
FIGURES = pl.figure_files(config)
ENV = "../../environment.yml"


wildcard_constraints:
    dataset=pl.alternation(pl.datasets(config)),
    backbone=pl.alternation(pl.backbones(config)),
    method=pl.alternation(pl.methods(config)),
    split=r"\d+",
    seed=r"\d+",
    stage="ce|phase1|phase2",


def res(kind, key):
    return pl.resources(config, kind)[key]


def gpu_resources(kind):
    """`gpu` only when the config asks for GPUs (the SLURM plugin maps it to --gpus; a local
    run with --resources gpu=N limits concurrent GPU jobs)."""
    n = res(kind, "gpu")
    return {"gpu": n} if n else {}


def run_folder(wildcards, stage):
    method = "ce" if stage == "ce" else wildcards.method
    return pl.run_dir(
        config, wildcards.dataset, wildcards.split, wildcards.backbone, method, wildcards.seed, stage
    )


def train_inputs(stage):
    """Inputs of a training stage: the prepared dataset (+ phase one's outputs for phase two)."""

    def inputs(wildcards):
        out = {"dataset": f"{PREPARED}/{wildcards.dataset}/dataset.json"}
        if stage == "phase2":
            out["phase1"] = f"{run_folder(wildcards, 'phase1')}/{pl.TRAIN_DONE}"
        return out

    return inputs


def train_params(stage):
    def params(wildcards, threads):
        method = "ce" if stage == "ce" else wildcards.method
        return pl.train_args(config, wildcards.dataset, wildcards.backbone, method, stage, threads)

    return params


def phase1_files(wildcards, name):
    """A file of phase one's run folder (margins.json, checkpoint.pt): written by the engine,
    passed as a parameter because the training rule only declares its done marker."""
    return f"{run_folder(wildcards, 'phase1')}/{name}"


def parent(path):
    return str(Path(path).parent)
