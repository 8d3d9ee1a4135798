"""Fixtures for the SLURM integration tests: a single-node cluster started for the session."""

from __future__ import annotations

import atexit
import importlib.util
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# load the harness by path (works with any pytest --import-mode); tests import it as
# `cloc_slurm_harness`
_spec = importlib.util.spec_from_file_location("cloc_slurm_harness", HERE / "slurm.py")
slurm_harness = importlib.util.module_from_spec(_spec)
sys.modules["cloc_slurm_harness"] = slurm_harness
_spec.loader.exec_module(slurm_harness)

CLUSTER_START_TIMEOUT = float(os.environ.get("CLOC_SLURM_START_TIMEOUT", "90"))
INSTALL_TIMEOUT = float(os.environ.get("CLOC_SLURM_INSTALL_TIMEOUT", "300"))


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A running single-node SLURM cluster; skips where SLURM cannot run (not root, no apt-get).

    The daemons are stopped by PID in the finalizer (and, as a backstop, at interpreter exit),
    whatever the tests did. The daemon logs are copied to the session's tmp folder.
    """
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.skip("snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")
    try:
        slurm_harness.check_prerequisites()
    except slurm_harness.SlurmUnavailable as exc:
        pytest.skip(f"cannot run a SLURM test cluster here: {exc}")

    cluster = slurm_harness.SlurmCluster(start_timeout=CLUSTER_START_TIMEOUT, install_timeout=INSTALL_TIMEOUT)
    logs = tmp_path_factory.mktemp("slurm-logs")
    atexit.register(cluster.stop)
    try:
        cluster.start()  # SlurmError -> error, not skip: where SLURM can run, it must
        t = cluster.timings
        print(f"\n[slurm] install {t.get('install', 0):.1f}s, cluster start {t.get('start', 0):.1f}s, "
              f"SLURM_CONF={cluster.conf}")
        yield cluster
    finally:
        cluster.stop(logs_to=logs)
        atexit.unregister(cluster.stop)
