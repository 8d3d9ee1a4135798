"""The experiment grid of the Snakemake pipeline, as plain importable functions.

The Snakefile (``workflow/rules/*.smk``) stays thin: it asks this module which jobs exist, where
their folders are, and which command-line arguments each job gets. Everything here is pure
(config dict in, strings out) and unit-tested in ``tests/pipeline/``.

Layout (relative to the working directory)::

    {prepared_dir}/{dataset}/                                  prepared data (shared by experiments)
    {results_dir}/{experiment}/runs/{dataset}/split{split}/{backbone}/{method}/seed{seed}/{stage}/
        stage = ce (method ce) | phase1 | phase2 (CLOC methods)
    {results_dir}/{experiment}/{runs,summary,margins,...}.csv, figures/, logs/, benchmarks/
"""

from __future__ import annotations

import re
import shlex
from itertools import product
from pathlib import Path
from typing import Any, Iterable

from cloc.config import METHODS

ALL_METHODS = METHODS
CLOC_METHODS = tuple(m for m in METHODS if m != "ce")
STAGES = ("ce", "phase1", "phase2")

#: Marker written by the training rule after ``cloc train`` returned successfully. It is the
#: training rule's only declared output, so Snakemake's cleanup of incomplete outputs never
#: touches the engine's checkpoint (see docs/pipeline.md, "Interrupt and resume").
TRAIN_DONE = "train.done"


# --------------------------------------------------------------------------------------- config
def results_root(config: dict) -> str:
    return str(Path(config.get("results_dir", "results")) / config["experiment"])


def prepared_root(config: dict) -> str:
    return config.get("prepared_dir", "data/prepared")


def datasets(config: dict) -> list[str]:
    return list(config["datasets"])


def bias_datasets(config: dict) -> list[str]:
    return [d for d, spec in config["datasets"].items() if spec.get("bias")]


def plain_datasets(config: dict) -> list[str]:
    return [d for d, spec in config["datasets"].items() if not spec.get("bias")]


def backbones(config: dict) -> list[str]:
    return list(config["backbones"])


def methods(config: dict) -> list[str]:
    return list(config.get("methods") or {m: {} for m in ALL_METHODS})


def seeds(config: dict) -> list[int]:
    return [int(s) for s in config["seeds"]]


def splits(config: dict, dataset: str) -> list[int]:
    return [int(k) for k in config["datasets"][dataset]["splits"]]


def stages(method: str) -> tuple[str, ...]:
    """Training stages of a method, in order."""
    return ("ce",) if method == "ce" else ("phase1", "phase2")


def final_stage(method: str) -> str:
    return "ce" if method == "ce" else "phase2"


def phase_arg(stage: str) -> str:
    """`cloc train --phase` value for a stage (ce trains as a single phase 1 job)."""
    return {"ce": "1", "phase1": "1", "phase2": "2"}[stage]


