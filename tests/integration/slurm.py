"""A throwaway single-node SLURM cluster for integration tests (loopback only).

Everything lives in one temporary folder: ``slurm.conf``, a private MUNGE key and
socket, state/spool/log directories and the PID files.  Nothing is written to
``/etc``: the SLURM commands find the config through ``SLURM_CONF`` (see
:meth:`SlurmCluster.env`), and ``slurm.conf``'s ``AuthInfo`` points the SLURM
daemons and clients at the private ``munged`` socket.

Use it as a context manager (what the pytest fixture does)::

    with SlurmCluster() as cluster:
        subprocess.run(["sbatch", "--wrap", "true"], env=cluster.env(), check=True)

or from the shell through ``tests/integration/slurm_cluster.sh start|status|stop``
(which calls ``python tests/integration/slurm.py``).

Every wait is bounded; :meth:`SlurmCluster.stop` cancels the jobs, then stops the
daemons it started, by PID (SIGTERM, then SIGKILL after a grace period), plus any
``slurmstepd`` left behind by this cluster (recognised by its ``SLURM_CONF``).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["munged", "munge", "unmunge", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scancel", "srun"]
NODE = "localhost"
PARTITION = "debug"
STATE_FILE = "cluster.json"


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the test cluster (not root, no apt, ...)."""


class SlurmError(RuntimeError):
    """The cluster was set up but failed to come up."""


def _log(msg: str) -> None:
    print(f"[slurm-cluster] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- #
# installation
# --------------------------------------------------------------------------- #
def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def ensure_installed(timeout: float = 300) -> float:
    """Install the Debian packages when a binary is missing; returns seconds spent.

    Raises :class:`SlurmUnavailable` when this cannot work here (not root, no
    apt-get) and :class:`SlurmError` when apt-get fails or times out.
    """
    if not missing_binaries():
        return 0.0
    if os.geteuid() != 0:
        raise SlurmUnavailable(f"SLURM binaries missing ({', '.join(missing_binaries())}) and not root")
    if shutil.which("apt-get") is None:
        raise SlurmUnavailable(f"SLURM binaries missing ({', '.join(missing_binaries())}) and no apt-get")
    t0 = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = t0 + timeout
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        left = max(1.0, deadline - time.monotonic())
        _log(" ".join(cmd))
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=left)
        except subprocess.TimeoutExpired as exc:
            raise SlurmError(f"{' '.join(cmd)} timed out after {timeout:.0f}s") from exc
        if proc.returncode != 0:
            raise SlurmError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    if missing_binaries():
        raise SlurmError(f"still missing after apt-get install: {missing_binaries()}")
    return time.monotonic() - t0


