"""`cloc aggregate` and `cloc figures`: the result subcommands of the pipeline.

Wired into `cloc/cli.py` through ``register(subparsers)``; also runnable on its own as
``python -m cloc.cli_results {aggregate,figures} ...``.
"""

from __future__ import annotations

import argparse
import sys


def _aggregate(args: argparse.Namespace) -> int:
    from cloc.aggregate import write_all

    files = write_all(args.out_dir, args.metrics, args.margins or [], args.show_metrics)
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0


def _figures(args: argparse.Namespace) -> int:
    from cloc.figures import write_all

    for path in write_all(args.runs, args.trajectories, args.confusion, args.out_dir, args.show_metrics):
        print(path)
    return 0


def register(subparsers) -> None:
    """Add the `aggregate` and `figures` subcommands to an argparse subparsers object."""
    p = subparsers.add_parser(
        "aggregate",
        help="aggregate per-run metrics.json/margins.json into runs/summary/margins tables",
        description="Write runs.csv, summary.{csv,md,tex,html}, margins.csv, "
        "margin_trajectories.csv and confusion.csv into --out-dir. Job identity is read from "
        "the files, never from their paths.",
    )
    p.add_argument("--out-dir", required=True, help="experiment results folder")
    p.add_argument("--metrics", nargs="+", required=True, metavar="METRICS_JSON",
                   help="metrics.json of each evaluated run (confusion.csv read beside it)")
    p.add_argument("--margins", nargs="*", default=[], metavar="MARGINS_JSON",
                   help="phase one's margins.json of each CLOC run")
    p.add_argument("--show-metrics", nargs="+", default=["accuracy", "mae", "qwk"],
                   help="metrics shown in summary.md/.tex/.html (all go to the CSVs)")
    p.set_defaults(func=_aggregate)

    p = subparsers.add_parser(
        "figures", help="draw margin trajectories, confusion matrices and metric charts (PNG)"
    )
    p.add_argument("--runs", required=True, help="runs.csv from cloc aggregate")
    p.add_argument("--trajectories", required=True, help="margin_trajectories.csv")
    p.add_argument("--confusion", required=True, help="confusion.csv (aggregated)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--show-metrics", nargs="+", default=["accuracy", "mae", "qwk"])
    p.set_defaults(func=_figures)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cloc", description=__doc__)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
