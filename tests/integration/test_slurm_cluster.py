"""End-to-end: the workflow on a real single-node SLURM cluster started by the tests.

* ``test_throwaway_workflow_on_slurm`` proves the cluster + executor plugin + profiles with a
  two-rule workflow (isolates cluster problems from pipeline problems).
* ``test_ci_experiment_slurm_matches_local`` runs the ``ci`` experiment through
  ``--profile profiles/slurm --profile profiles/slurm-noaccounting`` and compares the per-run
  metrics with a local run of the same experiment with the same threads per job.

Both need root (the harness installs the Debian packages when missing); they skip elsewhere.
Run them alone with ``pytest -m slurm -v``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
from pathlib import Path

import pytest

import cloc_slurm_harness as H  # loaded by conftest.py from tests/integration/slurm.py

REPO = H.REPO
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
NOACCOUNTING = ["--profile", str(REPO / "profiles" / "slurm-noaccounting")]

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _slurm_profile_args() -> list[str]:
    """The repository's cluster profile, then the accounting-free override (later wins)."""
    main = REPO / "profiles" / "slurm"
    args = []
    if any((main / f).exists() for f in ("config.yaml", "profile.yaml")):
        args += ["--profile", str(main)]
    else:  # profiles/slurm not there yet: the executor flag alone
        args += ["--executor", "slurm"]
    return args + NOACCOUNTING


def _env(cluster) -> dict:
    """Cluster client environment with this interpreter's bin/ (the venv) first on PATH.

    Jobs inherit it (`sbatch --export=ALL`), so the rules' `python`/`cloc` resolve to the venv
    both locally and inside the SLURM jobs.
    """
    env = cluster.env()
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
    return env


THROWAWAY = textwrap.dedent(
    """
    import sys
    PY = sys.executable

    rule all:
        input: "out/total.txt", "out/gpu.txt"

    # the `gpu` resource must reach SLURM as a GPU request (the test cluster has one fake GPU)
    rule gpu:
        output: "out/gpu.txt"
        threads: 1
        resources: mem_mb=200, runtime=5, gpu=1
        shell:
            PY + " -c \\"import os,sys; open(sys.argv[1],'w').write("
            "os.environ.get('SLURM_JOB_ID','none') + ' ' + os.environ.get('SLURM_GPUS_ON_NODE','0'))\\" {output}"

    rule part:
        output: "out/part_{i}.txt"
        threads: 1
        resources: mem_mb=200, runtime=5
        shell:
            PY + " -c \\"import os,sys; open(sys.argv[1],'w').write("
            "os.environ.get('SLURM_JOB_ID','none') + ' ' + str({wildcards.i}**2))\\" {output}"

    rule total:
        input: expand("out/part_{i}.txt", i=[1, 2, 3])
        output: "out/total.txt"
        threads: 1
        resources: mem_mb=200, runtime=5
        shell:
            PY + " -c \\"import os,sys; v=[open(f).read().split() for f in sys.argv[2:]];"
            "open(sys.argv[1],'w').write(os.environ.get('SLURM_JOB_ID','none') + ' ' + "
            "str(sum(int(x[1]) for x in v)) + ' ' + ','.join(x[0] for x in v))\\" {output} {input}"
    """
)


@pytest.mark.timeout(300)
def test_throwaway_workflow_on_slurm(slurm_cluster, tmp_path):
    work = tmp_path / "throwaway"
    work.mkdir()
    (work / "Snakefile").write_text(THROWAWAY)
    cmd = SNAKEMAKE + ["--snakefile", "Snakefile", "--directory", str(work), "--workflow-profile", "none",
                       *_slurm_profile_args(), "--jobs", "3", "--latency-wait", "5", "--printshellcmds"]
    rc, out, secs = H.run_bounded(cmd, cwd=work, env=_env(slurm_cluster), timeout=180, log=tmp_path / "snakemake.log")
    print(f"[slurm] throwaway workflow: {secs:.1f}s")
    assert rc == 0, f"snakemake failed (rc={rc}):\n{out}\n{H.slurm_job_logs(work)}\n{slurm_cluster.diagnostics()}"
    parts = [(work / f"out/part_{i}.txt").read_text().split() for i in (1, 2, 3)]
    total = (work / "out/total.txt").read_text().split()
    # every job ran inside its own SLURM allocation
    job_ids = [p[0] for p in parts] + [total[0]]
    assert all(j.isdigit() for j in job_ids), job_ids
    assert len(set(job_ids)) == 4, job_ids
    assert total[1] == "14" and total[2].split(",") == [p[0] for p in parts]
    gpu_job, gpus = (work / "out/gpu.txt").read_text().split()
    assert gpu_job.isdigit() and gpu_job not in job_ids
    assert gpus == "1", "the rule's gpu=1 resource did not become a SLURM GPU allocation"


