"""The dense-prediction models: outputs, parameter splits, batched task gradients, training, and sizes."""

from __future__ import annotations

import pytest
import torch

from dense_models import (BUILDERS, CONVS, NORMALIZED, SIZE, TASKS, WIDTHS, build, dense_data, dense_tasks, images,
                          task_losses)
from mtl_ref import fit
from mtl_ref.models import (MTAN, PAPER_WIDTHS, CrossStitch, HardSharing, SegNet, Sluice, count_parameters,
                            segnet_single_task, segnet_split, soft_sharing_segnet)

NAMES = list(BUILDERS)
NYUV2 = {"segmentation": 13, "depth": 1, "normal": 3}


# --- outputs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_outputs_have_one_map_per_task(name: str) -> None:
    model = build(name).eval()
    x = images(batch=2)
    with torch.no_grad():
        out = model(x)
        assert list(out) == list(TASKS)
        for task, channels in TASKS.items():
            assert out[task].shape == (2, channels, SIZE, SIZE)
            torch.testing.assert_close(model(x, task=task), out[task])
    norms = out["normal"].norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert not torch.allclose(out["depth"].abs(), torch.ones_like(out["depth"]))


@pytest.mark.parametrize("name", NAMES)
def test_unknown_task_is_named(name: str) -> None:
    with pytest.raises(KeyError, match="nope"):
        build(name)(images(), task="nope")


@pytest.mark.parametrize("model", [MTAN, CrossStitch, Sluice])
def test_image_size_must_halve_once_per_block(model: type) -> None:
    net = model(TASKS, WIDTHS, CONVS, normalized=NORMALIZED)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*3 = 8.*\(2, 3, 12, 12\)"):
        net(images(size=12))


def test_bad_task_specs_are_named() -> None:
    with pytest.raises(ValueError, match="'normals'"):
        MTAN(TASKS, WIDTHS, CONVS, normalized=["normals"])
    with pytest.raises(ValueError, match="'depth'"):
        segnet_split(TASKS, WIDTHS, CONVS, normalized=["depth"])
    with pytest.raises(ValueError, match="'depth': out_channels"):
        CrossStitch({**TASKS, "depth": 0}, WIDTHS, CONVS)
    with pytest.raises(ValueError, match="3 blocks but convs has 2"):
        SegNet(WIDTHS, (2, 2))
    with pytest.raises(ValueError, match=r"widths \[5\] do not split into 2"):
        Sluice(TASKS, (4, 8, 5), CONVS)


def test_segnet_layout_mirrors_the_encoder() -> None:
    net = SegNet((4, 8, 16), (2, 2, 3), in_channels=1)
    assert [len(b) for b in net.encoder] == [2, 2, 3]
    assert [len(b) for b in net.decoder] == [3, 2, 2]
    assert net.decoder_in == (16, 8, 4) and net.decoder_out == (8, 4, 4)
    assert net(torch.randn(1, 1, 8, 8)).shape == (1, 4, 8, 8)


def test_split_is_hard_sharing_with_the_segnet_as_representation() -> None:
    model = build("split")
    assert isinstance(model, HardSharing) and isinstance(model.trunk, SegNet)
    model(images())
    assert model.representation.shape == (2, WIDTHS[0], SIZE, SIZE)
    last = model.last_shared_parameters()
    conv = model.trunk.decoder[-1][-1][0]  # the last 3×3 convolution, not the batch norm after it
    assert isinstance(conv, torch.nn.Conv2d) and [id(p) for p in last] == [id(p) for p in conv.parameters()]
    assert last[0].dim() == 4


def test_mtan_exposes_its_attention_masks() -> None:
    model = build("mtan")
    model(images())
    assert model.layer_names == ["encoder 1", "encoder 2", "encoder 3", "decoder 1", "decoder 2", "decoder 3"]
    assert list(model.masks) == list(TASKS)
    shapes = [(2, 4, 16, 16), (2, 8, 8, 8), (2, 8, 4, 4), (2, 8, 4, 4), (2, 4, 8, 8), (2, 4, 16, 16)]
    for masks in model.masks.values():
        assert [tuple(m.shape) for m in masks] == shapes
        assert all(not m.requires_grad and 0 < m.min() and m.max() < 1 for m in masks)
    model(images(), task="depth")
    assert list(model.masks) == ["depth"]


# --- shared and task-specific parameters --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_shared_and_task_parameters_partition_the_model(name: str) -> None:
    model = build(name)
    shared = {id(p) for p in model.shared_parameters()}
    task = {id(p) for p in model.task_parameters()}
    assert not shared & task
    assert shared | task == {id(p) for p in model.parameters()}
    assert len(shared) == len(model.shared_parameters())
    if name.startswith("soft") or name == "single_task":
        assert not shared


def test_mtan_shared_parameters_are_the_segnet_and_the_f_layers() -> None:
    model = build("mtan")
    expected = [*model.segnet.parameters(), *model.encoder_f.parameters(), *model.decoder_f.parameters()]
    assert {id(p) for p in model.shared_parameters()} == {id(p) for p in expected}
    assert all(any(p is q for q in model.segnet.parameters()) for p in model.last_shared_parameters())


