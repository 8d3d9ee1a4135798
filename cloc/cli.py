"""``cloc`` command line: ``cloc train`` and ``cloc evaluate`` (also ``python -m cloc``)."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from .errors import ClocError, TrainingInterrupted


def _train_parser(sub):
    p = sub.add_parser("train", help="train one job (ce, or CLOC phase 1/2) and evaluate it",
                       description="Train one job from a prepared dataset; see docs/training.md.")
    p.add_argument("--prepared", required=True, help="prepared dataset folder (holds dataset.json)")
    p.add_argument("--split", required=True, type=int, help="split index k (reads split{k}.csv)")
    p.add_argument("--backbone", required=True, help="timm model name, e.g. resnet18, test_resnet")
    p.add_argument("--method", required=True, help="ce | cloc_mm | cloc_sm")
    p.add_argument("--phase", default=None, help="1 or 2 for CLOC methods (not for ce)")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, help="run folder (created; re-running resumes or is a no-op)")
    p.add_argument("--margins-from", default=None, help="phase 2: PHASE1_DIR/margins.json")
    p.add_argument("--init-from", default=None,
                   help="initial weights (a checkpoint.pt/best.pt); phase 2 defaults to phase one's checkpoint.pt")
    p.add_argument("--config", default=None, help="training config YAML/JSON (keys in docs/training.md)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), value parsed as YAML")
    p.add_argument("--no-evaluate", action="store_true", help="stop after training (no metrics.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def _eval_parser(sub):
    p = sub.add_parser("evaluate", help="evaluate a finished run's best checkpoint",
                       description="Write metrics.json, predictions.csv and confusion.csv for a run.")
    p.add_argument("--run", required=True, help="run folder written by `cloc train`")
    p.add_argument("--split-name", default="test", choices=("test", "val", "train"),
                   help="split for predictions/confusion (metrics.json always has test and val)")
    p.add_argument("--prepared", default=None, help="override the prepared dataset location stored in run.json")
    p.add_argument("--device", default=None, help="device for evaluation (default: cpu, or cuda if trained on cuda)")
    p.add_argument("-q", "--quiet", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cloc", description="CLOC benchmark: training and evaluation")
    sub = ap.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _eval_parser(sub)
    from .cli_results import register as _register_results  # cloc aggregate / cloc figures

    _register_results(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "func", None) is not None:  # subcommands registered with a handler
        return args.func(args)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        if args.command == "train":
            from .config import TrainConfig
            from .train import Job, train_job

            cfg = TrainConfig.load(args.config, args.overrides)
            phase = args.phase
            if phase is not None and phase != "ce":
                try:
                    phase = int(phase)
                except ValueError:
                    raise ClocError(f"--phase must be 1 or 2, got {phase!r}") from None
            job = Job(prepared=args.prepared, split=args.split, backbone=args.backbone, method=args.method,
                      seed=args.seed, out=args.out, phase=phase, margins_from=args.margins_from,
                      init_from=args.init_from, config=cfg, evaluate=not args.no_evaluate)
            res = train_job(job)
            if "test" in res and res["test"]:
                print(json.dumps({"out": args.out, "test": res["test"]}))
        elif args.command == "evaluate":
            from .evaluate import evaluate_run

            res = evaluate_run(args.run, args.split_name, args.prepared, args.device)
            print(json.dumps({"run": args.run, "test": res["test"]}))
    except ClocError as e:
        print(f"cloc {args.command}: error: {e}", file=sys.stderr)
        return 2
    except TrainingInterrupted as e:
        print(f"cloc {args.command}: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"cloc {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