def check_prerequisites() -> None:
    """Raise :class:`SlurmUnavailable` when the cluster cannot be started here."""
    if os.geteuid() != 0:
        raise SlurmUnavailable("the test cluster needs root (slurmd runs jobs as the submitting user)")
    if missing_binaries() and shutil.which("apt-get") is None:
        raise SlurmUnavailable("SLURM is not installed and apt-get is unavailable")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def free_port() -> int:
    """A TCP port that is currently free on all interfaces (slurmctld binds 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def real_memory_mb() -> int:
    """Memory to declare for the node: safely below the total reported by ``free -m``.

    slurmd drains a node whose configured RealMemory exceeds what it detects.
    """
    total_kb = None
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                total_kb = int(line.split()[1])
                break
    if total_kb is None:  # pragma: no cover
        return 1024
    total_mb = total_kb // 1024
    return max(256, min(int(total_mb * 0.9), total_mb - 256))


def cpu_count() -> int:
    """CPUs slurmd will detect (``slurmd -C``), falling back to the usable CPUs."""
    try:
        out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=20).stdout
        for tok in out.split():
            if tok.startswith("CPUs="):
                return int(tok.split("=", 1)[1])
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _stop_pid(pid: int, name: str, grace: float = 10.0) -> None:
    if not _pid_alive(pid):
        return
    _log(f"stopping {name} (pid {pid})")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:  # reap if it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    _log(f"{name} (pid {pid}) ignored SIGTERM; SIGKILL")
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _pids_with_env(key: str, value: str, comm: str | None = None) -> list[int]:
    """PIDs whose environment has ``key=value`` (optionally only those named ``comm``)."""
    needle = f"{key}={value}".encode()
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            if comm is not None and Path(f"/proc/{entry}/comm").read_text().strip() != comm:
                continue
            if needle in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                found.append(int(entry))
        except OSError:
            continue
    return found


# --------------------------------------------------------------------------- #
# the cluster
# --------------------------------------------------------------------------- #
class SlurmCluster:
    """A single-node SLURM cluster (munged + slurmctld + slurmd) in a temporary folder."""

    def __init__(self, root: str | os.PathLike | None = None, *, cpus: int | None = None,
                 memory_mb: int | None = None, start_timeout: float = 60.0,
                 install_timeout: float = 300.0, keep: bool = False, die_with_parent: bool = True):
        # Short path: unix socket paths are limited to 108 bytes.
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="clocslurm-", dir="/tmp"))
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        self.install_timeout = install_timeout
        self.keep = keep
        # daemons get SIGTERM if this process dies without stopping them (e.g. pytest killed -9)
        self.die_with_parent = die_with_parent
        self.pids: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.ports: dict[str, int] = {}
        self.cpus_configured: int | None = None
        self.memory_mb_configured: int | None = None

    # paths ------------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "munged.sock"

    @property
    def logdir(self) -> Path:
        return self.root / "log"

    def env(self, base: dict | None = None) -> dict:
        """Environment for SLURM clients (and snakemake) talking to this cluster."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        # srun wrapper first on PATH: the slurm-jobstep executor strips SLURM_CONF from the
        # environment of the `srun` it runs inside each job (it keeps only allocation ids), so a
        # plain srun would look for /etc/slurm/slurm.conf (or configless DNS records) and fail.
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
        # the cluster has no accounting; keep stray user settings out of the way
        for var in list(env):
            if var.startswith(("SBATCH_", "SRUN_", "SALLOC_")) or var in ("SLURM_JOB_ID", "SLURM_JOBID"):
                env.pop(var)
        return env

    # lifecycle ----------------------------------------------------------------
    def __enter__(self) -> "SlurmCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "SlurmCluster":
        check_prerequisites()
        self.timings["install"] = ensure_installed(self.install_timeout)
        t0 = time.monotonic()
        self._write_config()
        self._save_state()
        self._start_munged()
        self._save_state()
        self._start_daemon("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._save_state()
        self._wait_for(self._ctld_responds, "slurmctld to answer", self.start_timeout)
        self._start_daemon("slurmd", ["slurmd", "-D", "-N", NODE, "-f", str(self.conf)])
        self._save_state()
        self._wait_for(self._node_idle, f"node {NODE} to become idle", self.start_timeout)
        self.timings["start"] = time.monotonic() - t0
        self._save_state()
        _log(f"cluster up in {self.timings['start']:.1f}s: SLURM_CONF={self.conf}")
        return self

    def stop(self, logs_to: str | os.PathLike | None = None) -> None:
        """Cancel jobs, stop this cluster's processes by PID, remove the folder.

        Safe to call several times and on a half-started cluster.
        """
        if not self.pids:
            self._load_state()
        if self.pids.get("slurmctld") and _pid_alive(self.pids["slurmctld"]):
            try:
                subprocess.run(["scancel", "--full", "--quiet", "--user", pwd.getpwuid(os.getuid()).pw_name],
                               env=self.env(), capture_output=True, timeout=15)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and self._queue():
                    time.sleep(0.5)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in ("slurmd", "slurmctld"):
            if name in self.pids:
                _stop_pid(self.pids[name], name)
        # job step daemons (and the job shells they run) survive slurmd; they carry our SLURM_CONF
        for pid in _pids_with_env("SLURM_CONF", str(self.conf), comm="slurmstepd"):
            _stop_pid(pid, "slurmstepd", grace=3)
        if "munged" in self.pids:
            _stop_pid(self.pids["munged"], "munged")
        self.pids.clear()
        if logs_to is not None and self.logdir.exists():
            shutil.copytree(self.logdir, Path(logs_to), dirs_exist_ok=True)
            if (self.root / "munge" / "munged.log").exists():
                shutil.copy(self.root / "munge" / "munged.log", Path(logs_to) / "munged.log")
        if self._own_root and not self.keep and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    # status -------------------------------------------------------------------
    def sinfo(self) -> str:
        proc = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T %c %m"], env=self.env(),
                              capture_output=True, text=True, timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else f"sinfo failed: {proc.stderr.strip()}"

    def _queue(self) -> list[str]:
        proc = subprocess.run(["squeue", "-h", "-o", "%i %T"], env=self.env(), capture_output=True, text=True, timeout=10)
        return [ln for ln in proc.stdout.splitlines() if ln.strip() and "COMPLETED" not in ln
                and "CANCELLED" not in ln and "FAILED" not in ln]

    def _ctld_responds(self) -> bool:
        proc = subprocess.run(["scontrol", "ping"], env=self.env(), capture_output=True, text=True, timeout=10)
        return proc.returncode == 0 and "UP" in proc.stdout

    def _node_idle(self) -> bool:
        proc = subprocess.run(["sinfo", "-h", "-n", NODE, "-o", "%T"], env=self.env(),
                              capture_output=True, text=True, timeout=10)
        return proc.returncode == 0 and proc.stdout.strip() == "idle"

    def _wait_for(self, cond, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, pid in self.pids.items():
                if not _pid_alive(pid):
                    raise SlurmError(f"{name} (pid {pid}) died while waiting for {what}\n{self.diagnostics()}")
            try:
                if cond():
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.5)
        raise SlurmError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.diagnostics()}")

    def diagnostics(self) -> str:
        parts = []
        try:
            parts.append("sinfo: " + self.sinfo())
        except (OSError, subprocess.SubprocessError) as exc:
            parts.append(f"sinfo: {exc}")
        for log in sorted([*self.logdir.glob("*.log"), *self.root.glob("munge/*.log")]):
            try:
                tail = log.read_text(errors="replace").splitlines()[-25:]
            except OSError:
                continue
            parts.append(f"--- {log.name} (last lines) ---\n" + "\n".join(tail))
        return "\n".join(parts)

    # setup --------------------------------------------------------------------
    def _write_config(self) -> None:
        for sub in ("etc", "state", "spool", "log", "run", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.ports = {"slurmctld": free_port(), "slurmd": free_port()}
        while self.ports["slurmd"] == self.ports["slurmctld"]:
            self.ports["slurmd"] = free_port()
        cpus = self.cpus_configured = self.cpus or cpu_count()
        mem = self.memory_mb_configured = self.memory_mb or real_memory_mb()
        host = socket.gethostname().split(".")[0]
        (self.root / "etc" / "plugstack.conf").write_text("")
        (self.root / "etc" / "gres.conf").write_text(f"AutoDetect=off\nNodeName={NODE} Name=gpu File=/dev/null Count=1\n")
        (self.root / "bin").mkdir(exist_ok=True)
        srun = self.root / "bin" / "srun"
        srun.write_text(f"#!/bin/sh\nSLURM_CONF='{self.conf}' exec '{shutil.which('srun')}' \"$@\"\n")
        srun.chmod(0o755)
        r = self.root
        self.conf.write_text(f"""\
# generated by tests/integration/slurm.py -- single node, loopback only, no accounting
ClusterName=clocbench
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={self.ports['slurmctld']}
SlurmdPort={self.ports['slurmd']}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={r}/etc/plugstack.conf
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={max(100, mem // cpus)}
ReturnToService=2
# squeue must still list finished jobs when the executor polls (its threshold is 3 x the
# first status interval); the plugin falls back to sacct below that, which needs accounting.
MinJobAge=600
InactiveLimit=0
KillWait=5
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=60
# one fake GPU (a count-only GRES, no device file) so that GPU requests (--gpus=1) are schedulable
GresTypes=gpu
NodeName={NODE} NodeHostname={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""")

    def _start_munged(self) -> None:
        mdir = self.root / "munge"
        mdir.mkdir(exist_ok=True)
        key = mdir / "munge.key"
        key.write_bytes(os.urandom(1024))
        try:
            pw = pwd.getpwnam("munge")
            uid, gid = pw.pw_uid, pw.pw_gid
        except KeyError:  # munge package always creates it; fall back to root + --force
            uid = gid = None
        if uid is not None:
            os.chown(mdir, uid, gid)
            os.chown(key, uid, gid)
        mdir.chmod(0o755)  # clients (root) must reach the socket; munged wants no group/other write
        key.chmod(0o400)
        cmd = ["munged", "--foreground", f"--key-file={key}", f"--socket={self.munge_socket}",
               f"--pid-file={mdir / 'munged.pid'}", f"--log-file={mdir / 'munged.log'}",
               f"--seed-file={mdir / 'munged.seed'}", "--num-threads=2"]
        if uid is None:
            cmd.append("--force")
        out = open(self.logdir / "munged.stdout", "ab")
        kwargs = {"user": uid, "group": gid, "extra_groups": []} if uid is not None else {}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=self._preexec(), **kwargs)
        out.close()
        self.pids["munged"] = proc.pid
        env = self.env()

        def munge_roundtrip() -> bool:
            enc = subprocess.run(["munge", "-n", "-S", str(self.munge_socket)], capture_output=True, timeout=5, env=env)
            if enc.returncode != 0:
                return False
            dec = subprocess.run(["unmunge", "-S", str(self.munge_socket)], input=enc.stdout,
                                 capture_output=True, timeout=5, env=env)
            return dec.returncode == 0

        self._wait_for(munge_roundtrip, "munged to answer (munge -n | unmunge)", 20)

    def _preexec(self):
        if not self.die_with_parent:
            return None
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
        except OSError:  # pragma: no cover
            return None

        def set_pdeathsig() -> None:
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

        return set_pdeathsig

    def _start_daemon(self, name: str, cmd: list[str]) -> None:
        out = open(self.logdir / f"{name}.stdout", "ab")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=self.env(), start_new_session=True, preexec_fn=self._preexec())
        out.close()
        self.pids[name] = proc.pid

    # state (for the shell CLI: start and stop are separate processes) -------------
    def _save_state(self) -> None:
        state = {"root": str(self.root), "conf": str(self.conf), "pids": self.pids,
                 "ports": self.ports, "timings": self.timings}
        (self.root / STATE_FILE).write_text(json.dumps(state, indent=1))

    def _load_state(self) -> None:
        try:
            state = json.loads((self.root / STATE_FILE).read_text())
        except (OSError, ValueError):
            return
        self.pids = {k: int(v) for k, v in state.get("pids", {}).items()}
        self.ports = state.get("ports", {})

    @classmethod
    def attach(cls, root: str | os.PathLike) -> "SlurmCluster":
        """A handle on a cluster started earlier (by ``slurm_cluster.sh start``)."""
        c = cls(root)
        c._own_root = True  # stop() removes the folder
        c._load_state()
        return c


