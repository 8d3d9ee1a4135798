"""One training job: ``ce``, or CLOC phase one / phase two, from a prepared dataset.

Entry point: :func:`train_job` (used by ``cloc train``). Outputs, all written atomically into the
job's folder: ``config.yaml``, ``run.json``, ``checkpoint.pt`` (last epoch, for resume),
``best.pt`` (weights used for evaluation), ``history.csv``, ``margins.json`` (CLOC), TensorBoard
events, and after evaluation ``metrics.json``, ``predictions.csv``, ``confusion.csv``.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .checkpoint import (atomic_torch_save, atomic_write_csv, atomic_write_json, atomic_write_text,
                         load_checkpoint, rng_state, seed_everything, set_rng_state)
from .config import METHODS, NON_SEMANTIC_KEYS, TrainConfig, config_hash
from .data import BatchTransform, load_prepared, read_dataset_meta
from .engine import Engine, Objective
from .errors import ClocError, TrainingInterrupted
from .models import FeaturesAndLogits, check_backbone, create_model, data_config

log = logging.getLogger("cloc.train")

INTERRUPT_ENV = "CLOC_INTERRUPT_AFTER_EPOCH"


# ============================================================================ job description
@dataclass
class Job:
    prepared: str | Path
    split: int
    backbone: str
    method: str
    seed: int
    out: str | Path
    phase: int | str | None = None
    margins_from: str | Path | None = None
    init_from: str | Path | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    evaluate: bool = True
    interrupt_after_epoch: int | None = None  # test hook: raise TrainingInterrupted after this epoch

    @property
    def phase_str(self) -> str:
        return "ce" if self.method == "ce" else str(self.phase)


def _validate_job(job: Job) -> None:
    if job.method not in METHODS:
        import difflib

        close = difflib.get_close_matches(str(job.method), METHODS, n=1)
        raise ClocError(
            f"unknown method {job.method!r}; use one of {', '.join(METHODS)}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
        )
    if job.method == "ce":
        if job.phase not in (None, "ce"):
            raise ClocError(
                f"--phase {job.phase} does not apply to method ce (the cross-entropy baseline has one "
                f"phase); drop --phase"
            )
        if job.margins_from is not None:
            raise ClocError("--margins-from applies only to CLOC phase 2 (method cloc_mm/cloc_sm); drop it for ce")
    else:
        if job.phase is None:
            raise ClocError(f"method {job.method} needs --phase 1 (learn margins) or --phase 2 (fixed margins)")
        try:
            job.phase = int(job.phase)
        except (TypeError, ValueError):
            raise ClocError(f"--phase must be 1 or 2, got {job.phase!r}") from None
        if job.phase not in (1, 2):
            raise ClocError(f"--phase must be 1 or 2, got {job.phase}")
        if job.phase == 1 and job.margins_from is not None:
            raise ClocError("--margins-from is read by phase 2 only; phase 1 learns the margins (drop it)")
        if job.phase == 2 and job.margins_from is None:
            raise ClocError(
                "phase 2 needs phase one's margins: pass --margins-from PHASE1_RUN/margins.json "
                "(run `cloc train ... --phase 1` first)"
            )
    try:
        job.split = int(job.split)
        job.seed = int(job.seed)
    except (TypeError, ValueError):
        raise ClocError(f"--split and --seed must be integers, got {job.split!r}, {job.seed!r}") from None
    if job.seed < 0:
        raise ClocError(f"--seed must be >= 0, got {job.seed}")


def read_margins_file(path: str | Path, method: str, num_classes: int, dataset: str | None = None) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / "margins.json"
    if not p.is_file():
        raise ClocError(
            f"phase one's margins file {p} does not exist; run phase 1 first "
            f"(`cloc train ... --method {method} --phase 1 --out PHASE1_DIR`) and pass PHASE1_DIR/margins.json"
        )
    try:
        m = json.loads(p.read_text())
        margins = [float(v) for v in m["margins"]]
        lmap = m["learnable_map"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ClocError(f"{p} is not a margins.json written by phase one ({type(e).__name__}: {e}); re-run phase 1") from None
    if len(margins) != num_classes - 1:
        raise ClocError(
            f"{p} holds {len(margins)} margins (a {len(margins) + 1}-class problem) but the dataset has "
            f"num_classes={num_classes} (needs {num_classes - 1}); use the margins of a phase-one run on this dataset"
        )
    if m.get("method") and m["method"] != method:
        raise ClocError(
            f"{p} was learned with method {m['method']} but this job is {method}; "
            f"use the margins of a {method} phase-one run"
        )
    want = 1 if method == "cloc_sm" else num_classes - 1
    if not isinstance(lmap, list) or len(lmap) != want:
        raise ClocError(f"{p}: learnable_map must list {want} entries for {method}; re-run phase 1")
    ident = m.get("identity") or {}
    if dataset is not None and ident.get("dataset") not in (None, dataset):
        raise ClocError(
            f"{p} was learned on dataset {ident.get('dataset')!r}, this job trains on {dataset!r}; "
            f"use the margins of a phase-one run on {dataset!r}"
        )
    m["_path"] = str(p)
    return m


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ClocError(f"device {name!r} requested but CUDA is not available here; use device: auto or cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ClocError("device 'mps' requested but MPS is not available; use device: auto or cpu")
    return dev


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except Exception:
        return None


def versions() -> dict:
    import timm

    return {"torch": torch.__version__, "timm": timm.__version__, "python": platform.python_version()}


def _progress_enabled(mode: str) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    return sys.stderr.isatty()


def _better(cand: tuple, best: tuple | None) -> bool:
    return best is None or cand > best


def _score(metrics: dict, monitor: str) -> tuple:
    """Sortable key, larger is better: (monitor, tie-break)."""
    from .metrics import METRICS

    def signed(name):
        v = metrics[name]
        v = -math.inf if (v is None or not math.isfinite(v)) else v
        return v if METRICS[name].higher_is_better else -v

    tie = "mae" if monitor == "accuracy" else "accuracy"
    return (signed(monitor), signed(tie))


def _build_loss(method: str, K: int, device, writer, lmap, reduction):
    if method == "ce":
        return None
    from .loss import OrdinalContrastiveLoss_mm, OrdinalContrastiveLoss_sm

    cls = OrdinalContrastiveLoss_mm if method == "cloc_mm" else OrdinalContrastiveLoss_sm
    try:
        return cls(K, device=device, summaryWriter=writer, learnable_map=lmap, reduction=reduction).to(device)
    except ValueError as e:
        raise ClocError(f"invalid learnable_map for {method} with {K} classes: {e}") from None


def _margins(loss_mod) -> list[float]:
    if loss_mod is None:
        return []
    return [float(v) for v in loss_mod.margins().detach().cpu().tolist()]


def _log_margins(loss_mod, step: int) -> None:
    """Have the loss write its margin scalars (its writer also holds the custom layout)."""
    if loss_mod is not None:
        loss_mod.log_margins(step)


# ============================================================================ main entry
def train_job(job: Job) -> dict:
    """Run (or resume, or skip) one job. Returns metrics.json's content when evaluated, else
    run.json's content."""
    cfg = job.config
    _validate_job(job)
    check_backbone(job.backbone)
    meta = read_dataset_meta(job.prepared)
    K = int(meta["num_classes"])
    dataset = str(meta.get("name") or Path(job.prepared).name)
    identity = {
        "dataset": dataset, "split": job.split, "backbone": job.backbone,
        "method": job.method, "seed": job.seed, "phase": job.phase_str,
    }
    margins_in = None
    lmap = cfg.learnable_map
    if job.method != "ce" and job.phase == 2:
        margins_in = read_margins_file(job.margins_from, job.method, K, dataset)
        lmap = margins_in["learnable_map"]
        if cfg.learnable_map is not None:
            log.warning("phase 2 takes its margins from %s; config learnable_map ignored", margins_in["_path"])
    if job.method != "ce" and job.phase == 1 and lmap is not None:
        want = 1 if job.method == "cloc_sm" else K - 1
        if len(lmap) != want:
            raise ClocError(f"learnable_map has {len(lmap)} entries; {job.method} with {K} classes needs {want}")
    init_from = None
    if job.init_from is not None:
        init_from = Path(job.init_from)
    elif job.method != "ce" and job.phase == 2 and cfg.phase2_init == "phase1":
        init_from = Path(margins_in["_path"]).parent / "checkpoint.pt"
    if init_from is not None and not init_from.is_file():
        raise ClocError(
            f"initial weights {init_from} not found; phase 2 starts from phase one's checkpoint.pt by "
            f"default (pass --init-from PHASE1_DIR/checkpoint.pt, or set phase2_init: initial)"
        )
    out = Path(job.out)
    semantic = {k: v for k, v in cfg.to_dict().items() if k not in NON_SEMANTIC_KEYS}
    chash = config_hash({
        "identity": identity, "config": semantic,
        "margins": lmap if job.method != "ce" else None,
        "init": "file" if init_from is not None else "initial",
        "dataset_hash": meta.get("content_hash"),
    })

    # ---- completed? resume?
    metrics_path = out / "metrics.json"
    if metrics_path.is_file():
        old = json.loads(metrics_path.read_text())
        if old.get("config_hash") == chash:
            log.info("%s: already complete (config hash %s); nothing to do", out, chash)
            return old
        raise ClocError(
            f"{out} already holds a finished run with a different configuration (hash "
            f"{old.get('config_hash')} != {chash}); use another --out or delete {out}"
        )
    ckpt_path = out / "checkpoint.pt"
    state = None
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        if state.get("config_hash") != chash:
            # an unfinished run of another configuration (e.g. a workflow re-running a job whose
            # inputs changed): start afresh rather than resume something else
            log.warning("%s: discarding an unfinished run of a different configuration (hash %s != %s)",
                        out, state.get("config_hash"), chash)
            _clear_run(out)
            state = None

    if state is not None and state.get("finished"):
        log.info("%s: training already finished (%s)", out, state.get("stop_reason"))
    else:
        _train(job, cfg, identity, K, lmap, init_from, margins_in, chash, state)

    if job.evaluate:
        from .evaluate import evaluate_run

        return evaluate_run(out)
    return json.loads((out / "run.json").read_text())


