"""Brute-force float64 triple-loop oracle for the CLOC loss: value and exact gradients.

Written straight from the definition (see cloc.loss), independent of the fast implementation:
loops over anchor i, positive p and negative n; gradients accumulated by hand.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F


def oracle(output: torch.Tensor, labels: torch.Tensor, margins: torch.Tensor, reduction: str):
    """Return (loss, dloss/doutput, dloss/dmargins) as float64 tensors."""
    x = output.detach().double().clone().requires_grad_(True)
    sim_t = F.cosine_similarity(x[:, None, :], x[None, :, :], dim=2, eps=1e-8)
    sim = sim_t.detach().numpy()
    y = labels.numpy()
    d = margins.detach().double().numpy()
    positions = np.concatenate([[0.0], np.cumsum(d)])
    B, K = len(y), len(d) + 1

    total, grad_sim, grad_pair = 0.0, np.zeros((B, B)), np.zeros((K, K))
    for i in range(B):
        P = [p for p in range(B) if p != i and y[p] == y[i]]
        N = [n for n in range(B) if y[n] != y[i]]
        if not P or not N:
            continue
        denom = len(P) * len(N) * (len(N) if reduction == "reference" else 1)
        for p in P:
            for n in N:
                value = sim[i, n] - sim[i, p] + abs(positions[y[i]] - positions[y[n]])
                if value > 0:
                    total += value / denom
                    grad_sim[i, n] += 1 / denom
                    grad_sim[i, p] -= 1 / denom
                    grad_pair[y[i], y[n]] += 1 / denom
    loss = total / max(B, 1)
    # M(a, b) = sum of margins k with min(a, b) <= k < max(a, b)
    grad_margins = np.array(
        [sum(grad_pair[a, b] for a in range(K) for b in range(K) if min(a, b) <= k < max(a, b))
         for k in range(K - 1)]
    ) / max(B, 1)
    (torch.from_numpy(grad_sim / max(B, 1)) * sim_t).sum().backward()
    return torch.tensor(loss, dtype=torch.float64), x.grad, torch.from_numpy(grad_margins)


@pytest.fixture(name="oracle")
def oracle_fixture():
    return oracle