# --------------------------------------------------------------------------- #
# the ci experiment: SLURM versus local
# --------------------------------------------------------------------------- #
CI_CONFIG = REPO / "experiments" / "ci.yaml"


def _metrics_by_run(results: Path) -> dict[str, dict]:
    """{job identity: {"test": ..., "val": ...}} from every metrics.json under ``results``.

    The identity is the file's ``identity`` record (dataset, split, backbone, method, seed,
    phase) when present, else its path under results/ (which encodes the same wildcards).
    """
    found = {}
    for f in sorted(results.rglob("metrics.json")):
        data = json.loads(f.read_text())
        ident = data.get("identity")
        key = json.dumps(ident, sort_keys=True) if isinstance(ident, dict) else str(f.parent.relative_to(results))
        assert key not in found, f"two metrics.json files for {key}"
        found[key] = {k: data[k] for k in ("test", "val") if k in data}
    return found


def _diff(a, b, path="") -> list[str]:
    """Differences between two metric trees (floats equal up to 1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: only in {'local' if k in a else 'slurm'}" for k in set(a) ^ set(b)]
        for k in sorted(set(a) & set(b)):
            out += _diff(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and (
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
        ):
            return []
    elif a == b:
        return []
    return [f"{path}: local={a!r} slurm={b!r}"]


@pytest.mark.timeout(720)
def test_ci_experiment_slurm_matches_local(slurm_cluster, tmp_path):
    if not CI_CONFIG.exists():
        pytest.skip("experiments/ci.yaml does not exist yet (pipeline issue)")
    threads = slurm_cluster.cpus_configured
    common = ["--snakefile", "Snakefile", "--configfile", "experiments/ci.yaml",
              "--max-threads", str(threads), "--latency-wait", "10", "--printshellcmds"]
    env = _env(slurm_cluster)

    # Both runs at once, in private copies of the workflow: the SLURM run spends much of its
    # time between status polls, so overlapping them keeps the test to a few minutes.
    local, slurm = H.copy_workflow(tmp_path / "local"), H.copy_workflow(tmp_path / "slurm")
    with H.BoundedRun(SNAKEMAKE + common + _slurm_profile_args() + ["--jobs", "4"], cwd=slurm, env=env,
                      timeout=540, log=tmp_path / "slurm.log") as run_slurm, \
         H.BoundedRun(SNAKEMAKE + common + ["--cores", str(threads)], cwd=local, env=env,
                      timeout=540, log=tmp_path / "local.log") as run_local:
        rc_local, out_local, t_local = run_local.wait()
        rc_slurm, out_slurm, t_slurm = run_slurm.wait()
    print(f"[slurm] ci experiment (concurrently): local {t_local:.1f}s, slurm {t_slurm:.1f}s")
    assert rc_local == 0, f"local ci run failed (rc={rc_local}):\n{out_local}"
    assert rc_slurm == 0, f"ci run through SLURM failed (rc={rc_slurm}):\n{out_slurm}\n" \
                          f"{H.slurm_job_logs(slurm)}\n{slurm_cluster.diagnostics()}"
    submitted = (tmp_path / "slurm.log").read_text(errors="replace").count("has been submitted with SLURM jobid")
    assert submitted >= 4, f"only {submitted} jobs went through sbatch"

    m_local = _metrics_by_run(local / "results")
    m_slurm = _metrics_by_run(slurm / "results")
    assert m_local, "the local ci run wrote no metrics.json"
    assert set(m_local) == set(m_slurm), (sorted(m_local), sorted(m_slurm))
    assert all(v for v in m_local.values()), "metrics.json without test/val sections"
    diffs = [f"{run}{d}" for run in sorted(m_local) for d in _diff(m_local[run], m_slurm[run])]
    assert not diffs, "per-run metrics differ between SLURM and local:\n" + "\n".join(diffs[:40])
