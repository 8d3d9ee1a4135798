"""The fast CLOC loss against the brute-force oracle, gradcheck and frozen golden values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cloc.loss import (
    OrdinalContrastiveLoss_mm,
    OrdinalContrastiveLoss_sm,
    ordinal_contrastive_loss,
    ordinal_contrastive_terms,
    reduce_terms,
)


def random_batch(rng: np.random.Generator, B: int, K: int, D: int, kind: str):
    if kind == "imbalanced":
        probs = rng.dirichlet(np.full(K, 0.3))
        labels = rng.choice(K, size=B, p=probs)
    elif kind == "absent":
        present = rng.choice(K, size=max(2, K // 2), replace=False)
        labels = rng.choice(present, size=B)
    else:
        labels = rng.integers(0, K, size=B)
    x = rng.normal(size=(B, D))
    if kind == "duplicates" and B > 3:
        x[1] = x[0]
        labels[1] = labels[0]
        x[3] = x[2]
    if kind == "zero_rows" and B > 2:
        x[rng.choice(B, size=2, replace=False)] = 0.0
    return torch.tensor(x), torch.tensor(labels)


CASES = [
    (B, K, D, kind, seed)
    for seed, (B, K, D, kind) in enumerate(
        [(2, 2, 3, "uniform"), (5, 2, 4, "uniform"), (8, 3, 2, "imbalanced"), (16, 5, 5, "uniform"),
         (16, 10, 8, "absent"), (24, 4, 6, "duplicates"), (24, 6, 3, "zero_rows"),
         (32, 7, 16, "imbalanced"), (40, 3, 5, "absent"), (64, 5, 5, "uniform"),
         (64, 10, 12, "imbalanced"), (48, 2, 7, "zero_rows"), (33, 8, 4, "duplicates")]
    )
]


@pytest.mark.parametrize("reduction", ["reference", "mean"])
@pytest.mark.parametrize("B,K,D,kind,seed", CASES)
def test_value_and_gradients_match_oracle(oracle, B, K, D, kind, seed, reduction):
    rng = np.random.default_rng(seed)
    x, y = random_batch(rng, B, K, D, kind)
    margins = torch.tensor(rng.uniform(0.05, 1.5, size=K - 1), requires_grad=True)
    expected, grad_x, grad_m = oracle(x, y, margins, reduction)

    x = x.clone().requires_grad_(True)
    loss = ordinal_contrastive_loss(x, y, margins, reduction)
    loss.backward()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(x.grad, grad_x, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(margins.grad, grad_m, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", ["reference", "mean"])
def test_modules_match_oracle_for_their_margins(oracle, reduction):
    rng = np.random.default_rng(7)
    x, y = random_batch(rng, 30, 6, 5, "imbalanced")
    mm = OrdinalContrastiveLoss_mm(6, learnable_map=[["learnable", 0.3], ["fixed", 0.9],
                                                     ["learnable", 1.2], ["fixed", 0.1],
                                                     ["learnable", 0.6]], reduction=reduction)
    sm = OrdinalContrastiveLoss_sm(6, learnable_map=[["learnable", 0.7]], reduction=reduction)
    for module, expected_margins in ((mm, [0.3, 0.9, 1.2, 0.1, 0.6]), (sm, [0.7] * 5)):
        module = module.double()
        torch.testing.assert_close(module.margins().detach(), torch.tensor(expected_margins,
                                   dtype=torch.float64))
        expected, grad_x, grad_m = oracle(x, y, module.margins(), reduction)
        xr = x.clone().requires_grad_(True)
        loss = module(xr, y)
        loss.backward()
        torch.testing.assert_close(loss.detach(), expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(xr.grad, grad_x, rtol=1e-9, atol=1e-12)
        # chain rule through softplus to the raw learnable parameters
        raw_grad = grad_m * torch.sigmoid(torch.special.logit(1 - torch.exp(-module.margins().detach())))
        if module is mm:
            torch.testing.assert_close(mm.learnables.grad, raw_grad[[0, 2, 4]], rtol=1e-8, atol=1e-12)
        else:
            torch.testing.assert_close(sm.distance.grad, raw_grad.sum().reshape(1), rtol=1e-8, atol=1e-12)


def test_reference_divides_by_negatives_twice():
    x = torch.randn(12, 4, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 1, 0, 2])
    margins = torch.tensor([0.4, 0.8], dtype=torch.float64)
    hinge, n_pos, n_neg = ordinal_contrastive_terms(x, y, margins)
    assert torch.equal(n_pos, torch.tensor([3, 3, 3, 2, 2, 4, 4, 4, 4, 2, 3, 4]))
    assert torch.equal(n_neg, 12 - n_pos - 1)
    reference = reduce_terms(hinge, n_pos, n_neg, "reference")
    mean = reduce_terms(hinge, n_pos, n_neg, "mean")
    torch.testing.assert_close(reference, (hinge / (n_pos * n_neg**2)).mean())
    torch.testing.assert_close(mean, (hinge / (n_pos * n_neg)).mean())
    with pytest.raises(ValueError, match="reduction"):
        reduce_terms(hinge, n_pos, n_neg, "sum")


@pytest.mark.parametrize("cls", [OrdinalContrastiveLoss_mm, OrdinalContrastiveLoss_sm])
@pytest.mark.parametrize("reduction", ["reference", "mean"])
def test_gradcheck_float64(cls, reduction):
    torch.manual_seed(3)
    loss = cls(4, reduction=reduction).double()
    x = torch.randn(14, 6, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 0, 1, 3, 3, 2])
    params = list(loss.parameters())
    assert params
    fn = lambda out, *_: loss(out, y)  # noqa: E731 - margins are read from the module
    assert torch.autograd.gradcheck(fn, (x, *params))


# Frozen values: deterministic inputs built without any RNG, so they survive torch upgrades.
GOLDEN_X = torch.stack([torch.sin(torch.arange(5, dtype=torch.float64) * (r + 1) + r)
                        for r in range(10)])
GOLDEN_Y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 1, 2])
GOLDEN = {
    ("mm", "reference"): 0.09978615758439022,
    ("mm", "mean"): 0.7205136883496075,
    ("sm", "reference"): 0.08425941679893768,
    ("sm", "mean"): 0.6029502061317891,
}


def golden_loss(kind, reduction):
    if kind == "mm":
        module = OrdinalContrastiveLoss_mm(4, learnable_map=[["fixed", 0.25], ["learnable", 0.5],
                                                             ["fixed", 1.0]], reduction=reduction)
    else:
        module = OrdinalContrastiveLoss_sm(4, learnable_map=[["fixed", 0.5]], reduction=reduction)
    return module.double()(GOLDEN_X, GOLDEN_Y)


@pytest.mark.parametrize("kind,reduction", list(GOLDEN))
def test_golden_values(kind, reduction):
    torch.testing.assert_close(golden_loss(kind, reduction).item(), GOLDEN[(kind, reduction)],
                               rtol=1e-12, atol=0)
