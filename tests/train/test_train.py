"""Training-engine tests: two-phase CLOC, early stopping, determinism, resume, no-op re-run."""
import json
import math

import pandas as pd
import pytest
import torch

from cloc.config import TrainConfig
from cloc.errors import ClocError, TrainingInterrupted
from cloc.train import Job, train_job

BASE = {"max_epochs": 2, "batch_size": 32, "lr": 3e-3, "threads": 1, "progress": "never"}


def job(prepared, out, method="ce", phase=None, seed=0, **cfg):
    kw = {k: cfg.pop(k) for k in ("margins_from", "init_from", "interrupt_after_epoch", "evaluate") if k in cfg}
    return Job(prepared=prepared, split=0, backbone="test_resnet", method=method, seed=seed, out=out,
               phase=phase, config=TrainConfig.from_dict({**BASE, **cfg}), **kw)


def _strip(metrics):
    return {k: metrics[k] for k in ("test", "val", "epochs_run", "best_epoch", "stop_reason", "config_hash", "margins")
            if k in metrics}


@pytest.fixture(scope="module")
def phase1(prepared, tmp_path_factory):
    out = tmp_path_factory.mktemp("p1") / "run"
    m = train_job(job(prepared, out, "cloc_mm", 1, max_epochs=3, margin_lr=0.05, accuracy_threshold=1.0))
    return out, m


def test_phase_one_learns_margins_and_writes_outputs(phase1):
    out, m = phase1
    for f in ("checkpoint.pt", "best.pt", "history.csv", "margins.json", "config.yaml", "run.json",
              "metrics.json", "predictions.csv", "confusion.csv"):
        assert (out / f).is_file(), f
    assert list(out.glob("events.out.tfevents.*"))
    assert not list(out.glob(".*.tmp"))
    mj = json.loads((out / "margins.json").read_text())
    assert mj["identity"] == {"dataset": "toy", "split": 0, "backbone": "test_resnet", "method": "cloc_mm",
                              "seed": 0, "phase": "1"}
    traj = mj["trajectory"]
    assert [t["epoch"] for t in traj] == [0, 1, 2, 3]
    assert len(mj["margins"]) == 3 and mj["margins"] == traj[-1]["margins"]
    moved = max(abs(a - b) for a, b in zip(traj[0]["margins"], traj[-1]["margins"]))
    assert moved > 1e-3, "margins did not move in phase one"
    assert [e[0] for e in mj["learnable_map"]] == ["fixed"] * 3
    assert [e[1] for e in mj["learnable_map"]] == pytest.approx(mj["margins"])
    assert m["stop_reason"] == "max_epochs" and m["epochs_run"] == 3 and m["best_epoch"] == 3
    assert m["phase"] == "1" and m["identity"]["phase"] == "1"
    assert m["margins"] == pytest.approx(mj["margins"])
    assert set(m["test"]) >= {"accuracy", "mae", "qwk", "amae", "mmae", "one_off_accuracy", "spearman", "rps"}
    assert set(m) >= {"val", "wall_time_s", "train_images_per_s", "device", "versions", "git_commit", "config_hash"}
    hist = pd.read_csv(out / "history.csv")
    assert list(hist["epoch"]) == [1, 2, 3]
    assert {"train_loss", "train_ce", "train_cloc", "train_accuracy", "val_mae", "lr", "margin_0"} <= set(hist)
    assert (hist["train_cloc"] > 0).all()
    preds = pd.read_csv(out / "predictions.csv")
    assert list(preds.columns[:3]) == ["path", "true", "pred"] and len(preds) == 40
    assert preds[[f"p_{k}" for k in range(4)]].sum(axis=1).round(5).eq(1).all()
    assert m["test"]["accuracy"] == pytest.approx((preds["true"] == preds["pred"]).mean())
    conf = pd.read_csv(out / "confusion.csv")
    assert conf.drop(columns="true").to_numpy().sum() == 40


def test_tensorboard_has_losses_and_margins(phase1):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = phase1
    ea = EventAccumulator(str(out))
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    assert {"Loss/train_loss", "Metrics/val_mae", "LR/lr", "C0-C1", "C2-C3"} <= tags
    assert [e.step for e in ea.Scalars("C0-C1")] == [0, 1, 2, 3]


