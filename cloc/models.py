"""Model factory: any timm model with a K-class head and a uniform features/logits interface."""
from __future__ import annotations

import difflib
import os
import urllib.request
from pathlib import Path

import torch
import torch.nn as nn

from .errors import ClocError


def _all_models() -> list[str]:
    import timm

    return timm.list_models()


def suggest_backbones(name: str, n: int = 5) -> list[str]:
    import timm

    names = _all_models()
    out = []
    stem = name.split(".")[0]
    for cand in timm.list_models(f"*{stem}*")[:n]:
        out.append(cand)
    for cand in difflib.get_close_matches(stem, names, n=n, cutoff=0.6):
        if cand not in out:
            out.append(cand)
    return out[:n]


def check_backbone(name: str) -> None:
    import timm

    if not isinstance(name, str) or not name:
        raise ClocError("--backbone is empty; give a timm model name such as resnet18")
    if not timm.is_model(name.split(".")[0]):
        close = suggest_backbones(name)
        hint = f" Close names: {', '.join(close)}." if close else ""
        raise ClocError(
            f"unknown backbone {name!r}: timm has no such model.{hint} "
            f"List models with python -c \"import timm; print(timm.list_models('*{name.split('.')[0][:6]}*'))\""
        )


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub answers within ``timeout`` s (honours proxy settings)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return False
    except Exception:
        pass
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        req = urllib.request.Request(endpoint, method="HEAD")
        urllib.request.urlopen(req, timeout=timeout).close()
        return True
    except urllib.error.HTTPError:
        return True  # it answered
    except Exception:
        return False


def _hub_help(name: str) -> str:
    return (
        f"Download the weights on a machine with network access (e.g. "
        f"python -c \"import timm, safetensors.torch as st; st.save_file(timm.create_model('{name}', "
        f"pretrained=True).state_dict(), '{name}.safetensors')\"), copy the file here and set "
        f"`pretrained: /path/to/{name}.safetensors` in the training config (or --set pretrained=/path/...)."
    )


def create_model(name: str, num_classes: int, pretrained: str = "none", drop_rate: float = 0.0) -> nn.Module:
    """timm model ``name`` with a fresh ``num_classes`` head.

    ``pretrained``: ``none`` (random init), ``hub`` (timm's default source; fails at once when
    offline and the weights are not cached) or a local ``.safetensors``/``.pth`` file whose
    classifier is replaced by a new K-class head.
    """
    import timm

    check_backbone(name)
    kw = dict(num_classes=num_classes)
    if drop_rate:
        kw["drop_rate"] = drop_rate
    if pretrained == "none":
        return timm.create_model(name, pretrained=False, **kw)
    if pretrained == "hub":
        if not hub_reachable():
            cached = _cached_hub_file(name)
            if cached is None:
                raise ClocError(
                    f"pretrained: hub asks for {name}'s weights from the Hugging Face hub, which is not "
                    f"reachable (offline) and they are not in the local cache. " + _hub_help(name)
                )
            pretrained = cached  # load the cached file without touching the network
        else:
            try:
                return timm.create_model(name, pretrained=True, **kw)
            except Exception as e:
                raise ClocError(f"could not fetch hub weights for {name}: {e}. " + _hub_help(name)) from None
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise ClocError(f"pretrained weights file {path} not found; give an existing .safetensors/.pth file")
    try:
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kw)
        _check_loaded(model, path)
        return model
    except ClocError:
        raise
    except Exception as e:
        raise ClocError(
            f"could not load pretrained weights {path} into {name}: {type(e).__name__}: {e}. "
            f"The file must hold a state_dict of the same architecture (any head size)"
        ) from None


def _read_state_dict(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    sd = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
            break
    return {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}


def _check_loaded(model: nn.Module, path: Path) -> None:
    """timm drops the head and loads non-strictly when K differs; make sure the body did load."""
    sd = _read_state_dict(path)
    head = getattr(model, "pretrained_cfg", {}).get("classifier", "")
    heads = (head,) if isinstance(head, str) else tuple(head)
    body = [k for k in model.state_dict() if not any(k.startswith(h + ".") for h in heads if h)]
    found = sum(1 for k in body if k in sd and tuple(sd[k].shape) == tuple(model.state_dict()[k].shape))
    if found < 0.9 * len(body):
        raise ClocError(
            f"could not load pretrained weights {path} into {model.default_cfg.get('architecture', '?')}: "
            f"only {found} of its {len(body)} body tensors are in the file with matching shapes; the file "
            f"must hold a state_dict of the same architecture (any head size)"
        )


def _cached_hub_file(name: str) -> str | None:
    """Path of ``name``'s default weights in the local Hugging Face cache, or None."""
    try:
        import timm
        from huggingface_hub import try_to_load_from_cache

        hub_id = getattr(timm.models.get_pretrained_cfg(name), "hf_hub_id", None)
        if not hub_id:
            return None
        cache_dir = os.environ.get("HF_HUB_CACHE") or (
            os.path.join(os.environ["HF_HOME"], "hub") if os.environ.get("HF_HOME") else None)
        for fname in ("model.safetensors", "pytorch_model.bin"):
            p = try_to_load_from_cache(hub_id, fname, cache_dir=cache_dir)
            if isinstance(p, str) and os.path.isfile(p):
                return p
    except Exception:
        return None
    return None


def data_config(model: nn.Module) -> dict:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return {
        "input_size": int(cfg.get("input_size", (3, 224, 224))[-1]),
        "mean": list(cfg.get("mean", (0.485, 0.456, 0.406))),
        "std": list(cfg.get("std", (0.229, 0.224, 0.225))),
    }


class FeaturesAndLogits(nn.Module):
    """Wraps a timm model: ``forward(x) -> (features, logits)``.

    features = model.forward_head(model.forward_features(x), pre_logits=True) (pooled, pre-logits),
    logits = model.get_classifier()(features). With ``need_features=False`` it is just
    ``model(x)`` (features None), which is the fast path when the CLOC loss applies to logits.
    """

    def __init__(self, model: nn.Module, need_features: bool):
        super().__init__()
        self.model = model
        self.need_features = need_features

    def forward(self, x):
        if not self.need_features:
            return None, self.model(x)
        f = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
        return f, self.model.get_classifier()(f)
