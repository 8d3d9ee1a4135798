"""The loss modules' public API: learnable_map forms, errors, state, dtypes, logging."""

import math

import pytest
import torch
import torch.nn.functional as F

from cloc import OrdinalContrastiveLoss_mm, OrdinalContrastiveLoss_sm


def batch(B=12, D=5, K=4, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, D, generator=g, dtype=dtype), torch.arange(B) % K


# -- learnable_map forms (those of the original README) ---------------------------------------
def test_default_map_is_all_learnable_in_init_range():
    torch.manual_seed(0)
    loss = OrdinalContrastiveLoss_mm(n_classes=5)
    assert isinstance(loss.learnables, torch.nn.Parameter) and loss.learnables.shape == (4,)
    margins = F.softplus(loss.learnables).detach()
    assert torch.all((margins >= 0.5) & (margins <= 1.0))
    torch.testing.assert_close(loss.margins().detach(), margins)


def test_mixed_map_keeps_only_learnables_as_parameters():
    learnable_map = [["fixed", 0.4], ["learnable", None], ["learnable", 0.7], ["fixed", 2.0]]
    loss = OrdinalContrastiveLoss_mm(n_classes=5, device="cpu", learnable_map=learnable_map)
    assert [name for name, _ in loss.named_parameters()] == ["learnables"]
    assert loss.learnables.shape == (2,)
    assert math.isclose(F.softplus(loss.learnables)[1].item(), 0.7, rel_tol=1e-6)
    margins = loss.margins().detach()
    assert margins[0].item() == pytest.approx(0.4, rel=1e-6)
    assert margins[3].item() == pytest.approx(2.0, rel=1e-6)
    assert 0.5 <= margins[1].item() <= 1.0


def test_all_fixed_map_has_no_parameters_and_large_values_pass_through():
    loss = OrdinalContrastiveLoss_mm(3, learnable_map=[["fixed", 0.4], ["fixed", 25.0]])
    assert loss.learnables is None and not list(loss.parameters())
    torch.testing.assert_close(loss.margins(), torch.tensor([0.4, 25.0]))


@pytest.mark.parametrize("learnable_map,expect_param,expected",
                         [(None, True, None), ([["learnable", None]], True, None),
                          ([["learnable", 0.7]], True, 0.7), ([["fixed", 0.4]], False, 0.4)])
def test_single_margin_forms(learnable_map, expect_param, expected):
    loss = OrdinalContrastiveLoss_sm(n_classes=5, learnable_map=learnable_map)
    assert isinstance(loss.distance, torch.nn.Parameter) == expect_param
    margin = F.softplus(loss.distance).item()
    if expected is None:
        assert 0.5 <= margin <= 1.0
    else:
        assert margin == pytest.approx(expected, rel=1e-6)
    assert torch.equal(loss.margins().detach(), torch.full((4,), margin))


def test_construction_does_not_consume_rng_unless_random_init_needed():
    state = torch.get_rng_state()
    OrdinalContrastiveLoss_mm(4, learnable_map=[["fixed", 0.4], ["learnable", 0.6], ["fixed", 1.0]])
    OrdinalContrastiveLoss_sm(4, learnable_map=[["learnable", 0.6]])
    assert torch.equal(state, torch.get_rng_state())
    OrdinalContrastiveLoss_sm(4)
    assert not torch.equal(state, torch.get_rng_state())


def test_random_init_is_seeded_by_the_global_rng():
    torch.manual_seed(5)
    a = OrdinalContrastiveLoss_mm(6).margins()
    torch.manual_seed(5)
    b = OrdinalContrastiveLoss_mm(6).margins()
    assert torch.equal(a, b)


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    (dict(n_classes=1), "n_classes must be an integer >= 2"),
    (dict(n_classes=2.5), "n_classes must be an integer"),
    (dict(n_classes=4, learnable_map=[["fixed", 0.4]]), "exactly 3 entries"),
    (dict(n_classes=4, learnable_map="fixed"), "list of \\[mode, value\\] pairs"),
    (dict(n_classes=3, learnable_map=[["frozen", 0.4], ["fixed", 0.4]]), "unknown mode 'frozen'"),
    (dict(n_classes=3, learnable_map=[["fixed", "big"], ["fixed", 0.4]]), "real number"),
    (dict(n_classes=3, learnable_map=[["fixed", -0.1], ["fixed", 0.4]]), "cannot be negative"),
    (dict(n_classes=3, learnable_map=[["fixed", math.inf], ["fixed", 0.4]]), "finite"),
    (dict(n_classes=3, learnable_map=[["fixed", math.nan], ["fixed", 0.4]]), "finite"),
    (dict(n_classes=3, learnable_map=[["fixed", None], ["fixed", 0.4]]), "needs a value"),
    (dict(n_classes=3, learnable_map=[["learnable", 0.0], ["fixed", 0.4]]), "positive value"),
    (dict(n_classes=3, learnable_map=[["fixed"], ["fixed", 0.4]]), "\\[mode, value\\] pair"),
    (dict(n_classes=3, reduction="sum"), "reduction must be one of"),
])
def test_bad_construction_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OrdinalContrastiveLoss_mm(**kwargs)


