"""Forward+backward time of the CLOC loss against per-positive-column loop baselines.

Usage: python benchmarks/bench_loss.py [--repeats 5]

Two baselines compute the same loss with a Python loop over positive columns, each building
B x B tensors: ``published_loop_loss`` follows the published code's structure (+-inf masked
matrices, an isinf mask and a masked row mean per column, results concatenated column by column;
the issue's targets refer to it), ``lean_loop_loss`` is the tightest such loop. Both use the
same matmul cosine similarity as the fast loss (the published code broadcasts a B x B x D
tensor, which does not fit in memory at B=1024, D=512), so only the loss algorithm differs.
Loops are skipped above B=1024 (minutes there). Peak memory of the fast loss at the largest B is
measured in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import math
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


def _similarity_and_masks(output, labels, margins):
    B = output.shape[0]
    unit = output / output.norm(dim=1, keepdim=True).clamp_min(1e-8)
    sim = unit @ unit.T
    positive = labels[None, :] == labels[:, None]
    negative = ~positive
    positive = positive & ~torch.eye(B, dtype=torch.bool)
    positions = torch.cat([margins.new_zeros(1), margins.cumsum(0)])
    margin = (positions[labels][:, None] - positions[labels][None, :]).abs()
    return sim, positive, negative, margin


def published_loop_loss(output, labels, margins):
    """Reference-reduction CLOC loss in the published code's structure (the baseline)."""
    sim, positive, negative, margin = _similarity_and_masks(output, labels, margins)
    pos_sim = sim.masked_fill(~positive, math.inf)
    neg_sim = sim.masked_fill(~negative, -math.inf)
    margin = margin.masked_fill(~negative, 0.0)
    per_column, counts = sim.new_empty(0, len(labels)), sim.new_empty(0, len(labels))
    for p in range(len(labels)):
        pair = neg_sim - pos_sim[:, p : p + 1] + margin  # -inf unless (positive p, negative n)
        valid = ~torch.isinf(pair)
        n_valid = valid.sum(1)
        row_mean = (F.relu(pair) * valid).sum(1) / n_valid.clamp(min=1)
        per_column = torch.cat([per_column, row_mean[None]])
        counts = torch.cat([counts, n_valid[None].to(sim.dtype)])
    per_anchor = (per_column * (counts > 0)).sum(0) / counts.sum(0).clamp(min=1)
    return per_anchor.mean()


def lean_loop_loss(output, labels, margins):
    """The same loss as the tightest per-positive-column loop: one masked hinge per column."""
    sim, positive, negative, margin = _similarity_and_masks(output, labels, margins)
    per_column, counts = [], []
    for p in range(len(labels)):
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
    fn(*inputs(64, D)).backward()  # warm-up on a small batch (loads kernels, fills caches)
    output, labels, margins = inputs(B, D)
    best = float("inf")
    for _ in range(repeats):
        output.grad = margins.grad = None
        start = time.perf_counter()
        fn(output, labels, margins).backward()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _peak_rss_kib() -> int:
    """This process's peak resident set in KiB. VmHWM starts afresh at exec; ru_maxrss would
    inherit the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no procfs: KiB on Linux


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

    # All implementations agree before anything is timed.
    o, y, m = inputs(256, 5)
    for baseline in (published_loop_loss, lean_loop_loss):
        torch.testing.assert_close(fast(o, y, m), baseline(o, y, m), rtol=1e-4, atol=1e-6)

    print(f"CLOC loss forward+backward, K={K}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"{'B':>6} {'D':>5} {'fast ms':>9} {'published-loop ms':>18} {'speed-up':>9}"
          f" {'lean-loop ms':>13} {'speed-up':>9}")
    for D in FEATURE_DIMS:
        for B in BATCH_SIZES:
            fast_ms = time_fwd_bwd(fast, B, D, args.repeats)
            row = f"{B:>6} {D:>5} {fast_ms:>9.2f}"
            if B <= LOOP_LIMIT:
                loop_repeats = 2 if B >= 1024 else args.repeats  # best of 2: the first touches fresh memory
                for baseline in (published_loop_loss, lean_loop_loss):
                    loop_ms = time_fwd_bwd(baseline, B, D, loop_repeats)
                    row += f" {loop_ms:>{18 if baseline is published_loop_loss else 13}.1f}"
                    row += f" {loop_ms / fast_ms:>8.1f}x"
            else:
                row += f" {'skipped':>18}"
            print(row, flush=True)
    for D in FEATURE_DIMS:
        print(f"peak memory, B={BATCH_SIZES[-1]} D={D}: {peak_memory_mib(BATCH_SIZES[-1], D):.0f} MiB")
    print("targets (against the published loop): >=25x at B=256, >=150x at B=1024; "
          "B=4096 under 1500 ms and 1024 MiB")


if __name__ == "__main__":
    main()
