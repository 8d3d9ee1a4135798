"""CLOC: the multi-margin ordinal N-pair contrastive loss (Pitawela, Carneiro, Chen, CVPR 2025).

Semantics (identical to the published code, without its defects). With s(i, j) the cosine
similarity of rows i and j, K-1 adjacent margins d_k = softplus(theta_k), class positions
c_0 = 0, c_k = d_0 + ... + d_{k-1} and M(a, b) = |c_a - c_b|, every anchor i, positive
p in P(i) = {p != i : y_p = y_i} and negative n in N(i) = {n : y_n != y_i} contribute

    l(i, p, n) = max(0, s(i, n) - s(i, p) + M(y_i, y_n)).

Reductions of the per-anchor hinge sums h_i = sum_{p, n} l(i, p, n):

- ``"reference"`` (default): L_i = h_i / (|P(i)| * |N(i)|**2). The published implementation
  divides by the negative count twice (once inside its per-positive loop, once in the final
  average); the paper's numbers were produced with it, so it is the default here.
- ``"mean"``: L_i = h_i / (|P(i)| * |N(i)|), the plain mean over (positive, negative) pairs.

Both return (1/B) * sum_i L_i over all B anchors, with L_i = 0 where P(i) or N(i) is empty.

The published code loops in Python over positive columns and builds B x B tensors per step.
Here, for each (anchor, negative) the hinge sum over positives is ``count * a - prefix_sum``
with a = s(i, n) + M(y_i, y_n) and the anchor's positive similarities below a counted and
summed in one sorted pass per row, so the loss costs O(B^2 log B) time and O(B^2) memory, and
its exact gradient comes from the same counts (see ``_HingeSums``).
"""

from __future__ import annotations

import math
import numbers
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = [
    "OrdinalContrastiveLoss_mm",
    "OrdinalContrastiveLoss_sm",
    "REDUCTIONS",
    "class_distance_matrix",
    "ordinal_contrastive_loss",
    "ordinal_contrastive_terms",
]

REDUCTIONS = ("reference", "mean")
_COSINE_EPS = 1e-8
_INIT_LOW, _INIT_HIGH = 0.5, 1.0  # random initial margins are drawn uniformly from this range
_MODES = ("learnable", "fixed")
_PARALLEL_SORT_MIN_ROWS = 512  # below this, starting threads costs more than it saves


# --------------------------------------------------------------------------------------------
# Functional core
# --------------------------------------------------------------------------------------------
def class_distance_matrix(margins: torch.Tensor) -> torch.Tensor:
    """(K, K) matrix M(a, b) = |c_a - c_b| from the K-1 adjacent margins."""
    positions = torch.cat([margins.new_zeros(1), torch.cumsum(margins, dim=0)])
    return (positions[:, None] - positions[None, :]).abs()


def _argsort_rows(key: torch.Tensor) -> torch.Tensor:
    """Indices that sort each row of ``key`` in ascending order.

    On CPU, NumPy's vectorised sort (x86-simd-sort / Highway) is several times faster than
    ``torch.sort`` and releases the GIL, so row blocks are sorted on ``torch.get_num_threads()``
    threads. The sort needs no autograd: ``_HingeSums`` differentiates by hand.
    """
    if key.device.type != "cpu":
        return key.argsort(dim=1)
    rows = key.detach().numpy()
    n_threads = min(torch.get_num_threads(), len(rows) // _PARALLEL_SORT_MIN_ROWS)
    if n_threads <= 1:
        return torch.from_numpy(np.argsort(rows, axis=1))
    order = np.empty(rows.shape, dtype=np.int64)

    def sort_block(block: slice) -> None:
        order[block] = np.argsort(rows[block], axis=1)

    # Small blocks keep NumPy's temporary index arrays small. A pool per call: cheap next to
    # the sort, and safe in forked DataLoader workers.
    bounds = np.linspace(0, len(rows), 4 * n_threads + 1).astype(int)
    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(sort_block, [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]))
    return torch.from_numpy(order)


