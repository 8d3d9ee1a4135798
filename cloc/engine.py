"""The inner loops: one training epoch and batched prediction.

Kept free of files and configuration so the benchmark can time exactly what training runs.
Per-step work is the forward/backward/step plus a few on-device accumulations: no ``.item()``
or host sync per step; statistics are read once per epoch.
"""
from __future__ import annotations

import contextlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import BatchTransform, SplitData, TrainBatches, iterate_eval, iterate_train
from .errors import ClocError


class NonFiniteLossError(ClocError):
    """The training loss became NaN/inf; the last good checkpoint is kept."""


class Objective(nn.Module):
    """cross-entropy(logits) [+ lam * CLOC(logits or features)]. Returns (total, ce, cloc)."""

    def __init__(self, cloc_loss: nn.Module | None = None, lam: float = 1.0, loss_on: str = "logits"):
        super().__init__()
        self.cloc = cloc_loss
        self.lam = float(lam)
        self.loss_on = loss_on

    @property
    def needs_features(self) -> bool:
        return self.cloc is not None and self.loss_on == "features"

    def forward(self, features, logits, labels):
        ce = F.cross_entropy(logits.float(), labels)
        if self.cloc is None:
            return ce, ce, None
        # The CLOC loss itself computes in float32 when given half-precision outputs.
        c = self.cloc(features if self.loss_on == "features" else logits, labels)
        return ce + self.lam * c, ce, c


def autocast_ctx(device: torch.device, amp: str):
    if amp == "none" or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


class Engine:
    def __init__(self, net: nn.Module, objective: Objective, optimizer: torch.optim.Optimizer,
                 device: torch.device, transform_train: BatchTransform, transform_eval: BatchTransform,
                 amp: str = "none", workers: int = 0, progress: bool = False):
        self.net = net
        self.objective = objective
        self.optimizer = optimizer
        self.device = device
        self.tt = transform_train
        self.te = transform_eval
        self.amp = amp if device.type == "cuda" else "none"
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == "fp16" else None
        self.workers = workers
        self.progress = progress
        self.non_blocking = device.type == "cuda"

    def _bar(self, it, total, desc):
        if not self.progress:
            return it
        from tqdm import tqdm

        return tqdm(it, total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)

    def train_epoch(self, data: SplitData, batch_size: int, seed: int, epoch: int) -> dict:
        """One pass over ``data``. Returns per-epoch means (python floats) and counts."""
        self.net.train()
        self.objective.train()
        batches = TrainBatches(data, batch_size, seed, epoch, self.tt)
        nb = len(batches)
        dev = self.device
        losses = torch.zeros(nb, 3, device=dev)  # total, ce, cloc per step (stays on device)
        sizes = torch.zeros(nb, device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        n_seen = 0
        opt = self.optimizer
        it = iterate_train(batches, self.workers, pin_memory=dev.type == "cuda")
        for i, (xb, yb, theta) in enumerate(self._bar(it, nb, f"epoch {epoch}")):
            xb = xb.to(dev, non_blocking=self.non_blocking)
            yb = yb.to(dev, non_blocking=self.non_blocking)
            x = self.tt(xb, theta)
            with autocast_ctx(dev, self.amp):
                feats, logits = self.net(x)
            total, ce, cl = self.objective(feats, logits, yb)
            opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(total).backward()
                self.scaler.step(opt)
                self.scaler.update()
            else:
                total.backward()
                opt.step()
            with torch.no_grad():
                b = yb.shape[0]
                losses[i, 0] = total.detach()
                losses[i, 1] = ce.detach()
                if cl is not None:
                    losses[i, 2] = cl.detach()
                sizes[i] = b
                correct += (logits.detach().argmax(1) == yb).sum()
            n_seen += b
        # one host sync per epoch
        finite = torch.isfinite(losses).all(1)
        if nb and not bool(finite.all()):
            step = int((~finite).nonzero()[0, 0])
            raise NonFiniteLossError(
                f"non-finite training loss at epoch {epoch}, step {step} (0-based batch index); "
                f"the last good checkpoint is kept. Lower lr, or use amp: none/bf16 instead of fp16"
            )
        w = sizes / sizes.sum().clamp(min=1)
        means = (losses * w[:, None]).sum(0).tolist() if nb else [float("nan")] * 3
        return {
            "loss": means[0],
            "ce": means[1],
            "cloc": means[2] if self.objective.cloc is not None else float("nan"),
            "accuracy": int(correct) / max(n_seen, 1),
            "images": n_seen,
            "steps": nb,
        }

    @torch.no_grad()
    def predict(self, data: SplitData, batch_size: int) -> torch.Tensor:
        """Logits (N, K) float32 on CPU, in the split's order."""
        self.net.eval()
        outs = []
        for xb, _ in iterate_eval(data, batch_size):
            x = self.te(xb.to(self.device, non_blocking=self.non_blocking))
            with autocast_ctx(self.device, self.amp):
                _, logits = self.net(x)
            outs.append(logits.float().cpu())
        if not outs:
            return torch.zeros(0, 0)
        return torch.cat(outs)
