"""Ordinal classification metrics, each registered with its direction.

Functions take integer ``y_true`` / ``y_pred`` (array-likes or tensors) and ``n_classes``;
``rps`` takes class probabilities. Scikit-learn and SciPy do the arithmetic; this module fixes
the label set to ``range(n_classes)`` (so a class missing from a batch cannot shift QWK's
weights) and gives degenerate inputs a defined, documented value instead of NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, mean_absolute_error

__all__ = [
    "METRICS",
    "Metric",
    "OrdinalMetrics",
    "accuracy",
    "amae",
    "compute_metrics",
    "confusion",
    "mae",
    "mmae",
    "one_off_accuracy",
    "qwk",
    "rps",
    "spearman",
]


def _check_n_classes(n_classes) -> None:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")


def _class_indices(name: str, values, n_classes: int) -> np.ndarray:
    """``values`` as a 1-D int64 array of class indices in [0, n_classes), or a clear error."""
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.mod(array, 1) == 0):
            raise ValueError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}), got values from {array.min()} to {array.max()}"
        )
    return array


def _labels(y_true, y_pred, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    _check_n_classes(n_classes)
    y_true = _class_indices("y_true", y_true, n_classes)
    y_pred = _class_indices("y_pred", y_pred, n_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} entries but y_pred has {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("ordinal metrics need at least one sample; got empty y_true and y_pred")
    return y_true, y_pred


def accuracy(y_true, y_pred, n_classes: int) -> float:
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    return float(accuracy_score(y_true, y_pred))


def mae(y_true, y_pred, n_classes: int) -> float:
    """Mean absolute error in class steps."""
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    return float(mean_absolute_error(y_true, y_pred))


def qwk(y_true, y_pred, n_classes: int) -> float:
    """Quadratic weighted kappa over the fixed label set range(n_classes).

    Kappa is undefined when chance agreement is total (e.g. both sides constant): this returns
    1.0 for perfect agreement and 0.0 otherwise, the values that agreement "no better than
    chance" and "perfect" take in the non-degenerate case.
    """
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    if np.array_equal(y_true, y_pred):
        return 1.0
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = cohen_kappa_score(y_true, y_pred, labels=np.arange(n_classes), weights="quadratic")
    return float(kappa) if np.isfinite(kappa) else 0.0


def _per_class_mae(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    # Only classes present in y_true have an error; absent classes are left out, not zero.
    errors = np.abs(y_true - y_pred)
    return np.array([errors[y_true == c].mean() for c in np.unique(y_true)])


def amae(y_true, y_pred, n_classes: int) -> float:
    """Average over true classes of each class's MAE (robust to class imbalance)."""
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    return float(_per_class_mae(y_true, y_pred).mean())


def mmae(y_true, y_pred, n_classes: int) -> float:
    """Maximum over true classes of each class's MAE (the worst-served class)."""
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    return float(_per_class_mae(y_true, y_pred).max())


def one_off_accuracy(y_true, y_pred, n_classes: int) -> float:
    """Fraction of predictions at most one class away from the truth."""
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    return float(np.mean(np.abs(y_true - y_pred) <= 1))


def spearman(y_true, y_pred, n_classes: int) -> float:
    """Spearman rank correlation; 0.0 when either side is constant (no ranking to compare)."""
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    if np.all(y_true == y_true[0]) or np.all(y_pred == y_pred[0]):
        return 0.0
    return float(spearmanr(y_true, y_pred).statistic)


def rps(y_true, probs, n_classes: int) -> float:
    """Ranked probability score: mean over samples of sum_k (F_k - O_k)^2 / (K - 1).

    F and O are the predicted and observed cumulative distributions over the ordered classes;
    0 is perfect, 1 the worst possible.
    """
    _check_n_classes(n_classes)
    probs = np.asarray(probs.detach().cpu() if hasattr(probs, "detach") else probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != n_classes:
        raise ValueError(f"probs must have shape (n_samples, {n_classes}), got {probs.shape}")
    y_true = _class_indices("y_true", y_true, n_classes)
    if len(y_true) != len(probs):
        raise ValueError(f"y_true has {len(y_true)} entries but probs has {len(probs)} rows")
    if len(y_true) == 0:
        raise ValueError("ordinal metrics need at least one sample; got empty y_true and probs")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("probs must be finite and non-negative")
    if np.any(probs.sum(axis=1) <= 0):
        raise ValueError("every row of probs needs a positive sum (they are normalised to 1)")
    if n_classes == 1:
        return 0.0
    probs = probs / probs.sum(axis=1, keepdims=True)
    observed = np.eye(n_classes)[y_true]
    gap = np.cumsum(probs, axis=1) - np.cumsum(observed, axis=1)
    return float(np.mean(np.sum(gap[:, :-1] ** 2, axis=1) / (n_classes - 1)))


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    """(K, K) confusion matrix, rows = true class, columns = predicted class."""
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    needs_probs: bool = False
    description: str = ""


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("accuracy", accuracy, True, description="exact-class accuracy"),
        Metric("mae", mae, False, description="mean absolute error in classes"),
        Metric("qwk", qwk, True, description="quadratic weighted kappa"),
        Metric("amae", amae, False, description="mean of per-class MAE"),
        Metric("mmae", mmae, False, description="max of per-class MAE"),
        Metric("one_off_accuracy", one_off_accuracy, True, description="|error| <= 1 rate"),
        Metric("spearman", spearman, True, description="Spearman rank correlation"),
        Metric("rps", rps, False, needs_probs=True, description="ranked probability score"),
    )
}


def compute_metrics(y_true, y_pred, n_classes: int, probs=None) -> dict[str, float]:
    """Every registered metric; those that need probabilities only when ``probs`` is given."""
    results = {}
    for name, metric in METRICS.items():
        if metric.needs_probs:
            if probs is not None:
                results[name] = metric.fn(y_true, probs, n_classes)
        else:
            results[name] = metric.fn(y_true, y_pred, n_classes)
    return results


class OrdinalMetrics:
    """Module twin of ``compute_metrics``: accumulate batches, then compute once."""

    def __init__(self, n_classes: int):
        self.n_classes = n_classes
        self.reset()

    def reset(self) -> None:
        self._true, self._pred, self._probs = [], [], []

    def update(self, y_true, y_pred, probs=None) -> None:
        to_numpy = lambda v: np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
        self._true.append(to_numpy(y_true).reshape(-1))
        self._pred.append(to_numpy(y_pred).reshape(-1))
        if probs is not None:
            self._probs.append(to_numpy(probs))

    def compute(self) -> dict[str, float]:
        if not self._true:
            raise ValueError("OrdinalMetrics.compute() called before any update()")
        probs = np.concatenate(self._probs) if len(self._probs) == len(self._true) else None
        return compute_metrics(
            np.concatenate(self._true), np.concatenate(self._pred), self.n_classes, probs
        )
