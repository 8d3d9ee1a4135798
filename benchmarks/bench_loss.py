"""Forward+backward time of the CLOC loss against a per-positive-column loop baseline.

Usage: python benchmarks/bench_loss.py [--repeats 5]

The baseline is the straightforward implementation of the same loss (the published code's
structure): a Python loop over positive columns, each building B x B tensors. It is skipped
above B=1024 (it takes minutes there). Peak memory of the fast loss at the largest B is
measured in a fresh subprocess (resident-set growth during one forward+backward).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from cloc.loss import ordinal_contrastive_loss

K = 5
BATCH_SIZES = (64, 256, 1024, 4096)
FEATURE_DIMS = (5, 512)
LOOP_LIMIT = 1024


def column_loop_loss(output, labels, margins):
    """Reference-reduction CLOC loss, one positive column at a time (the baseline)."""
    B = output.shape[0]
    unit = output / output.norm(dim=1, keepdim=True).clamp_min(1e-8)
    sim = unit @ unit.T
    positive = labels[None, :] == labels[:, None]
    negative = ~positive
    positive = positive & ~torch.eye(B, dtype=torch.bool)
    positions = torch.cat([margins.new_zeros(1), margins.cumsum(0)])
    margin = (positions[labels][:, None] - positions[labels][None, :]).abs()
    per_column, counts = [], []
    for p in range(B):
        is_pair = positive[:, p : p + 1] & negative  # (anchor, negative) pairs for positive p
        hinge = F.relu(sim - sim[:, p : p + 1] + margin) * is_pair
        n_pairs = is_pair.sum(1)
        per_column.append(hinge.sum(1) / n_pairs.clamp(min=1))
        counts.append(n_pairs)
    per_column, counts = torch.stack(per_column), torch.stack(counts)
    per_anchor = (per_column * (counts > 0)).sum(0) / counts.sum(0).clamp(min=1)
    return per_anchor.mean()


def inputs(B: int, D: int):
    g = torch.Generator().manual_seed(B + D)
    output = torch.randn(B, D, generator=g, requires_grad=True)
    labels = torch.randint(0, K, (B,), generator=g)
    margins = torch.rand(K - 1, generator=g).add(0.5).requires_grad_(True)
    return output, labels, margins


def time_fwd_bwd(fn, B: int, D: int, repeats: int) -> float:
    output, labels, margins = inputs(B, D)
    fn(output, labels, margins).backward()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        output.grad = margins.grad = None
        start = time.perf_counter()
        fn(output, labels, margins).backward()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def measure_peak_memory(B: int, D: int) -> None:
    """In this (fresh) process: print the peak resident-set growth of one forward+backward."""
    output, labels, margins = inputs(B, D)
    ordinal_contrastive_loss(output[:8], labels[:8], margins).backward()  # load kernels first
    before = _peak_rss_kib()
    ordinal_contrastive_loss(output, labels, margins).backward()
    print((_peak_rss_kib() - before) / 1024)


def peak_memory_mib(B: int, D: int) -> float:
    """Peak memory of one forward+backward, measured in a fresh subprocess."""
    command = [sys.executable, __file__, "--peak-memory", str(B), str(D)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peak-memory", nargs=2, type=int, metavar=("B", "D"),
                        help="internal: measure one forward+backward's peak memory and exit")
    args = parser.parse_args()
    if args.peak_memory:
        measure_peak_memory(*args.peak_memory)
        return
    fast = lambda o, y, m: ordinal_contrastive_loss(o, y, m, "reference")  # noqa: E731

    # Both implementations agree before anything is timed.
    o, y, m = inputs(256, 5)
    torch.testing.assert_close(fast(o, y, m), column_loop_loss(o, y, m), rtol=1e-4, atol=1e-6)

    print(f"CLOC loss forward+backward, K={K}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"{'B':>6} {'D':>5} {'fast ms':>10} {'loop ms':>10} {'speed-up':>9}")
    for D in FEATURE_DIMS:
        for B in BATCH_SIZES:
            fast_ms = time_fwd_bwd(fast, B, D, args.repeats)
            if B <= LOOP_LIMIT:
                loop_ms = time_fwd_bwd(column_loop_loss, B, D, 1 if B >= 1024 else args.repeats)
                print(f"{B:>6} {D:>5} {fast_ms:>10.2f} {loop_ms:>10.1f} {loop_ms / fast_ms:>8.1f}x")
            else:
                print(f"{B:>6} {D:>5} {fast_ms:>10.2f} {'skipped':>10} {'':>9}")
    for D in FEATURE_DIMS:
        print(f"peak memory, B={BATCH_SIZES[-1]} D={D}: {peak_memory_mib(BATCH_SIZES[-1], D):.0f} MiB")
    print("targets: >=25x at B=256, >=150x at B=1024, B=4096 under 1500 ms and 1024 MiB")


if __name__ == "__main__":
    main()