# --------------------------------------------------------------------------- #
# helpers for the tests
# --------------------------------------------------------------------------- #
REPO = Path(__file__).resolve().parents[2]


class BoundedRun:
    """A command in its own process group, with a hard deadline; several may run at once.

    On timeout (or :meth:`kill`) the group gets SIGTERM (snakemake then cancels its SLURM
    jobs), then SIGKILL.
    """

    def __init__(self, cmd: list[str], *, cwd: Path, env: dict, timeout: float, log: Path):
        self.timeout, self.log = timeout, Path(log)
        self.t0 = time.monotonic()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.elapsed: float | None = None
        self.timed_out = False

    def kill(self, grace: float = 20.0) -> None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def wait(self) -> tuple[int, str, float]:
        """(exit code, output tail, seconds); exit code -999 on timeout."""
        try:
            rc = self.proc.wait(timeout=max(0.1, self.t0 + self.timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.kill()
            rc = -999
        except BaseException:  # e.g. pytest-timeout / KeyboardInterrupt: do not leave it running
            self.kill(grace=5)
            raise
        if self.elapsed is None:
            self.elapsed = time.monotonic() - self.t0
        text = self.log.read_text(errors="replace")
        if self.timed_out:
            text += f"\n*** TIMED OUT after {self.timeout:.0f}s ***"
        return rc, text[-6000:], self.elapsed

    def __enter__(self) -> "BoundedRun":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.kill(grace=5)


def run_bounded(cmd: list[str], *, cwd: Path, env: dict, timeout: float, log: Path) -> tuple[int, str, float]:
    """Run ``cmd`` under a hard timeout; returns (rc, output tail, seconds). See :class:`BoundedRun`."""
    with BoundedRun(cmd, cwd=cwd, env=env, timeout=timeout, log=log) as run:
        return run.wait()


def slurm_job_logs(workdir: Path, limit: int = 4000) -> str:
    """Tail of the executor's per-job SLURM logs (kept for failed jobs)."""
    parts = []
    for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[-6:]:
        parts.append(f"--- {log.relative_to(workdir)} ---\n{log.read_text(errors='replace')[-1500:]}")
    return "\n".join(parts)[-limit:]


def copy_workflow(dest: Path) -> Path:
    """A private copy of the repository's workflow to run in (never collides with a local run).

    Everything but version control, environments, outputs and tests is copied (the Snakefile,
    workflow/, experiments/, profiles/, environment.yml, ... and the packages, which ``python -m``
    in the copy imports from its working directory).
    """
    top = {".git", ".venv", "venv", ".snakemake", ".pytest_cache", "data", "results", "runs", "logs",
           "tests", ".ci"}

    def skip(directory: str, names: list[str]) -> set[str]:
        at_top = Path(directory).resolve() == REPO
        return {n for n in names if n == "__pycache__" or n.endswith(".egg-info") or (at_top and n in top)}

    shutil.copytree(REPO, dest, ignore=skip, symlinks=True)
    return dest


# --------------------------------------------------------------------------- #
# command line (used by slurm_cluster.sh)
# --------------------------------------------------------------------------- #
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["start", "stop", "status"])
    ap.add_argument("--dir", required=True, help="cluster folder (created by start, removed by stop)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds to wait for the node to be idle")
    args = ap.parse_args(argv)
    root = Path(args.dir)
    try:
        if args.action == "start":
            if (root / STATE_FILE).exists():
                old = SlurmCluster.attach(root)
                if any(_pid_alive(p) for p in old.pids.values()):
                    _log(f"a cluster is already running in {root}; stop it first")
                    return 1
                shutil.rmtree(root, ignore_errors=True)  # leftover of a dead cluster: start afresh
            root.mkdir(parents=True, exist_ok=True)
            cluster = SlurmCluster(root, start_timeout=args.timeout, die_with_parent=False)
            try:
                cluster.start()
            except BaseException:
                cluster.stop()
                raise
            print(f"export SLURM_CONF={cluster.conf}")
            return 0
        cluster = SlurmCluster.attach(root)
        if args.action == "status":
            alive = {n: (p, _pid_alive(p)) for n, p in cluster.pids.items()}
            if not alive:
                print(f"no cluster in {root}")
                return 1
            for n, (p, ok) in alive.items():
                print(f"{n}: pid {p} {'running' if ok else 'dead'}")
            if not alive or not all(ok for _, ok in alive.values()):
                return 1
            print(cluster.sinfo())
            print(f"export SLURM_CONF={cluster.conf}")
            return 0
        cluster.stop()
        return 0
    except SlurmUnavailable as exc:
        _log(f"unavailable: {exc}")
        return 2
    except SlurmError as exc:
        _log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
