"""Helpers for the pipeline tests: run Snakemake on the repository's Snakefile in a temporary
working directory (so tests never touch results/, data/ or .snakemake/ of the checkout)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"  # `cloc`, `snakemake` of this environment
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def snakemake(args, workdir: Path, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir), *map(str, args)]
    return subprocess.run(cmd, cwd=workdir, env=env(), capture_output=True, text=True, timeout=timeout, **kw)


def job_counts(text: str) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake run or dry run."""
    m = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\ntotal\s+(\d+)", text, re.S)
    assert m, f"no job stats in output:\n{text[-3000:]}"
    counts = {}
    for line in m.group(1).splitlines():
        name, n = line.split()
        counts[name] = int(n)
    counts["total"] = int(m.group(2))
    return counts


def load_config(name: str) -> dict:
    return yaml.safe_load((REPO / "experiments" / f"{name}.yaml").read_text())


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
