"""Command line: `python -m data_prep NAME ...`, `python -m data_prep bias ...`, `python -m data_prep --list`."""
from __future__ import annotations

import argparse
import sys

import yaml

from data_prep.registry import DatasetSpec, get, registry
from data_prep.errors import DataPrepError

COMMON_OPTIONS = {"name", "raw", "out", "size", "seed", "skip_corrupt", "dataset_name", "config"}
USAGE = """usage:
  python -m data_prep NAME --raw RAW_DIR --out data/prepared/NAME [--size N] [--seed S] [--skip-corrupt]
                      [--dataset-name NAME] [--config OPTIONS.yaml] [adapter options]
  python -m data_prep bias --source data/prepared/X --out data/prepared/X_bias --from-class A
                      --to-class B --fraction F [--splits train[,val,test]] [--seed S]
  python -m data_prep --list
  python -m data_prep NAME --help     (adapter options)"""


def name_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def float_list(text: str) -> list[float]:
    try:
        return [float(item) for item in name_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def dataset_parser(spec: DatasetSpec) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m data_prep {spec.name}",
                                     description=f"{spec.summary}. Data: {spec.homepage}")
    parser.add_argument("name")
    parser.add_argument("--raw", required=spec.needs_raw, help="folder holding the published layout")
    parser.add_argument("--out", required=True, help="prepared folder to write, e.g. data/prepared/NAME")
    parser.add_argument("--size", type=int, help=f"square image size in pixels (default {spec.default_size})")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    parser.add_argument("--skip-corrupt", action="store_true", help="skip and count unreadable images")
    parser.add_argument("--dataset-name", help="name recorded in dataset.json")
    parser.add_argument("--config", help="YAML mapping of adapter options (command-line options win)")
    adapter = spec.adapter()
    if hasattr(adapter, "add_arguments"):
        adapter.add_arguments(parser)
    return parser


def bias_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_prep bias",
                                     description="relabel a seeded fraction of one class as another")
    parser.add_argument("command")
    parser.add_argument("--source", required=True, help="prepared dataset folder")
    parser.add_argument("--out", required=True, help="biased prepared dataset folder to write")
    parser.add_argument("--from-class", required=True, help="class index or name to relabel")
    parser.add_argument("--to-class", required=True, help="class index or name it becomes")
    parser.add_argument("--fraction", type=float, required=True, help="share of from-class relabelled")
    parser.add_argument("--splits", type=name_list, default=["train"], help="splits to bias (default train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="name recorded in dataset.json (default: the out folder's name)")
    return parser


def list_registry() -> str:
    lines = []
    for spec in registry.values():
        classes = f"K={spec.num_classes}" if spec.num_classes else "K: option"
        lines.append(f"{spec.name:13} {classes:13} {spec.protocol:13} {spec.summary}\n"
                     f"{'':13} data: {spec.homepage}")
    return "\n".join(lines)


def load_config(path: str | None) -> dict:
    if path is None:
        return {}
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as error:
        raise DataPrepError(f"cannot read options file {path}: {error}") from None
    if not isinstance(config, dict):
        raise DataPrepError(f"options file {path} must hold a mapping of option: value")
    return config


def run(argv: list[str]) -> str:
    from data_prep.bias import apply_bias
    from data_prep.prepare import prepare

    if not argv or argv[0] in ("-h", "--help"):
        return USAGE
    if argv[0] == "--list":
        return list_registry()
    if argv[0] == "bias":
        args = bias_parser().parse_args(argv)
        info = apply_bias(args.source, args.out, args.from_class, args.to_class, args.fraction,
                          splits=args.splits, seed=args.seed, name=args.name)
        moved = sum(sum(counts.values()) for counts in info["bias"]["relabelled"].values())
        return f"wrote {args.out}: {moved} label(s) moved {info['bias']['from_name']} -> {info['bias']['to_name']}"
    spec = get(argv[0])
    args = dataset_parser(spec).parse_args(argv)
    options = load_config(args.config)
    options.update({key: value for key, value in vars(args).items()
                    if key not in COMMON_OPTIONS and value is not None})
    info = prepare(spec.name, args.raw, args.out, size=args.size, seed=args.seed,
                   skip_corrupt=args.skip_corrupt, dataset_name=args.dataset_name, **options)
    return (f"wrote {args.out}: {info['cache']['shape'][0]} images at {info['image_size']} px, "
            f"{info['protocol']['n_splits']} split(s), cache {'reused' if info['cache_reused'] else 'built'}"
            + (f", {info['skipped_corrupt']['count']} corrupt skipped" if info['skipped_corrupt']['count'] else ""))


def main(argv: list[str] | None = None) -> int:
    try:
        print(run(sys.argv[1:] if argv is None else argv))
    except DataPrepError as error:
        print(f"data_prep: error: {error}", file=sys.stderr)
        return 2
    return 0