def _train(job, cfg, identity, K, lmap, init_from, margins_in, chash, state):
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    amp = cfg.amp
    if amp != "none" and device.type != "cuda":
        log.warning("amp: %s applies on CUDA only; training in float32 on %s", amp, device)
        amp = "none"
    channels_last = cfg.channels_last and device.type == "cuda"

    phase2 = job.method != "ce" and job.phase == 2
    needs_val = job.method == "ce" or phase2
    data = load_prepared(job.prepared, job.split, which=("train", "val"))
    if len(data.splits["train"]) < 2:
        raise ClocError(f"split {job.split} of {job.prepared} has {len(data.splits['train'])} training images; need >= 2")
    if needs_val and len(data.splits["val"]) == 0:
        raise ClocError(
            f"split {job.split} of {job.prepared} has no validation images, which early stopping needs; "
            f"prepare the dataset with a validation split"
        )

    # ---- model, loss, optimiser (all seeded from the job seed)
    seed_everything(job.seed)
    model = create_model(job.backbone, K, cfg.pretrained, cfg.drop_rate)
    if init_from is not None:
        src = load_checkpoint(init_from)
        sd = src.get("model", src)
        try:
            model.load_state_dict(sd)
        except RuntimeError as e:
            raise ClocError(
                f"cannot initialise {job.backbone} ({K} classes) from {init_from}: it holds another "
                f"architecture or class count ({str(e).splitlines()[0]}...)"
            ) from None
    dcfg = data_config(model)
    size = cfg.image_size or (dcfg["input_size"] if cfg.pretrained != "none" else data.image_size)
    mean = cfg.mean or dcfg["mean"]
    std = cfg.std or dcfg["std"]
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    from torch.utils.tensorboard import SummaryWriter

    start_epoch = (state["epoch"] + 1) if state is not None else 1
    writer = SummaryWriter(log_dir=str(out), purge_step=start_epoch if state is not None else None)
    loss_mod = _build_loss(job.method, K, device, writer, lmap, cfg.reduction)
    objective = Objective(loss_mod, cfg.lam, cfg.loss_on)
    net = FeaturesAndLogits(model, need_features=objective.needs_features)
    groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": cfg.lr,
               "weight_decay": cfg.weight_decay, "name": "model"}]
    if loss_mod is not None:
        mp = [p for p in loss_mod.parameters() if p.requires_grad]
        if mp:
            groups.append({"params": mp, "lr": cfg.effective_margin_lr, "weight_decay": 0.0, "name": "margins"})
    opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(groups)
    if cfg.scheduler == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.max_epochs)
    elif cfg.scheduler == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    else:
        scheduler = None

    tt = BatchTransform(size, mean, std, cfg.augment, cfg.crop_scale, cfg.crop_ratio, channels_last)
    te = BatchTransform(size, mean, std, "none", channels_last=channels_last)
    engine = Engine(net, objective, optimizer, device, tt, te, amp, cfg.workers, _progress_enabled(cfg.progress))
    eval_bs = cfg.eval_batch_size or max(cfg.batch_size, 64)

    run_info = {
        "identity": identity, "config_hash": chash, "prepared": str(Path(job.prepared).resolve()),
        "margins_from": margins_in["_path"] if margins_in else None,
        "init_from": str(init_from) if init_from is not None else None,
        "num_classes": K, "image_size": size, "mean": mean, "std": std,
        "device": str(device), "amp": amp, "channels_last": channels_last,
        "versions": versions(), "git_commit": git_commit(), "finished": False,
    }
    atomic_write_text(out / "config.yaml", cfg.to_yaml())

    # ---- state (fresh or resumed)
    if state is None:
        history: list[dict] = []
        trajectory = [{"epoch": 0, "margins": _margins(loss_mod)}] if loss_mod is not None else []
        es = {"best_score": None, "best_epoch": None, "bad_epochs": 0}
        train_time = 0.0
        train_images = 0
        wall_before = 0.0
        if loss_mod is not None:
            _log_margins(loss_mod, 0)
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if loss_mod is not None:
            loss_mod.load_state_dict(state["loss"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        if engine.scaler is not None and state.get("scaler") is not None:
            engine.scaler.load_state_dict(state["scaler"])
        history = state["history"]
        trajectory = state["trajectory"]
        es = state["early_stopping"]
        train_time = state["train_time_s"]
        train_images = state["train_images"]
        wall_before = state["wall_time_s"]
        set_rng_state(state["rng"])
        log.info("%s: resuming after epoch %d", out, state["epoch"])
        # A kill between the history and checkpoint writes leaves history.csv one epoch ahead.
        atomic_write_csv(out / "history.csv", pd.DataFrame(history))
    atomic_write_json(out / "run.json", {**run_info, "epochs_run": len(history)})

    interrupt_after = job.interrupt_after_epoch
    if interrupt_after is None and os.environ.get(INTERRUPT_ENV):
        interrupt_after = int(os.environ[INTERRUPT_ENV])

    t_wall = time.perf_counter()
    stop_reason = None
    train, val = data.splits["train"], data.splits["val"]
    from .metrics import compute_metrics

    epoch = start_epoch - 1
    if state is not None and state.get("stop_reason"):
        stop_reason = state["stop_reason"]
    while stop_reason is None and epoch < cfg.max_epochs:
        epoch += 1
        t0 = time.perf_counter()
        stats = engine.train_epoch(train, cfg.batch_size, job.seed, epoch)
        t_train = time.perf_counter() - t0
        train_time += t_train
        train_images += stats["images"]
        row = {"epoch": epoch, "train_loss": stats["loss"], "train_ce": stats["ce"],
               "train_cloc": stats["cloc"], "train_accuracy": stats["accuracy"]}
        vm = {}
        if len(val):
            logits = engine.predict(val, eval_bs)
            pred = logits.argmax(1).numpy()
            row["val_ce"] = float(torch.nn.functional.cross_entropy(logits, val.labels))
            vm = compute_metrics(val.labels.numpy(), pred, K)
            row.update({f"val_{k}": v for k, v in vm.items()})
        row["lr"] = optimizer.param_groups[0]["lr"]
        margins = _margins(loss_mod)
        if loss_mod is not None:
            row["margin_lr"] = optimizer.param_groups[1]["lr"] if len(optimizer.param_groups) > 1 else float("nan")
            row.update({f"margin_{k}": v for k, v in enumerate(margins)})
            trajectory.append({"epoch": epoch, "margins": margins})
        row["epoch_time_s"] = time.perf_counter() - t0
        row["train_images_per_s"] = stats["images"] / max(t_train, 1e-9)
        history.append(row)
        if scheduler is not None:
            scheduler.step()

        # ---- stopping rules
        improved = False
        if job.method != "ce" and job.phase == 1:
            improved = True  # phase one evaluates its final weights
            es["best_epoch"] = epoch
            if stats["accuracy"] >= cfg.accuracy_threshold:
                stop_reason = "accuracy_threshold"
        else:
            score = _score(vm, cfg.monitor)
            if _better(score, None if es["best_score"] is None else tuple(es["best_score"])):
                es.update(best_score=list(score), best_epoch=epoch, bad_epochs=0)
                improved = True
            else:
                es["bad_epochs"] += 1
                if es["bad_epochs"] >= cfg.patience:
                    stop_reason = "early_stopping"
        if stop_reason is None and epoch >= cfg.max_epochs:
            stop_reason = "max_epochs"

        # ---- logging
        for k, v in row.items():
            if k == "epoch" or k.startswith("margin_") or not isinstance(v, float) or not math.isfinite(v):
                continue
            tag = ("Loss/" + k) if k.startswith(("train_loss", "train_ce", "train_cloc", "val_ce")) else (
                "LR/" + k if k in ("lr", "margin_lr") else "Metrics/" + k)
            writer.add_scalar(tag, v, epoch)
        if loss_mod is not None:
            _log_margins(loss_mod, epoch)
        writer.flush()
        msg = (f"[{identity['dataset']} s{job.split} {job.backbone} {job.method} p{identity['phase']} "
               f"seed{job.seed}] epoch {epoch}/{cfg.max_epochs} loss {stats['loss']:.4f} "
               f"train_acc {stats['accuracy']:.3f}")
        if vm:
            msg += f" val_acc {vm['accuracy']:.3f} val_mae {vm['mae']:.3f}"
        if margins:
            msg += " margins " + ",".join(f"{m:.3f}" for m in margins)
        msg += f" ({row['train_images_per_s']:.0f} img/s)"
        log.info(msg)

        # ---- persist: best weights, history, checkpoint (checkpoint last: it marks the epoch done)
        if improved:
            atomic_torch_save(out / "best.pt", {"model": model.state_dict(), "epoch": epoch,
                                               "identity": identity, "config_hash": chash,
                                               "num_classes": K, "backbone": job.backbone})
        atomic_write_csv(out / "history.csv", pd.DataFrame(history))
        wall = wall_before + (time.perf_counter() - t_wall)
        finished = stop_reason is not None
        if finished:
            if loss_mod is not None:
                _write_margins_json(out, identity, job.method, loss_mod, trajectory)
            atomic_write_json(out / "run.json", {
                **run_info, "finished": True, "epochs_run": len(history), "best_epoch": es["best_epoch"],
                "stop_reason": stop_reason, "wall_time_s": wall,
                "train_images_per_s": train_images / max(train_time, 1e-9),
                "margins": _margins(loss_mod) if loss_mod is not None else None,
            })
        atomic_torch_save(out / "checkpoint.pt", {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "loss": loss_mod.state_dict() if loss_mod is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": engine.scaler.state_dict() if engine.scaler is not None else None,
            "epoch": epoch, "history": history, "trajectory": trajectory, "early_stopping": es,
            "train_time_s": train_time, "train_images": train_images, "wall_time_s": wall,
            "rng": rng_state(), "config_hash": chash, "identity": identity, "num_classes": K,
            "backbone": job.backbone, "finished": finished, "stop_reason": stop_reason,
        })
        if interrupt_after is not None and epoch >= interrupt_after and not finished:
            writer.close()
            raise TrainingInterrupted(f"interrupted after epoch {epoch} ({INTERRUPT_ENV} / test hook)")
    writer.close()


RUN_FILES = ("checkpoint.pt", "best.pt", "history.csv", "margins.json", "run.json", "config.yaml",
             "metrics.json", "predictions.csv", "confusion.csv")


def _clear_run(out: Path) -> None:
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for p in list(out.glob("events.out.tfevents.*")) + list(out.glob("predictions_*.csv")) + list(out.glob("confusion_*.csv")):
        p.unlink(missing_ok=True)


def _write_margins_json(out, identity, method, loss_mod, trajectory):
    atomic_write_json(Path(out) / "margins.json", {
        "identity": identity, "method": method, "margins": _margins(loss_mod),
        "learnable_map": loss_mod.to_learnable_map("fixed"), "trajectory": trajectory,
    })