def test_phase_two_keeps_margins_fixed(phase1, prepared, tmp_path):
    p1, _ = phase1
    mj = json.loads((p1 / "margins.json").read_text())
    out = tmp_path / "p2"
    m = train_job(job(prepared, out, "cloc_mm", 2, margins_from=p1 / "margins.json", margin_lr=0.05))
    hist = pd.read_csv(out / "history.csv")
    for k in range(3):
        assert hist[f"margin_{k}"].tolist() == pytest.approx([mj["margins"][k]] * len(hist), abs=1e-6)
    assert m["margins"] == pytest.approx(mj["margins"], abs=1e-6)
    assert m["phase"] == "2"
    info = json.loads((out / "run.json").read_text())
    assert info["init_from"].endswith("checkpoint.pt")
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    assert len(ck["optimizer"]["param_groups"]) == 1  # no margin parameters in phase two


def test_phase_two_starts_from_phase_one_weights(phase1, prepared, tmp_path):
    p1, _ = phase1
    src = torch.load(p1 / "checkpoint.pt", weights_only=False)["model"]
    conv = [k for k in src if k.endswith("weight") and src[k].ndim == 4][0]
    for init, same in (("phase1", True), ("initial", False)):
        out = tmp_path / init
        train_job(job(prepared, out, "cloc_mm", 2, margins_from=p1 / "margins.json", lr=1e-9,
                      max_epochs=1, phase2_init=init, evaluate=False))
        w = torch.load(out / "checkpoint.pt", weights_only=False)["model"][conv]
        assert torch.allclose(w, src[conv], atol=1e-6) == same, init


def test_early_stopping_restores_best_epoch(prepared, tmp_path, monkeypatch):
    import cloc.metrics as cm

    real = cm.compute_metrics
    scripted = iter([0.5, 0.3, 0.3, 0.4, 0.35])  # epoch 2 best (epoch 3 ties on mae, loses on accuracy)
    acc = iter([0.5, 0.6, 0.5, 0.4, 0.5])

    def fake(y_true, y_pred, n_classes, probs=None):
        d = real(y_true, y_pred, n_classes, probs)
        if probs is None:  # training-time validation; evaluation passes probs
            d["mae"], d["accuracy"] = next(scripted), next(acc)
        return d

    monkeypatch.setattr(cm, "compute_metrics", fake)
    m = train_job(job(prepared, tmp_path / "flat", max_epochs=10, patience=3))
    monkeypatch.setattr(cm, "compute_metrics", real)
    assert (m["stop_reason"], m["epochs_run"], m["best_epoch"]) == ("early_stopping", 5, 2)
    best = torch.load(tmp_path / "flat" / "best.pt", weights_only=False)
    last = torch.load(tmp_path / "flat" / "checkpoint.pt", weights_only=False)
    assert best["epoch"] == 2 and last["epoch"] == 5
    k = next(iter(best["model"]))
    assert not torch.equal(best["model"][k], last["model"][k])
    # a learning run: evaluation uses the best epoch's weights, not the last
    m = train_job(job(prepared, tmp_path / "es", lr=2e-2, max_epochs=6, patience=2))
    hist = pd.read_csv(tmp_path / "es" / "history.csv")
    score = [(-r.val_mae, r.val_accuracy) for r in hist.itertuples()]
    best = max(range(len(score)), key=lambda i: (score[i], -i))  # first epoch attaining the max
    assert m["best_epoch"] == int(hist["epoch"][best])
    assert m["val"]["mae"] == pytest.approx(hist["val_mae"][best])
    assert m["val"]["accuracy"] == pytest.approx(hist["val_accuracy"][best])
    ck = torch.load(tmp_path / "es" / "best.pt", weights_only=False)
    assert ck["epoch"] == m["best_epoch"]