def test_single_margin_map_needs_exactly_one_entry():
    with pytest.raises(ValueError, match="exactly 1 entry"):
        OrdinalContrastiveLoss_sm(4, learnable_map=[["fixed", 0.4]] * 3)


def test_map_passed_positionally_as_writer_is_caught():
    with pytest.raises(ValueError, match="learnable_map=\\[...\\]"):
        OrdinalContrastiveLoss_mm(3, "cpu", [["fixed", 0.4], ["fixed", 0.4]])


@pytest.mark.parametrize("output,labels,match", [
    (torch.randn(4), torch.tensor([0, 1, 2, 0]), "2-D"),
    (torch.randint(0, 3, (4, 3)), torch.tensor([0, 1, 2, 0]), "floating point"),
    (torch.randn(4, 3), torch.tensor([[0], [1], [2], [0]]), "1-D"),
    (torch.randn(4, 3), torch.tensor([0.0, 1.0, 2.0, 0.0]), "integer"),
    (torch.randn(4, 3), torch.tensor([0, 1, 2]), "3 labels for 4 rows"),
    (torch.randn(4, 3), torch.tensor([0, 1, 3, 0]), "lie in \\[0, 3\\)"),
    (torch.randn(4, 3), torch.tensor([0, -1, 2, 0]), "lie in \\[0, 3\\)"),
    ([[0.0, 1.0]], torch.tensor([0]), "2-D"),
])
def test_bad_forward_inputs_raise_value_error(output, labels, match):
    with pytest.raises(ValueError, match=match):
        OrdinalContrastiveLoss_mm(3)(output, labels)


# -- degenerate batches -----------------------------------------------------------------------
@pytest.mark.parametrize("cls", [OrdinalContrastiveLoss_mm, OrdinalContrastiveLoss_sm])
@pytest.mark.parametrize("labels", [[2, 2, 2, 2], [0, 1, 2, 3], [1], []])
def test_batch_without_valid_anchor_returns_connected_zero(cls, labels):
    loss_fn = cls(4)
    x = torch.randn(len(labels), 3, requires_grad=True)
    loss = loss_fn(x, torch.tensor(labels, dtype=torch.long))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert x.grad is not None and torch.count_nonzero(x.grad) == 0
    assert all(p.grad is not None and torch.count_nonzero(p.grad) == 0 for p in loss_fn.parameters())


def test_zero_rows_give_finite_gradients():
    x = torch.zeros(6, 4, requires_grad=True)
    OrdinalContrastiveLoss_mm(3)(x, torch.tensor([0, 0, 1, 1, 2, 2])).backward()
    assert torch.isfinite(x.grad).all()


# -- state, devices, dtypes -------------------------------------------------------------------
def test_state_dict_round_trip_restores_fixed_and_learned_margins():
    learnable_map = [["fixed", 0.3], ["learnable", None], ["fixed", 1.1]]
    trained = OrdinalContrastiveLoss_mm(4, learnable_map=learnable_map)
    with torch.no_grad():
        trained.learnables.add_(0.37)
    state = trained.state_dict()
    assert {"distances_ori", "learnables", "mask_learnables"} <= set(state)
    restored = OrdinalContrastiveLoss_mm(4, learnable_map=learnable_map)
    restored.load_state_dict(state)
    x, y = batch()
    assert torch.equal(restored.margins(), trained.margins())
    assert torch.equal(restored(x, y), trained(x, y))


def test_fixed_single_margin_is_a_buffer_in_state_dict():
    loss = OrdinalContrastiveLoss_sm(4, learnable_map=[["fixed", 0.4]])
    assert "distance" in loss.state_dict() and not list(loss.parameters())


@pytest.mark.parametrize("cls", [OrdinalContrastiveLoss_mm, OrdinalContrastiveLoss_sm])
def test_dtypes_follow_output_without_float64_leaks(cls):
    loss = cls(4)
    x, y = batch()
    value = loss(x, y)
    assert value.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in loss.parameters())
    assert all(b.dtype in (torch.float32, torch.bool, torch.int64) for b in loss.buffers())
    loss = loss.to(torch.float64)
    assert loss.margins().dtype == torch.float64
    assert loss(x.double(), y).dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_output_is_computed_in_float32(dtype):
    loss = OrdinalContrastiveLoss_mm(4, learnable_map=[["fixed", 0.5]] * 3)
    x, y = batch()
    value = loss(x.to(dtype), y)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, loss(x.to(dtype).float(), y))