class _HingeSums(torch.autograd.Function):
    """Per-anchor sums h_i = sum_{p in P(i), n in N(i)} relu(sim[i,n] + D[y_i,y_n] - sim[i,p]).

    With key[i,j] = sim[i,j] + D[y_i,y_j] (D is 0 within a class, so positives keep their
    similarity and negatives get their threshold a_in), one sort of each row puts every
    positive before the thresholds it lies under. Walking a row in sorted order, a negative
    with c positives before it whose similarities sum to S contributes c * a_in - S.
    The exact gradient comes from the same pass (relu'(0) = 0, as in PyTorch; an exact tie
    between a positive's similarity and a threshold may take the other one-sided gradient):
    dh_i/da_in = c, and dh_i/dsim[i,p] = -(number of negatives after p in the sorted row).
    Nothing larger than B x B is built, and autograd stores one B x B gradient matrix.
    """

    @staticmethod
    def forward(ctx, sim, class_distance, labels, role, n_negatives):
        # role[i, j]: 1 for a positive of anchor i, -1 for a negative, 0 for i itself. Masks
        # are multiplied as floats: on CPU that is several times faster than torch.where.
        one_hot = F.one_hot(labels, class_distance.shape[0]).to(sim.dtype)
        key = sim + one_hot @ class_distance @ one_hot.T  # exact: one-hot rows pick one entry
        order = _argsort_rows(key)
        key_sorted = key.gather(1, order)
        del key
        role_sorted = role.gather(1, order)
        is_pos = (role_sorted > 0).to(sim.dtype)
        is_neg = (role_sorted < 0).to(sim.dtype)
        del role_sorted
        # In-place from here on: at B = 4096 every B x B float temporary is 64 MiB.
        n_pos_before = is_pos.cumsum(dim=1)
        pos_sum_before = (key_sorted * is_pos).cumsum_(dim=1)
        contribution = (n_pos_before * key_sorted).sub_(pos_sum_before).mul_(is_neg)
        del key_sorted, pos_sum_before
        hinge = contribution.sum(dim=1)
        del contribution

        if not any(ctx.needs_input_grad[:2]):  # e.g. a validation loss under no_grad
            return hinge
        # d/dsim of a positive: minus the negatives sorted after it; of a negative: n_pos_before.
        n_neg_after = is_neg.cumsum(dim=1).neg_().add_(n_negatives.to(sim.dtype)[:, None])
        grad_sorted = n_pos_before.mul_(is_neg).sub_(n_neg_after.mul_(is_pos))
        del n_neg_after, is_pos, is_neg
        grad_key = torch.empty_like(grad_sorted).scatter_(1, order, grad_sorted)
        ctx.save_for_backward(grad_key, one_hot, role)
        return hinge

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_hinge):
        grad_key, one_hot, role = ctx.saved_tensors
        grad_sim = grad_key * grad_hinge[:, None]
        # dL/dD[a, b]: the thresholds' gradients summed over anchors of class a, negatives of b.
        grad_threshold = grad_sim * (role < 0).to(grad_sim.dtype)
        grad_class_distance = one_hot.T @ grad_threshold @ one_hot
        return grad_sim, grad_class_distance, None, None, None


def _cosine_similarity_matrix(output: torch.Tensor) -> torch.Tensor:
    # Each norm clamped separately at 1e-8, as torch.nn.functional.cosine_similarity does.
    unit = output / torch.linalg.vector_norm(output, dim=1, keepdim=True).clamp_min(_COSINE_EPS)
    return unit @ unit.T


