"""Model factory (interface, local weights, offline hub), config and tensor augmentation."""
import os
import time

import pytest
import torch

from cloc.config import TrainConfig, config_hash
from cloc.data import BatchTransform, SplitData, TrainBatches, iterate_train, load_prepared
from cloc.errors import ClocError
from cloc.models import FeaturesAndLogits, create_model


@pytest.mark.parametrize("name", ["test_resnet", "test_convnext", "test_vit"])
def test_features_logits_interface(name):
    torch.manual_seed(0)
    m = create_model(name, 5).eval()
    x = torch.randn(2, 3, 32, 32) if name != "test_vit" else torch.randn(2, 3, 160, 160)
    f, logits = FeaturesAndLogits(m, need_features=True)(x)
    assert f.ndim == 2 and logits.shape == (2, 5)
    torch.testing.assert_close(logits, m(x))
    _, fast = FeaturesAndLogits(m, need_features=False)(x)
    torch.testing.assert_close(fast, logits)


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_local_pretrained_file_with_new_head(tmp_path, fmt):
    import timm

    src = timm.create_model("test_resnet", num_classes=10)
    path = tmp_path / f"w.{fmt}"
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(src.state_dict(), str(path))
    else:
        torch.save(src.state_dict(), path)
    m = create_model("test_resnet", 3, pretrained=str(path))
    assert m.get_classifier().out_features == 3
    torch.testing.assert_close(m.conv1[0].weight, src.conv1[0].weight)
    fresh = create_model("test_resnet", 3)
    assert not torch.equal(fresh.conv1[0].weight, src.conv1[0].weight)


def test_local_pretrained_wrong_architecture(tmp_path):
    import timm

    path = tmp_path / "w.pth"
    torch.save(timm.create_model("test_convnext").state_dict(), path)
    with pytest.raises(ClocError, match="could not load pretrained weights"):
        create_model("test_resnet", 3, pretrained=str(path))


def test_offline_hub_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # empty cache
    t = time.perf_counter()
    with pytest.raises(ClocError) as e:
        create_model("test_resnet", 3, pretrained="hub")
    assert time.perf_counter() - t < 15
    msg = str(e.value)
    assert "not reachable" in msg and "pretrained: /path/to/test_resnet.safetensors" in msg


def test_offline_hub_without_env_var_does_not_hang(tmp_path, monkeypatch):
    import cloc.models as cm

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # closed port: refused at once
    t = time.perf_counter()
    assert cm.hub_reachable(timeout=2) is False
    with pytest.raises(ClocError, match="pretrained:"):
        create_model("test_resnet", 3, pretrained="hub")
    assert time.perf_counter() - t < 20


def test_unknown_backbone_suggests():
    with pytest.raises(ClocError, match="convnext_tiny"):
        create_model("convnext_tinyy", 3)


def test_config_defaults_hash_and_validation(tmp_path):
    c = TrainConfig()
    c.validate()
    assert c.max_epochs == 100 and c.patience == 10 and c.lam == 1.0 and c.monitor == "mae"
    assert c.accuracy_threshold == 0.95 and c.effective_margin_lr == c.lr and c.loss_on == "logits"
    d = c.to_dict()
    assert "lambda" in d and TrainConfig.from_dict(d) == c
    assert config_hash(d) == config_hash(dict(reversed(list(d.items()))))
    assert TrainConfig.load(None, ["epochs=3", "lambda=2", "crop_scale=[0.5, 1]"]).max_epochs == 3
    assert TrainConfig.load(None, ["lr=1e-3", "max_epochs=2e1"]).lr == 1e-3  # YAML 1.1 reads 1e-3 as a string
    for bad in (["lr=-1"], ["batch_size=1"], ["monitor=foo"], ["amp=fp8"], ["crop_scale=[0.5, 2]"],
                ["pretrained=weights.txt"], ["device=tpu"], ["channels_last=maybe"], ["lr=abc"]):
        with pytest.raises(ClocError):
            TrainConfig.load(None, bad)
    p = tmp_path / "c.json"
    p.write_text('{"train": {"lr": 0.01}}')
    assert TrainConfig.load(p).lr == 0.01


def test_load_prepared_order_and_content(prepared):
    import numpy as np
    import pandas as pd

    ds = load_prepared(prepared, 0)
    assert ds.num_classes == 4 and ds.name == "toy"
    tr = ds.splits["train"]
    assert tr.images.dtype == torch.uint8 and tr.images.shape == (160, 3, 16, 16)
    arr = np.load(prepared / "images.npy")
    idx = pd.read_csv(prepared / "images_index.csv").set_index("path")["row"]
    i = 17
    assert torch.equal(tr.images[i], torch.from_numpy(arr[idx[tr.paths[i]]]).permute(2, 0, 1))


def test_batch_transform_exact_and_deterministic():
    x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    plain = BatchTransform(16, mean, std, "none")(x)
    ref = (x.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(plain, ref)
    flip = BatchTransform(16, mean, std, "flip")
    theta = flip.sample_params(4, torch.Generator().manual_seed(0))
    out = flip(x, theta)
    flipped = theta[:, 0, 0] < 0
    torch.testing.assert_close(out[flipped], ref[flipped].flip(-1), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[~flipped], ref[~flipped], atol=1e-4, rtol=0)
    crop = BatchTransform(12, mean, std, "crop_flip")
    a = crop(x, crop.sample_params(4, torch.Generator().manual_seed(1)))
    b = crop(x, crop.sample_params(4, torch.Generator().manual_seed(1)))
    assert a.shape == (4, 3, 12, 12) and torch.equal(a, b)


def test_batches_same_with_workers():
    data = SplitData(torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8), torch.arange(50) % 3,
                     [str(i) for i in range(50)])
    tf = BatchTransform(8, [0.5] * 3, [0.5] * 3, "crop_flip")
    tb = TrainBatches(data, 16, seed=5, epoch=2, transform=tf)
    assert len(tb) == 4  # 16+16+16+2
    a = list(iterate_train(tb, 0, False))
    b = list(iterate_train(tb, 1, False))
    for (xa, ya, ta), (xb, yb, tb_) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ta, tb_)
    assert sorted(torch.cat([y for _, y, _ in a]).tolist()) == sorted(data.labels.tolist())
    other = TrainBatches(data, 16, seed=5, epoch=3, transform=tf)
    assert not torch.equal(other.perm, tb.perm)