def test_autocast_region_does_not_lower_the_loss_precision():
    loss = OrdinalContrastiveLoss_mm(4)
    linear = torch.nn.Linear(5, 8)
    x, y = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = linear(x)
        assert out.dtype == torch.bfloat16
        value = loss(out, y)
    assert value.dtype == torch.float32
    value.backward()
    assert loss.learnables.grad.dtype == torch.float32


# -- phase-two hand-off and logging -----------------------------------------------------------
@pytest.mark.parametrize("cls", [OrdinalContrastiveLoss_mm, OrdinalContrastiveLoss_sm])
def test_to_learnable_map_hands_margins_to_phase_two(cls):
    torch.manual_seed(1)
    phase_one = cls(5)
    with torch.no_grad():
        for p in phase_one.parameters():
            p.add_(0.2)
    learnable_map = phase_one.to_learnable_map()
    assert all(mode == "fixed" and isinstance(v, float) for mode, v in learnable_map)
    assert len(learnable_map) == (4 if cls is OrdinalContrastiveLoss_mm else 1)
    phase_two = cls(5, learnable_map=learnable_map)
    assert not list(phase_two.parameters())
    x, y = batch(K=5)
    torch.testing.assert_close(phase_two(x, y), phase_one(x, y), rtol=1e-6, atol=1e-7)
    resumed = cls(5, learnable_map=phase_one.to_learnable_map(mode="learnable"))
    assert len(list(resumed.parameters())) == 1
    with pytest.raises(ValueError, match="mode"):
        phase_one.to_learnable_map(mode="frozen")


def test_step_keyword_of_the_original_release_still_works(tmp_path):
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(tmp_path)
    loss = OrdinalContrastiveLoss_mm(3, summaryWriter=writer)
    x, y = batch(K=3)
    torch.testing.assert_close(loss(x, y, step=4), loss(x, y, global_step=4))


def read_events(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def test_multi_margin_logs_each_margin_and_the_class_distances_layout(tmp_path):
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(tmp_path)
    loss = OrdinalContrastiveLoss_mm(4, summaryWriter=writer,
                                     learnable_map=[["fixed", 0.3], ["learnable", 0.6], ["fixed", 0.9]])
    x, y = batch()
    for step in range(3):
        loss(x, y, global_step=step)
    loss(x, y)  # no step: nothing logged
    writer.close()
    acc = read_events(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["C0-C1", "C1-C2", "C2-C3"]
    events = acc.Scalars("C1-C2")
    assert [e.step for e in events] == [0, 1, 2]
    assert events[0].value == pytest.approx(0.6, rel=1e-5)
    from tensorboard.plugins.custom_scalar import metadata as cs_meta
    from tensorboard.plugins.custom_scalar import layout_pb2
    layout = layout_pb2.Layout()
    layout.ParseFromString(acc.Tensors(cs_meta.CONFIG_SUMMARY_TAG)[0].tensor_proto.string_val[0])
    category = layout.category[0]
    assert category.title == "Class Distances"
    assert list(category.chart[0].multiline.tag) == ["C0-C1", "C1-C2", "C2-C3"]


def test_single_margin_logs_margin_and_works_without_writer(tmp_path):
    from torch.utils.tensorboard import SummaryWriter
    x, y = batch()
    OrdinalContrastiveLoss_sm(4)(x, y, global_step=1)  # the original crashed here
    writer = SummaryWriter(tmp_path)
    OrdinalContrastiveLoss_sm(4, summaryWriter=writer, learnable_map=[["fixed", 0.8]])(x, y, 7)
    writer.close()
    events = read_events(tmp_path).Scalars("Margin")
    assert [(e.step, round(e.value, 5)) for e in events] == [(7, 0.8)]


def test_log_margins_writes_without_a_forward(tmp_path):
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(tmp_path)
    loss = OrdinalContrastiveLoss_mm(3, summaryWriter=writer, learnable_map=[["fixed", 0.3], ["fixed", 0.9]])
    loss.log_margins(5)
    OrdinalContrastiveLoss_mm(3).log_margins(5)  # no writer: nothing to do, no error
    writer.close()
    acc = read_events(tmp_path)
    assert [(e.step, round(e.value, 5)) for e in acc.Scalars("C1-C2")] == [(5, 0.9)]


def test_no_grad_forward_gives_the_same_value():
    loss = OrdinalContrastiveLoss_mm(4)
    x, y = batch()
    with torch.no_grad():
        value = loss(x, y)
    assert not value.requires_grad
    torch.testing.assert_close(value, loss(x, y).detach())
