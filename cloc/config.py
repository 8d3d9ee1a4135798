"""Training configuration: one validated dataclass, loaded from YAML/JSON and ``--set`` overrides."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ClocError
from .loss import REDUCTIONS

METHODS = ("ce", "cloc_mm", "cloc_sm")
AUGMENTS = ("none", "flip", "crop", "crop_flip")
SCHEDULERS = ("none", "cosine", "step")
AMP_MODES = ("none", "bf16", "fp16")
LOSS_ON = ("logits", "features")
PHASE2_INIT = ("phase1", "initial")

# Keys that do not change what is computed (only how fast / where): left out of the config hash
# so a job re-run with more threads is still recognised as the same job.
NON_SEMANTIC_KEYS = ("threads", "workers", "progress")


@dataclass
class TrainConfig:
    """Every training setting, with its default. See docs/training.md."""

    max_epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-4
    margin_lr: float | None = None  # None -> same as lr
    weight_decay: float = 0.0
    optimizer: str = "adam"
    scheduler: str = "none"
    step_size: int = 30
    gamma: float = 0.1
    patience: int = 10
    monitor: str = "mae"
    accuracy_threshold: float = 0.95
    lam: float = 1.0  # written "lambda" in files and --set
    loss_on: str = "logits"
    reduction: str = "reference"
    learnable_map: list | None = None
    phase2_init: str = "phase1"
    augment: str = "crop_flip"
    crop_scale: list = field(default_factory=lambda: [0.6, 1.0])
    crop_ratio: list = field(default_factory=lambda: [0.75, 4.0 / 3.0])
    image_size: int | None = None  # None -> pretrained cfg size when pretrained, else cache size
    mean: list | None = None  # None -> model's pretrained_cfg mean
    std: list | None = None
    pretrained: str = "none"  # none | hub | /path/to/weights.{safetensors,pth}
    drop_rate: float = 0.0
    device: str = "auto"
    amp: str = "none"
    channels_last: bool = False
    threads: int | None = None
    workers: int = 0
    deterministic: bool = True
    eval_batch_size: int | None = None
    progress: str = "auto"  # auto (tqdm when stderr is a TTY) | always | never

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: dict | None) -> "TrainConfig":
        d = dict(d or {})
        if "lambda" in d:
            if "lam" in d:
                raise ClocError("config gives both 'lambda' and 'lam'; keep one")
            d["lam"] = d.pop("lambda")
        if "epochs" in d:
            if "max_epochs" in d:
                raise ClocError("config gives both 'epochs' and 'max_epochs'; keep one")
            d["max_epochs"] = d.pop("epochs")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            import difflib

            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, sorted(known | {"lambda", "epochs"}), n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ClocError(
                f"unknown training config key(s): {', '.join(hints)}; "
                f"valid keys are documented in docs/training.md"
            )
        cfg = cls(**d)
        cfg.validate()
        return cfg

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: list[str] | None = None) -> "TrainConfig":
        d: dict = {}
        if path is not None:
            p = Path(path)
            if not p.is_file():
                raise ClocError(f"config file {p} not found; pass an existing YAML/JSON file to --config")
            try:
                text = p.read_text()
                d = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
            except (yaml.YAMLError, json.JSONDecodeError) as e:
                raise ClocError(f"config file {p} is not valid YAML/JSON: {e}") from None
            d = d or {}
            if not isinstance(d, dict):
                raise ClocError(f"config file {p} must hold a mapping of key: value, got {type(d).__name__}")
            # allow a nested 'train:' section
            if set(d) == {"train"} and isinstance(d["train"], dict):
                d = d["train"]
        for item in overrides or []:
            if "=" not in item:
                raise ClocError(f"--set expects key=value, got {item!r}")
            k, v = item.split("=", 1)
            k = k.strip()
            try:
                d[k] = yaml.safe_load(v)
            except yaml.YAMLError:
                d[k] = v
        return cls.from_dict(d)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        def bad(key, msg):
            raise ClocError(f"config '{key}': {msg}")

        def coerce(key):
            # YAML 1.1 reads "1e-3" (no dot) as a string: accept numeric strings
            v = getattr(self, key)
            if isinstance(v, str):
                try:
                    v = float(v)
                    setattr(self, key, v)
                except ValueError:
                    pass
            return v

        def intlike(key, lo=None, allow_none=False):
            v = coerce(key)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, int):
                if isinstance(v, float) and v.is_integer():
                    setattr(self, key, int(v))
                    v = int(v)
                else:
                    bad(key, f"must be an integer, got {v!r}")
            if lo is not None and v < lo:
                bad(key, f"must be >= {lo}, got {v}")

        def num(key, lo=None, hi=None, allow_none=False, strict_lo=False):
            v = coerce(key)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                bad(key, f"must be a finite number, got {v!r}")
            setattr(self, key, float(v))
            if lo is not None and (v <= lo if strict_lo else v < lo):
                bad(key, f"must be {'>' if strict_lo else '>='} {lo}, got {v}")
            if hi is not None and v > hi:
                bad(key, f"must be <= {hi}, got {v}")

        def choice(key, options):
            v = getattr(self, key)
            if v not in options:
                bad(key, f"must be one of {', '.join(options)}, got {v!r}")

        intlike("max_epochs", 1)
        intlike("batch_size", 2)
        intlike("eval_batch_size", 1, allow_none=True)
        intlike("patience", 1)
        intlike("step_size", 1)
        intlike("image_size", 8, allow_none=True)
        intlike("threads", 1, allow_none=True)
        intlike("workers", 0)
        num("lr", 0, strict_lo=True)
        num("margin_lr", 0, strict_lo=True, allow_none=True)
        num("weight_decay", 0)
        num("gamma", 0, strict_lo=True)
        num("accuracy_threshold", 0, 1)
        num("lam", 0)
        num("drop_rate", 0, 1)
        if str(self.optimizer).lower() not in ("adam", "adamw"):
            bad("optimizer", f"must be adam or adamw, got {self.optimizer!r}")
        self.optimizer = str(self.optimizer).lower()
        choice("scheduler", SCHEDULERS)
        choice("loss_on", LOSS_ON)
        choice("reduction", REDUCTIONS)
        choice("phase2_init", PHASE2_INIT)
        choice("augment", AUGMENTS)
        choice("amp", AMP_MODES)
        choice("progress", ("auto", "always", "never"))
        for key in ("channels_last", "deterministic"):
            if not isinstance(getattr(self, key), bool):
                bad(key, f"must be true or false, got {getattr(self, key)!r}")
        from .metrics import METRICS  # late import: metrics is owned by another module

        if self.monitor not in METRICS or self.monitor == "rps":
            bad("monitor", f"must be one of {', '.join(m for m in METRICS if m != 'rps')}, got {self.monitor!r}")
        for key in ("crop_scale", "crop_ratio"):
            v = getattr(self, key)
            if (not isinstance(v, (list, tuple)) or len(v) != 2
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                    or not 0 < v[0] <= v[1]):
                bad(key, f"must be [low, high] with 0 < low <= high, got {v!r}")
            setattr(self, key, [float(x) for x in v])
        if self.crop_scale[1] > 1:
            bad("crop_scale", f"high must be <= 1, got {self.crop_scale[1]}")
        for key in ("mean", "std"):
            v = getattr(self, key)
            if v is not None:
                if (not isinstance(v, (list, tuple)) or len(v) != 3
                        or not all(isinstance(x, (int, float)) for x in v)):
                    bad(key, f"must be a list of 3 numbers (RGB), got {v!r}")
                if key == "std" and any(x <= 0 for x in v):
                    bad(key, f"must be positive, got {v!r}")
                setattr(self, key, [float(x) for x in v])
        if not isinstance(self.pretrained, str) or not self.pretrained:
            bad("pretrained", f"must be 'none', 'hub' or a path to a .safetensors/.pth file, got {self.pretrained!r}")
        if self.pretrained not in ("none", "hub"):
            if not self.pretrained.endswith((".safetensors", ".pth", ".pt", ".bin")):
                bad("pretrained", f"{self.pretrained!r} is neither 'none', 'hub' nor a .safetensors/.pth/.pt/.bin file")
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")
        ):
            bad("device", f"must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.learnable_map is not None and not isinstance(self.learnable_map, list):
            bad("learnable_map", f"must be null or a list of [mode, value] pairs, got {self.learnable_map!r}")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["lambda"] = d.pop("lam")
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True)

    @property
    def effective_margin_lr(self) -> float:
        return self.lr if self.margin_lr is None else self.margin_lr


def config_hash(payload: dict) -> str:
    """sha256 (first 16 hex) of a JSON-serialisable payload, keys sorted."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