def check_config(config: dict) -> None:
    """Cross-field checks the JSON schema cannot express; raises ValueError with a clear message."""
    for name, spec in config["datasets"].items():
        bias = spec.get("bias")
        if bias:
            src = bias["source"]
            if src not in config["datasets"]:
                raise ValueError(
                    f"dataset {name!r}: bias.source {src!r} is not a dataset of this config "
                    f"(known: {', '.join(config['datasets'])})"
                )
            if config["datasets"][src].get("bias"):
                raise ValueError(f"dataset {name!r}: bias.source {src!r} is itself a bias dataset")
            if bias["from_class"] == bias["to_class"]:
                raise ValueError(f"dataset {name!r}: bias.from_class equals bias.to_class")
    bad = [m for m in methods(config) if m not in ALL_METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {bad}; choose from {list(ALL_METHODS)}")


def alternation(names: Iterable[str]) -> str:
    """A regex matching exactly one of the names (for wildcard_constraints)."""
    names = sorted(set(names), key=len, reverse=True)
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


# ---------------------------------------------------------------------------------------- paths
def prepared_dir(config: dict, dataset: str) -> str:
    return str(Path(prepared_root(config)) / dataset)


def run_dir(config: dict, dataset: str, split, backbone: str, method: str, seed, stage: str) -> str:
    return str(
        Path(results_root(config)) / "runs" / dataset / f"split{split}" / backbone / method
        / f"seed{seed}" / stage
    )


def grid(config: dict) -> list[dict[str, Any]]:
    """Every (dataset, split, backbone, method, seed) combination of the experiment."""
    jobs = []
    for d in datasets(config):
        for k, b, m, s in product(splits(config, d), backbones(config), methods(config), seeds(config)):
            jobs.append(dict(dataset=d, split=k, backbone=b, method=m, seed=s))
    return jobs


def evaluated_runs(config: dict) -> list[str]:
    """Run folders that get evaluated (final stage of each method; phase one too if asked)."""
    out = []
    phase1 = bool(config.get("train", {}).get("evaluate_phase1", False))
    for j in grid(config):
        wanted = [final_stage(j["method"])]
        if phase1 and j["method"] != "ce":
            wanted.insert(0, "phase1")
        out += [run_dir(config, **j, stage=st) for st in wanted]
    return out


def metrics_files(config: dict) -> list[str]:
    return [str(Path(r) / "metrics.json") for r in evaluated_runs(config)]


def phase1_margin_files(config: dict) -> list[str]:
    return [
        str(Path(run_dir(config, **j, stage="phase1")) / "margins.json")
        for j in grid(config)
        if j["method"] != "ce"
    ]


def figure_files(config: dict) -> dict[str, list[str]]:
    """Figures produced by ``cloc figures`` for this config, by kind."""
    fig = Path(results_root(config)) / "figures"
    ds, bbs = datasets(config), backbones(config)
    has_cloc = any(m != "ce" for m in methods(config))
    return {
        "margins": [str(fig / f"margins_{d}_{b}.png") for d in ds for b in bbs] if has_cloc else [],
        "confusion": [str(fig / f"confusion_{d}_{b}.png") for d in ds for b in bbs],
        "metrics": [str(fig / f"metrics_{d}.png") for d in ds],
    }


# ------------------------------------------------------------------------------------ arguments
def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cli_options(options: dict | None) -> list[str]:
    """`{key: value}` -> `--key value` (True -> bare flag; False/None omitted; lists joined with
    commas, the form data_prep's list options take: `classes: [a, b]` -> `--classes a,b`)."""
    args: list[str] = []
    for key, value in (options or {}).items():
        flag = "--" + str(key).replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(_fmt(v) for v in value)]
        else:
            args += [flag, _fmt(value)]
    return args


def prepare_args(config: dict, dataset: str) -> str:
    """Arguments after `python -m data_prep` (except `--out`)."""
    spec = config["datasets"][dataset]
    args = [spec.get("adapter") or dataset]
    if spec.get("raw"):
        args += ["--raw", str(spec["raw"])]
    args += ["--size", str(spec.get("size", 32)), "--seed", str(spec.get("seed", 0))]
    args += ["--dataset-name", dataset]
    args += cli_options(spec.get("options"))
    return shlex.join(args)


def bias_args(config: dict, dataset: str) -> str:
    """Arguments after `python -m data_prep bias --source SRC --out OUT`."""
    b = config["datasets"][dataset]["bias"]
    args = [
        "--from-class", str(b["from_class"]), "--to-class", str(b["to_class"]),
        "--fraction", str(b["fraction"]), "--seed", str(b.get("seed", 0)),
    ]
    args += cli_options(b.get("options"))
    return shlex.join(args)


def train_overrides(config: dict, dataset: str, backbone: str, method: str, stage: str) -> dict:
    """The `--set` overrides of one training job, lowest to highest precedence:
    train.set < backbone (batch_size, input_size, pretrained, set) < dataset.set < method.set
    < method.phase1/phase2."""
    over: dict[str, Any] = {}
    over.update((config.get("train") or {}).get("set") or {})
    bb = config["backbones"][backbone] or {}
    if bb.get("batch_size") is not None:
        over["batch_size"] = bb["batch_size"]
    if bb.get("input_size") is not None:
        over["image_size"] = bb["input_size"]
    if bb.get("pretrained") not in (None, ""):
        over["pretrained"] = bb["pretrained"]
    over.update(bb.get("set") or {})
    over.update(config["datasets"][dataset].get("set") or {})
    m = (config.get("methods") or {}).get(method) or {}
    over.update(m.get("set") or {})
    if stage in ("phase1", "phase2"):
        over.update(m.get(stage) or {})
    return over


def train_args(config: dict, dataset: str, backbone: str, method: str, stage: str, threads: int = 1) -> str:
    """Options after `cloc train --prepared DIR --split K --backbone B --method M --phase P
    --seed S --out RUN` (the rule adds those from its wildcards and inputs)."""
    args: list[str] = []
    cfg = (config.get("train") or {}).get("config")
    if cfg:
        args += ["--config", str(cfg)]
    over = train_overrides(config, dataset, backbone, method, stage)
    over.setdefault("threads", threads)
    for key, value in over.items():
        args += ["--set", f"{key}={_fmt(value)}"]
    return shlex.join(args)


def resources(config: dict, kind: str) -> dict[str, int]:
    res = {"threads": 1, "mem_mb": 2000, "runtime": 60, "gpu": 0}
    res.update(((config.get("resources") or {}).get(kind)) or {})
    return res