def test_deterministic_and_resume_equal_uninterrupted(prepared, tmp_path):
    kw = dict(method="cloc_sm", phase=1, max_epochs=3, accuracy_threshold=1.0, margin_lr=0.05)
    a = train_job(job(prepared, tmp_path / "a", **kw))
    b = train_job(job(prepared, tmp_path / "b", **kw))
    assert _strip(a) == _strip(b)
    ha = pd.read_csv(tmp_path / "a" / "history.csv").drop(columns=["epoch_time_s", "train_images_per_s"])
    hb = pd.read_csv(tmp_path / "b" / "history.csv").drop(columns=["epoch_time_s", "train_images_per_s"])
    pd.testing.assert_frame_equal(ha, hb)

    with pytest.raises(TrainingInterrupted):
        train_job(job(prepared, tmp_path / "c", interrupt_after_epoch=1, **kw))
    assert not (tmp_path / "c" / "metrics.json").exists()
    assert not (tmp_path / "c" / "margins.json").exists()
    assert torch.load(tmp_path / "c" / "checkpoint.pt", weights_only=False)["epoch"] == 1
    c = train_job(job(prepared, tmp_path / "c", **kw))
    assert _strip(c) == _strip(a)
    hc = pd.read_csv(tmp_path / "c" / "history.csv").drop(columns=["epoch_time_s", "train_images_per_s"])
    pd.testing.assert_frame_equal(ha, hc)
    assert json.loads((tmp_path / "c" / "margins.json").read_text())["trajectory"] == \
        json.loads((tmp_path / "a" / "margins.json").read_text())["trajectory"]

    # a finished job re-run is a no-op
    mtime = (tmp_path / "a" / "metrics.json").stat().st_mtime_ns
    again = train_job(job(prepared, tmp_path / "a", **kw))
    assert _strip(again) == _strip(a)
    assert (tmp_path / "a" / "metrics.json").stat().st_mtime_ns == mtime
    # ... but a different config in the same folder is refused
    with pytest.raises(ClocError, match="different configuration"):
        train_job(job(prepared, tmp_path / "a", **{**kw, "max_epochs": 4}))
    # an unfinished run of another configuration is discarded and the job starts afresh
    with pytest.raises(TrainingInterrupted):
        train_job(job(prepared, tmp_path / "d", interrupt_after_epoch=1, **{**kw, "lr": 1e-2}))
    d = train_job(job(prepared, tmp_path / "d", **kw))
    assert _strip(d) == _strip(a)
    assert len(list((tmp_path / "d").glob("events.out.tfevents.*"))) == 1


def test_resume_ce_with_early_stopping_state(prepared, tmp_path):
    kw = dict(lr=2e-2, max_epochs=4, patience=2, seed=3)
    a = train_job(job(prepared, tmp_path / "a", **kw))
    with pytest.raises(TrainingInterrupted):
        train_job(job(prepared, tmp_path / "b", interrupt_after_epoch=2, **kw))
    b = train_job(job(prepared, tmp_path / "b", **kw))
    assert _strip(a) == _strip(b)


def test_loss_on_features(prepared, tmp_path):
    m = train_job(job(prepared, tmp_path / "f", "cloc_mm", 1, loss_on="features", max_epochs=1, augment="none"))
    hist = pd.read_csv(tmp_path / "f" / "history.csv")
    assert math.isfinite(hist["train_cloc"][0]) and hist["train_cloc"][0] > 0
    assert m["epochs_run"] == 1


def test_non_finite_loss_names_epoch_and_keeps_checkpoint(prepared, tmp_path, monkeypatch):
    import cloc.engine as eng

    orig = eng.Objective.forward
    calls = {"n": 0}

    def poisoned(self, f, logits, y):
        calls["n"] += 1
        total, ce, c = orig(self, f, logits, y)
        if calls["n"] == 7:  # epoch 2 (5 steps per epoch), step index 1
            total = total * float("nan")
        return total, ce, c

    monkeypatch.setattr(eng.Objective, "forward", poisoned)
    with pytest.raises(eng.NonFiniteLossError, match=r"epoch 2, step 1"):
        train_job(job(prepared, tmp_path / "nan", max_epochs=3))
    assert torch.load(tmp_path / "nan" / "checkpoint.pt", weights_only=False)["epoch"] == 1