def test_an_mtan_task_loss_does_not_reach_other_tasks_attention() -> None:
    model = build("mtan")
    data = dense_data(n=2)
    losses = task_losses(model(data.x), data)
    for i, task in enumerate(TASKS):
        mine = [*model.attention[task].parameters(), *model.heads[task].parameters()]
        others = [p for t in TASKS if t != task
                  for p in (*model.attention[t].parameters(), *model.heads[t].parameters())]
        grads = torch.autograd.grad(losses[i], mine + others, retain_graph=True, allow_unused=True)
        assert all(g is not None and g.abs().sum() > 0 for g in grads[:len(mine)] if g is not None)
        assert all(g is None or torch.all(g == 0) for g in grads[len(mine):])
        shared = torch.autograd.grad(losses[i], model.shared_parameters(), retain_graph=True, allow_unused=True)
        assert all(g is not None for g in shared)


@pytest.mark.parametrize("name", NAMES)
def test_task_jacobian_in_one_batched_backward_pass(name: str) -> None:
    """``is_grads_batched`` (vmap over vector-Jacobian products) works through max-unpool, attention and stitches."""
    model = build(name)
    data = dense_data(n=2)
    losses = task_losses(model(data.x), data)
    params = list(model.parameters())
    batched = torch.autograd.grad(losses, params, grad_outputs=torch.eye(len(losses)), retain_graph=True,
                                  is_grads_batched=True, allow_unused=True)
    for i in range(len(losses)):
        one = torch.autograd.grad(losses[i], params, retain_graph=True, allow_unused=True)
        for b, g in zip(batched, one):
            torch.testing.assert_close(b[i], torch.zeros_like(b[i]) if g is None else g, atol=1e-5, rtol=1e-4)


# --- training -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_two_training_steps(name: str) -> None:
    model = build(name)
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, dense_tasks(), dense_data(n=4), epochs=1, batch_size=2, progress=False)
    assert len(history.train_loss) == 1 and all(map(torch.isfinite, torch.tensor(history.train_loss[0])))
    moved = [not torch.equal(a, p) for a, p in zip(before, model.parameters())]
    assert sum(moved) > 0.9 * len(moved)


def test_the_paper_widths_train_one_step_on_cpu() -> None:
    """The ``full`` profile's MTAN at 32 × 32: one step of :func:`mtl_ref.fit` runs on a CPU."""
    torch.manual_seed(0)
    model = MTAN(NYUV2, PAPER_WIDTHS, normalized=["normal"])
    data = dense_data(n=2, size=32)
    data = type(data)(data.x, {**data.y, "segmentation": data.y["segmentation"] % 13})
    fit(model, dense_tasks(), data, epochs=1, batch_size=2, progress=False)


@pytest.mark.parametrize("model", [segnet_split, segnet_single_task, MTAN, CrossStitch, Sluice])
def test_the_paper_widths_run_forward_and_backward_on_the_meta_device(model) -> None:
    with torch.device("meta"):
        net = model(NYUV2, PAPER_WIDTHS, normalized=["normal"])
        out = net(torch.empty(2, 3, 288, 384))
        sum(o.sum() for o in out.values()).backward()
    assert out["segmentation"].shape == (2, 13, 288, 384)
    assert all(p.grad is not None for p in net.parameters())


# --- sizes --------------------------------------------------------------------------------------------------------


SEGNET = 24_943_296  # the shared SegNet at the paper's widths
HEADS = {"segmentation": 37_773, "depth": 36_993, "normal": 37_123}  # 3×3 (64→64) + 1×1 (64→C) convolutions


def test_segnet_sizes_at_the_paper_widths() -> None:
    with torch.device("meta"):
        assert count_parameters(SegNet()) == SEGNET
        assert count_parameters(segnet_single_task({"segmentation": 13})) == 24_981_069
        assert count_parameters(segnet_split(NYUV2)) == SEGNET + sum(HEADS.values())
        assert count_parameters(segnet_single_task(NYUV2)) == 3 * SEGNET + sum(HEADS.values())


def test_mtan_size_at_the_paper_widths() -> None:
    with torch.device("meta"):
        model = MTAN(NYUV2, normalized=["normal"])
    f_layers = count_parameters(model.encoder_f) + count_parameters(model.decoder_f)
    assert f_layers == 10_220_160
    assert all(count_parameters(model.attention[t]) == 2_984_576 for t in NYUV2)
    assert count_parameters(model) == SEGNET + f_layers + 3 * 2_984_576 + sum(HEADS.values()) == 44_229_073
    # The authors' script also counts uncertainty weighting's 3 log-variances, which here belong to the method.
    assert count_parameters(model) + len(NYUV2) == 44_229_076


def test_cross_stitch_and_sluice_sizes_at_the_paper_widths() -> None:
    with torch.device("meta"):
        cross = CrossStitch(NYUV2, normalized=["normal"])
        sluice = Sluice(NYUV2, normalized=["normal"])
        soft = soft_sharing_segnet(NYUV2, weight=1.0, normalized=["normal"])
    networks = 3 * SEGNET + sum(HEADS.values())
    assert count_parameters(cross) == networks + 10 * 3 * 3
    lateral = (512 * 64 + 64) + (256 * 64 + 64) + (128 * 64 + 64)  # 1×1 convolutions to 64 channels
    assert count_parameters(sluice) == networks + 10 * 6 * 6 + 3 * 5 + 3 * lateral
    assert count_parameters(soft) == networks
