"""Dense metrics and losses (segmentation, depth, normals) against hand-computed cases."""

import math

import pytest
import torch
import torch.nn.functional as F

from mtl_ref import delta_m, task_losses
from mtl_ref.dense_tasks import dense_tasks, depth_loss, normal_loss, segmentation_loss
from mtl_ref.metrics import (AbsoluteError, MeanAngle, MeanIoU, MedianAngle, PixelAccuracy, RelativeError,
                             WithinAngle)
from mtl_ref.metrics.dense import MEDIAN_BIN


def logits_for(classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Logits ``(B, C, H, W)`` whose arg-max is ``classes`` ``(B, H, W)``."""
    return F.one_hot(classes, num_classes).permute(0, 3, 1, 2).float()


LABELS = torch.tensor([[[0, 0, 1], [2, -1, 1]]])
PREDICTED = torch.tensor([[[0, 1, 1], [2, 2, 0]]])  # the void pixel's prediction must not count


def test_miou_and_pixel_accuracy_by_hand():
    # (label, prediction) pairs: (0,0) (0,1) (1,1) (2,2) (1,0). IoU: class 0 = 1/3, class 1 = 1/3, class 2 = 1.
    miou, acc = MeanIoU(3), PixelAccuracy(3)
    for m in (miou, acc):
        m.update(logits_for(PREDICTED, 3), LABELS)
    assert miou.compute() == pytest.approx(5 / 9)
    assert acc.compute() == pytest.approx(3 / 5)


def test_classes_absent_from_labels_and_predictions_are_left_out():
    miou = MeanIoU(5)
    miou.update(logits_for(PREDICTED, 5), LABELS)  # classes 3 and 4 appear nowhere
    assert miou.compute() == pytest.approx(5 / 9)
    # A class that is predicted but never labelled counts, with IoU 0.
    miou = MeanIoU(3)
    miou.update(logits_for(torch.tensor([[[0, 0, 1, 1]]]), 3), torch.tensor([[[0, 0, 0, 0]]]))
    assert miou.compute() == pytest.approx((2 / 4 + 0) / 2)


def test_labels_outside_the_classes_are_ignored():
    acc = PixelAccuracy(3)
    acc.update(logits_for(torch.tensor([[[0, 1]]]), 3), torch.tensor([[[0, 7]]]))
    assert acc.compute() == 1.0


def test_depth_errors_by_hand_over_valid_pixels_only():
    target = torch.tensor([[[[2.0, 0.0], [4.0, 1.0]]]])
    prediction = torch.tensor([[[[1.0, 5.0], [5.0, 1.0]]]])  # the 5 at the invalid pixel must not count
    absolute, relative = AbsoluteError(), RelativeError()
    for m in (absolute, relative):
        m.update(prediction, target)
    assert absolute.compute() == pytest.approx(2 / 3)
    assert relative.compute() == pytest.approx((1 / 2 + 1 / 4) / 3)
    # Pooled over the pixels of the set, not averaged over batches: a batch with one valid pixel of error 3.
    absolute.update(torch.tensor([[[[4.0, 9.0]]]]), torch.tensor([[[[1.0, 0.0]]]]))
    assert absolute.compute() == pytest.approx((2 + 3) / 4)


def unit(degrees: float) -> list[float]:
    """A unit vector at ``degrees`` from ``(0, 0, 1)``, turned about the ``x`` axis."""
    r = math.radians(degrees)
    return [0.0, math.sin(r), math.cos(r)]


def normal_case(angles=(0, 20, 45, 90, 135)) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions ``(1, 3, 1, N + 1)`` off by ``angles`` (and of length 3) on valid pixels, then an invalid pixel."""
    prediction = torch.tensor([[3 * v for v in unit(a)] for a in angles] + [[1.0, 0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0, 1.0]] * len(angles) + [[0.0, 0.0, 0.0]])
    return prediction.T[None, :, None], target.T[None, :, None]


def test_normal_metrics_by_hand():
    prediction, target = normal_case()
    metrics = {"mean": MeanAngle(), "median": MedianAngle(), "11.25": WithinAngle(11.25),
               "22.5": WithinAngle(22.5), "30": WithinAngle(30)}
    for m in metrics.values():
        m.update(prediction, target)
    assert metrics["mean"].compute() == pytest.approx(58.0, abs=1e-4)
    assert metrics["median"].compute() == pytest.approx(45.0, abs=MEDIAN_BIN / 2)
    assert [metrics[k].compute() for k in ("11.25", "22.5", "30")] == pytest.approx([1 / 5, 2 / 5, 2 / 5])
    # An even count: the median is the mean of the two middle angles (45° and 90°), to half a histogram bin.
    median = MedianAngle()
    median.update(*normal_case((20, 45, 90, 135)))
    assert median.compute() == pytest.approx(67.5, abs=MEDIAN_BIN / 2)


def random_batch(g: torch.Generator, b: int = 3, c: int = 4, h: int = 5, w: int = 6):
    labels = torch.randint(-1, c, (b, h, w), generator=g)
    depth = torch.rand(b, 1, h, w, generator=g) * 3 * (torch.rand(b, 1, h, w, generator=g) > 0.2)
    normal = F.normalize(torch.randn(b, 3, h, w, generator=g), dim=1) * (torch.rand(b, 1, h, w, generator=g) > 0.2)
    prediction = {"segmentation": torch.randn(b, c, h, w, generator=g), "depth": torch.rand(b, 1, h, w, generator=g) * 3,
                  "normal": torch.randn(b, 3, h, w, generator=g)}
    return prediction, {"segmentation": labels, "depth": depth, "normal": normal}


def test_streaming_over_batches_equals_one_big_batch():
    g = torch.Generator().manual_seed(0)
    batches = [random_batch(g) for _ in range(4)]
    whole = ({k: torch.cat([p[k] for p, _ in batches]) for k in batches[0][0]},
             {k: torch.cat([t[k] for _, t in batches]) for k in batches[0][1]})
    streamed, at_once = dense_tasks(4), dense_tasks(4)
    for task in streamed:
        for m in task.metrics.values():
            for p, t in batches:
                m.update(p[task.name], t[task.name])
    for task in at_once:
        for m in task.metrics.values():
            m.update(whole[0][task.name], whole[1][task.name])
    for a, b in zip(streamed, at_once):
        for name in a.metrics:
            assert a.metrics[name].compute() == pytest.approx(b.metrics[name].compute(), rel=1e-6), (a.name, name)


def test_median_matches_the_exact_median_on_many_angles():
    g = torch.Generator().manual_seed(1)
    prediction, target = torch.randn(2, 3, 40, 50, generator=g), F.normalize(torch.randn(2, 3, 40, 50, generator=g), dim=1)
    median = MedianAngle()
    median.update(prediction, target)
    exact = torch.rad2deg(torch.acos((F.normalize(prediction, dim=1) * target).sum(1).clamp(-1, 1))).flatten()
    assert abs(median.compute() - float(exact.double().quantile(0.5))) <= MEDIAN_BIN / 2


@pytest.mark.parametrize("count", [1999, 2000])
def test_median_is_within_half_a_bin_when_angles_bunch_at_a_bin_edge(count: int):
    """The worst case for reading a bin as if its angles were spread evenly over it: the middle angle is the
    last of many angles that all sit on the bin's lower edge. The exact median here is 10° (both middle angles
    are 10° for either count)."""
    edge = 10.0  # a multiple of the bin width, so the angles sit exactly on a bin's lower edge
    assert edge / MEDIAN_BIN == int(edge / MEDIAN_BIN)
    below = count // 2 + 1
    angles = torch.tensor([edge] * below + [50.0] * (count - below))
    median = MedianAngle()
    median.accumulate(angles[None, None], torch.ones(1, 1, count, dtype=torch.bool))
    assert abs(median.compute() - edge) <= MEDIAN_BIN / 2


@pytest.mark.parametrize("seed", range(5))
def test_median_error_never_exceeds_half_a_bin(seed: int):
    """Angles bunched in a few narrow clusters (with ties) or spread widely, odd and even counts."""
    g = torch.Generator().manual_seed(seed)
    count = 101 + seed
    centres = torch.rand(3, generator=g) * 180
    angles = (centres[torch.randint(0, 3, (count,), generator=g)] + torch.rand(count, generator=g) * MEDIAN_BIN * 3)
    angles = torch.cat([angles.clamp(0, 180), torch.rand(count // 3, generator=g) * 180])
    median = MedianAngle()
    median.accumulate(angles[None, None], torch.ones(1, 1, len(angles), dtype=torch.bool))
    ordered = angles.double().sort().values
    n = len(ordered)
    exact = float(ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    assert abs(median.compute() - exact) <= MEDIAN_BIN / 2


def test_metrics_need_data_and_the_right_shapes():
    for m in (MeanIoU(3), PixelAccuracy(3), AbsoluteError(), RelativeError(), MeanAngle(), MedianAngle(),
              WithinAngle(30)):
        with pytest.raises(ValueError, match="no valid pixel"):
            m.compute()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        MeanIoU(3).update(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="does not fit"):
        MeanIoU(3).update(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="differs"):
        AbsoluteError().update(torch.zeros(2, 1, 2, 2), torch.zeros(2, 3, 2, 2))
    with pytest.raises(ValueError, match="threshold"):
        WithinAngle(0)


def test_directions_make_delta_m_reward_mtan_over_single_task():
    """MTAN (equal weights) against one-task networks on NYUv2, MTAN paper Table 3 (ratios as fractions)."""
    tasks = dense_tasks(13)
    directions = {name: m.higher_is_better for t in tasks for name, m in t.metrics.items()}
    assert directions == {"miou": True, "pix_acc": True, "abs_err": False, "rel_err": False, "mean": False,
                          "median": False, "within_11.25": True, "within_22.5": True, "within_30": True}

    def scores(values):
        names = [[("segmentation", k) for k in ("miou", "pix_acc")], [("depth", k) for k in ("abs_err", "rel_err")],
                 [("normal", k) for k in ("mean", "median", "within_11.25", "within_22.5", "within_30")]]
        out: dict = {}
        for (task, key), v in zip(sum(names, []), values):
            out.setdefault(task, {})[key] = v
        return out

    single = [0.1510, 0.5154, 0.7508, 0.3266, 31.76, 25.51, 0.2212, 0.4533, 0.5713]
    mtan = [0.1772, 0.5532, 0.5906, 0.2577, 31.44, 25.37, 0.2317, 0.4565, 0.5748]
    signs = [1, 1, -1, -1, -1, -1, 1, 1, 1]
    expected = 100 * sum(s * (m - b) / b for s, m, b in zip(signs, mtan, single)) / 9
    assert delta_m(scores(mtan), scores(single), tasks) == pytest.approx(expected)
    assert expected > 0


def test_losses_by_hand_and_blind_to_invalid_pixels():
    prediction, target = normal_case()
    cosines = [math.cos(math.radians(a)) for a in (0, 20, 45, 90, 135)]
    assert normal_loss(prediction, target) == pytest.approx(1 - sum(cosines) / 5, abs=1e-6)
    depth_target = torch.tensor([[[[2.0, 0.0], [4.0, 1.0]]]])
    assert depth_loss(torch.tensor([[[[1.0, 5.0], [5.0, 1.0]]]]), depth_target) == pytest.approx(2 / 3)
    logits = torch.randn(1, 3, 2, 3)
    valid = LABELS >= 0
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[valid], LABELS[valid])
    assert segmentation_loss(logits, LABELS) == pytest.approx(float(expected))
    # Changing predictions at invalid pixels changes no loss and gets no gradient.
    for loss, p, t, invalid in ((segmentation_loss, logits, LABELS, ~valid[:, None].expand(1, 3, 2, 3)),
                                (depth_loss, torch.tensor([[[[1.0, 5.0], [5.0, 1.0]]]]), depth_target,
                                 depth_target == 0),
                                (normal_loss, prediction, target, (target == 0).all(1, keepdim=True).expand_as(target))):
        p = p.clone().requires_grad_()
        value = loss(p, t)
        value.backward()
        value = value.detach().item()
        assert (p.grad[invalid] == 0).all()
        garbage = torch.where(invalid, 1e3, p.detach())
        assert loss(garbage, t) == pytest.approx(value)


def test_losses_of_a_batch_without_valid_pixels_are_zero():
    assert segmentation_loss(torch.randn(1, 3, 2, 2), torch.full((1, 2, 2), -1)) == 0
    assert depth_loss(torch.randn(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)) == 0
    assert normal_loss(torch.randn(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)) == 1


def test_dense_tasks_plug_into_task_losses():
    g = torch.Generator().manual_seed(2)
    prediction, target = random_batch(g)
    losses = task_losses(dense_tasks(4), prediction, target, check=True)
    assert losses.shape == (3,) and torch.isfinite(losses).all()