def ordinal_contrastive_terms(
    output: torch.Tensor, labels: torch.Tensor, margins: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-anchor terms of the CLOC loss, before any reduction.

    Returns ``(hinge_sums, n_positives, n_negatives)``, each of shape (B,): h_i summed over
    all (positive, negative) pairs of anchor i, |P(i)| and |N(i)|. Inputs are not validated
    here; the loss modules do that.
    """
    sim = _cosine_similarity_matrix(output)
    same = labels[:, None] == labels[None, :]
    role = same.to(torch.int8) * 2 - 1  # 1: positive, -1: negative
    role.fill_diagonal_(0)  # an anchor is not its own positive
    n_same = same.sum(dim=1)
    n_negatives = labels.shape[0] - n_same
    hinge = _HingeSums.apply(sim, class_distance_matrix(margins), labels, role, n_negatives)
    return hinge, n_same - 1, n_negatives


def reduce_terms(
    hinge_sums: torch.Tensor, n_positives: torch.Tensor, n_negatives: torch.Tensor, reduction: str
) -> torch.Tensor:
    """Average per-anchor hinge sums into the scalar loss (see the module docstring)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    n_pos = n_positives.to(hinge_sums.dtype)
    n_neg = n_negatives.to(hinge_sums.dtype)
    denominator = n_pos * n_neg * (n_neg if reduction == "reference" else 1.0)
    # Anchors without a positive or a negative contribute 0 but still count in the mean.
    per_anchor = hinge_sums / denominator.clamp_min(1.0)
    if hinge_sums.numel() == 0:
        return hinge_sums.sum()  # a zero that is still part of the graph
    return per_anchor.mean()


def ordinal_contrastive_loss(
    output: torch.Tensor, labels: torch.Tensor, margins: torch.Tensor, reduction: str = "reference"
) -> torch.Tensor:
    """Functional CLOC loss for explicit adjacent ``margins`` (K-1,) (already positive)."""
    return reduce_terms(*ordinal_contrastive_terms(output, labels, margins), reduction)


# --------------------------------------------------------------------------------------------
# learnable_map parsing
# --------------------------------------------------------------------------------------------
def _inverse_softplus(margin: torch.Tensor) -> torch.Tensor:
    # softplus(x) ~= x above 20, where log(expm1(x)) would lose nothing but cost overflow risk.
    return torch.where(margin > 20, margin, torch.log(torch.expm1(margin)))


def _as_real(value, where: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: the margin must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: the margin must be finite, got {value!r}")
    if value < 0:
        raise ValueError(f"{where}: margins are distances and cannot be negative, got {value!r}")
    return value


def parse_learnable_map(learnable_map, n_entries: int, owner: str) -> list[tuple[str, float | None]]:
    """Validate a ``learnable_map`` (list of ``[mode, value]``) and return (mode, value) pairs."""
    if learnable_map is None:
        return [("learnable", None)] * n_entries
    if isinstance(learnable_map, (str, bytes)) or not isinstance(learnable_map, Sequence):
        raise ValueError(
            f"{owner}: learnable_map must be a list of [mode, value] pairs, got {learnable_map!r}"
        )
    if len(learnable_map) != n_entries:
        raise ValueError(
            f"{owner}: learnable_map needs exactly {n_entries} entr{'y' if n_entries == 1 else 'ies'}"
            f" ({'one shared margin' if owner.endswith('_sm') else 'one per adjacent class pair'}),"
            f" got {len(learnable_map)}"
        )
    parsed = []
    for k, entry in enumerate(learnable_map):
        where = f"{owner}: learnable_map[{k}]"
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) != 2:
            raise ValueError(f"{where} must be a [mode, value] pair, got {entry!r}")
        mode, value = entry
        if mode not in _MODES:
            raise ValueError(f"{where}: unknown mode {mode!r}; use 'learnable' or 'fixed'")
        if value is None:
            if mode == "fixed":
                raise ValueError(f"{where}: a 'fixed' margin needs a value, e.g. ['fixed', 0.8]")
            parsed.append((mode, None))
            continue
        value = _as_real(value, where)
        if mode == "learnable" and value <= 0:
            raise ValueError(
                f"{where}: a learnable margin starts from a positive value (softplus cannot reach"
                f" {value}); use None for a random start in [{_INIT_LOW}, {_INIT_HIGH}]"
            )
        parsed.append((mode, value))
    return parsed


def _initial_raw_margin(value: float | None) -> torch.Tensor:
    """theta for one entry; draws from the global RNG only for a random start (as the original)."""
    if value is None:
        margin = _INIT_LOW + torch.rand(1, dtype=torch.float64) * (_INIT_HIGH - _INIT_LOW)
    else:
        margin = torch.tensor([value], dtype=torch.float64)
    return _inverse_softplus(margin).to(torch.get_default_dtype())


# --------------------------------------------------------------------------------------------
# Modules (public API of the original release)
# --------------------------------------------------------------------------------------------
class _OrdinalContrastiveLoss(nn.Module):
    """Shared machinery; subclasses decide how the K-1 margins are parameterised."""

    def __init__(self, n_classes, device=None, summaryWriter=None, learnable_map=None,
                 reduction="reference"):
        super().__init__()
        name = type(self).__name__
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
            raise ValueError(f"{name}: n_classes must be an integer >= 2, got {n_classes!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        if isinstance(summaryWriter, (list, tuple)):
            raise ValueError(
                f"{name}: summaryWriter got a list; the third positional argument is the writer."
                " Pass the map by keyword: learnable_map=[...]"
            )
        self.n_classes = int(n_classes)
        self.n_distances = self.n_classes - 1
        self.reduction = reduction
        self.device = device  # kept for compatibility; the module follows .to() like any other
        self.writer = summaryWriter
        self._build_margins(learnable_map)
        if device is not None:
            self.to(device)
        if self.writer is not None:
            self._register_layout()

    # -- subclass hooks -----------------------------------------------------------------------
    def _build_margins(self, learnable_map) -> None:
        raise NotImplementedError

    def margins(self) -> torch.Tensor:
        """The K-1 adjacent margins d_0..d_{K-2} (after softplus), fixed and learnable, in order."""
        raise NotImplementedError

    def _register_layout(self) -> None:
        pass

    def _log_margins(self, margins: torch.Tensor, step) -> None:
        raise NotImplementedError

    # -- public API ----------------------------------------------------------------------------
    def to_learnable_map(self, mode: str = "fixed") -> list[list]:
        """The current margins as a ``learnable_map`` (e.g. to fix them for phase two)."""
        if mode not in _MODES:
            raise ValueError(f"mode must be 'learnable' or 'fixed', got {mode!r}")
        values = self.margins().detach().double().cpu().tolist()
        return [[mode, value] for value in values[: self._n_map_entries]]

    def log_margins(self, global_step) -> None:
        """Write the current margins to the summary writer (if any) at ``global_step``.

        ``forward`` does this on every call given a step; a training loop that logs once per
        epoch calls this instead and passes no step to ``forward``.
        """
        if self.writer is not None:
            with torch.no_grad():
                self._log_margins(self.margins().detach(), global_step)

    def forward(self, output, labels, global_step=None, *, step=None):
        """CLOC loss of a batch. ``step`` is the original release's name for ``global_step``."""
        if global_step is None:
            global_step = step
        self._check_inputs(output, labels)
        labels = labels.to(output.device)
        # Half-precision similarities and margins are too coarse for the hinge: use float32.
        dtype = torch.float32 if output.dtype in (torch.float16, torch.bfloat16) else output.dtype
        with torch.autocast(device_type=output.device.type, enabled=False):
            margins = self.margins().to(dtype)
            loss = ordinal_contrastive_loss(output.to(dtype), labels, margins, self.reduction)
            if output.shape[0] == 0:
                loss = loss + 0.0 * margins.sum()  # keep the margins in the graph too
        if self.writer is not None and global_step is not None:
            self._log_margins(margins.detach(), global_step)
        return loss

    def _check_inputs(self, output, labels) -> None:
        name = type(self).__name__
        if not isinstance(output, torch.Tensor) or output.dim() != 2:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise ValueError(f"{name}: output must be a 2-D (batch, features) tensor, got {shape}")
        if not output.is_floating_point():
            raise ValueError(f"{name}: output must be floating point, got {output.dtype}")
        if not isinstance(labels, torch.Tensor) or labels.dim() != 1:
            shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(
                f"{name}: labels must be a 1-D tensor of class indices, got {shape}"
                " (squeeze a (B, 1) target first)"
            )
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"{name}: labels must be an integer tensor, got {labels.dtype}")
        if labels.shape[0] != output.shape[0]:
            raise ValueError(
                f"{name}: {labels.shape[0]} labels for {output.shape[0]} rows of output"
            )
        if labels.numel() and bool(((labels < 0) | (labels >= self.n_classes)).any()):
            raise ValueError(
                f"{name}: labels must lie in [0, {self.n_classes}), got values from"
                f" {int(labels.min())} to {int(labels.max())}"
            )

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, reduction={self.reduction!r}"


class OrdinalContrastiveLoss_mm(_OrdinalContrastiveLoss):
    """CLOC with K-1 independent margins (multi-margin).

    ``F.softplus(loss.learnables)`` are the learnable margins (an ``nn.Parameter`` holding only
    the learnable entries, in order, or ``None`` when all are fixed); fixed margins live in
    the buffer ``distances_ori`` (raw values) so they follow ``.to()`` and ``state_dict()``.
    """

    def _build_margins(self, learnable_map) -> None:
        name = type(self).__name__
        entries = parse_learnable_map(learnable_map, self.n_distances, name)
        self._n_map_entries = self.n_distances
        raw = torch.cat([_initial_raw_margin(value) for _, value in entries])
        is_learnable = torch.tensor([mode == "learnable" for mode, _ in entries])
        self.register_buffer("distances_ori", raw)
        self.register_buffer("mask_learnables", is_learnable)
        self.register_buffer("learnable_index", torch.nonzero(is_learnable).flatten())
        if bool(is_learnable.any()):
            self.learnables = nn.Parameter(raw[is_learnable].clone())
        else:
            self.register_parameter("learnables", None)

    def margins(self) -> torch.Tensor:
        raw = self.distances_ori
        if self.learnables is not None:
            raw = raw.index_put((self.learnable_index,), self.learnables.to(raw.dtype))
        return F.softplus(raw)

    def _register_layout(self) -> None:
        tags = [f"C{k}-C{k + 1}" for k in range(self.n_distances)]
        self.writer.add_custom_scalars({"Class Distances": {"margin": ["Multiline", tags]}})

    def _log_margins(self, margins, step) -> None:
        for k, value in enumerate(margins.float().cpu().tolist()):
            self.writer.add_scalar(f"C{k}-C{k + 1}", value, step)


class OrdinalContrastiveLoss_sm(_OrdinalContrastiveLoss):
    """CLOC with one margin shared by every adjacent class pair (single-margin).

    ``F.softplus(loss.distance)`` is the margin: an ``nn.Parameter`` when learnable, a buffer
    when fixed.
    """

    def _build_margins(self, learnable_map) -> None:
        name = type(self).__name__
        ((mode, value),) = parse_learnable_map(learnable_map, 1, name)
        self._n_map_entries = 1
        raw = _initial_raw_margin(value)
        if mode == "learnable":
            self.distance = nn.Parameter(raw)
        else:
            self.register_buffer("distance", raw)

    def margins(self) -> torch.Tensor:
        return F.softplus(self.distance).expand(self.n_distances)

    def _log_margins(self, margins, step) -> None:
        self.writer.add_scalar("Margin", float(margins[0]), step)
