"""Ordinal metrics against scikit-learn / SciPy and hand-worked cases, across input types."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, mean_absolute_error

from cloc.metrics import (METRICS, OrdinalMetrics, accuracy, amae, compute_metrics, confusion, mae,
                          mmae, one_off_accuracy, qwk, rps, spearman)

K = 6


def random_labels(seed, n=200):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, K, n)
    y_pred = np.clip(y_true + rng.integers(-2, 3, n), 0, K - 1)
    return y_true, y_pred


CONVERTERS = {
    "int64": lambda a: a.astype(np.int64),
    "int32": lambda a: a.astype(np.int32),
    "uint8": lambda a: a.astype(np.uint8),
    "float": lambda a: a.astype(np.float64),  # integer-valued floats are accepted
    "list": lambda a: a.tolist(),
    "torch": lambda a: torch.from_numpy(a.astype(np.int64)),
}


@pytest.mark.parametrize("kind", list(CONVERTERS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn_and_scipy(kind, seed):
    y_true, y_pred = random_labels(seed)
    t, p = CONVERTERS[kind](y_true), CONVERTERS[kind](y_pred)
    assert accuracy(t, p, K) == pytest.approx(accuracy_score(y_true, y_pred))
    assert mae(t, p, K) == pytest.approx(mean_absolute_error(y_true, y_pred))
    assert qwk(t, p, K) == pytest.approx(
        cohen_kappa_score(y_true, y_pred, labels=range(K), weights="quadratic"))
    assert spearman(t, p, K) == pytest.approx(spearmanr(y_true, y_pred).statistic)
    assert one_off_accuracy(t, p, K) == pytest.approx(np.mean(np.abs(y_true - y_pred) <= 1))
    per_class = [np.abs(y_pred[y_true == c] - c).mean() for c in range(K)]
    assert amae(t, p, K) == pytest.approx(np.mean(per_class))
    assert mmae(t, p, K) == pytest.approx(np.max(per_class))
    np.testing.assert_array_equal(confusion(t, p, K), confusion_matrix(y_true, y_pred, labels=range(K)))


def weighted_kappa_by_hand(y_true, y_pred, k):
    """Quadratic weighted kappa from its definition, over the full label set 0..k-1."""
    observed = np.zeros((k, k))
    for a, b in zip(y_true, y_pred):
        observed[a, b] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    weights = np.subtract.outer(np.arange(k), np.arange(k)) ** 2
    return 1 - (weights * observed).sum() / (weights * expected).sum()


def test_qwk_missing_class_trap():
    # Class 2 never occurs: scikit-learn's default label set {0, 1, 3} would treat 1 -> 3 as a
    # one-step error. With labels fixed to range(K) it is the two-step error it really is.
    y_true = [0, 0, 1, 1, 3, 3]
    y_pred = [0, 1, 1, 3, 3, 1]
    expected = weighted_kappa_by_hand(np.array(y_true), np.array(y_pred), 4)
    assert qwk(y_true, y_pred, 4) == pytest.approx(expected)
    assert qwk(y_true, y_pred, 4) != pytest.approx(cohen_kappa_score(y_true, y_pred, weights="quadratic"))


def test_hand_worked_values():
    y_true = [0, 1, 2, 3]
    y_pred = [0, 2, 2, 0]
    assert accuracy(y_true, y_pred, 4) == 0.5
    assert mae(y_true, y_pred, 4) == 1.0           # (0 + 1 + 0 + 3) / 4
    assert amae(y_true, y_pred, 4) == 1.0           # each class once
    assert mmae(y_true, y_pred, 4) == 3.0           # class 3 predicted as 0
    assert one_off_accuracy(y_true, y_pred, 4) == 0.75
    # RPS, K = 3: truth class 1 with p = (0.2, 0.5, 0.3): F = (0.2, 0.7), O = (0, 1)
    # -> ((0.2)^2 + (0.3)^2) / 2 = 0.065
    assert rps([1], [[0.2, 0.5, 0.3]], 3) == pytest.approx(0.065)
    assert rps([0, 2], [[1.0, 0, 0], [0, 0, 1.0]], 3) == 0.0
    assert rps([0], [[0, 0, 1.0]], 3) == 1.0


def test_degenerate_inputs_have_defined_values():
    assert qwk([2, 2, 2], [2, 2, 2], 5) == 1.0        # perfect, though kappa is 0/0
    assert qwk([2, 2, 2], [1, 1, 1], 5) == 0.0        # constant and wrong
    assert qwk([0, 1, 2], [1, 1, 1], 5) == 0.0        # constant predictions: chance level
    assert spearman([0, 1, 2], [1, 1, 1], 5) == 0.0
    assert spearman([1, 1, 1], [0, 1, 2], 5) == 0.0
    assert amae([3], [1], 5) == 2.0
    assert compute_metrics([1], [1], 5)["accuracy"] == 1.0


@pytest.mark.parametrize("call,match", [
    (lambda: accuracy([], [], 3), "at least one sample"),
    (lambda: mae([0, 1], [0], 3), "2 entries but y_pred has 1"),
    (lambda: qwk([0, 3], [0, 1], 3), "lie in \\[0, 3\\)"),
    (lambda: qwk([0, -1], [0, 1], 3), "lie in \\[0, 3\\)"),
    (lambda: mae([[0, 1]], [[0, 1]], 3), "1-D"),
    (lambda: mae([0.5, 1], [0, 1], 3), "integer class indices"),
    (lambda: accuracy([0], [0], 0), "n_classes"),
    (lambda: rps([0], [[0.5, 0.5]], 3), "shape \\(n_samples, 3\\)"),
    (lambda: rps([0, 1], [[0.5, 0.5, 0]], 3), "2 entries but probs has 1"),
    (lambda: rps([0], [[np.nan, 0.5, 0.5]], 3), "finite"),
    (lambda: rps([0], [[0.0, 0.0, 0.0]], 3), "positive sum"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_registry_directions_and_compute_metrics():
    assert {n for n, m in METRICS.items() if m.higher_is_better} == {
        "accuracy", "qwk", "one_off_accuracy", "spearman"}
    y_true, y_pred = random_labels(5)
    probs = np.eye(K)[y_pred] * 0.7 + 0.3 / K
    without = compute_metrics(y_true, y_pred, K)
    assert "rps" not in without and set(without) == set(METRICS) - {"rps"}
    with_probs = compute_metrics(y_true, y_pred, K, probs=probs)
    assert with_probs["rps"] == pytest.approx(rps(y_true, probs, K))


def test_module_twin_accumulates_batches():
    y_true, y_pred = random_labels(9, n=90)
    probs = np.eye(K)[y_pred]
    metric = OrdinalMetrics(K)
    with pytest.raises(ValueError, match="before any update"):
        metric.compute()
    for chunk in np.array_split(np.arange(90), 4):
        metric.update(torch.from_numpy(y_true[chunk]), y_pred[chunk], probs[chunk])
    assert metric.compute() == pytest.approx(compute_metrics(y_true, y_pred, K, probs))
    metric.reset()
    metric.update(y_true, y_pred)
    assert "rps" not in metric.compute()
