"""Streaming metrics: hand-computed values, streaming equals one batch, reset, compute before update."""

import pytest
import torch

from mtl_ref.metrics import MAE, MSE, Accuracy, BinaryAccuracy, MeanMetric, Metric

LOGITS = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.5, 0.1], [0.0, 0.0, 3.0], [1.0, 4.0, 0.0], [5.0, 0.0, 0.0]])
CLASSES = torch.tensor([0, 1, 1, 1, 2])  # argmax is 0, 1, 2, 1, 0: right, right, wrong, right, wrong


def test_accuracy_by_hand():
    m = Accuracy()
    m.update(LOGITS, CLASSES)
    assert m.compute() == pytest.approx(3 / 5)


def test_binary_accuracy_by_hand():
    m = BinaryAccuracy()
    logits = torch.tensor([[1.0, -1.0], [-0.5, 2.0], [0.0, 3.0]])  # logit 0 counts as a 0 prediction
    targets = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    m.update(logits, targets)
    assert m.compute() == pytest.approx(4 / 6)


def test_mse_and_mae_by_hand():
    pred, target = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 2.0], [5.0, 1.0]])
    mse, mae = MSE(), MAE()
    mse.update(pred, target)
    mae.update(pred, target)
    assert mse.compute() == pytest.approx((1 + 0 + 4 + 9) / 4)
    assert mae.compute() == pytest.approx((1 + 0 + 2 + 3) / 4)


@pytest.mark.parametrize("metric, pred, target", [
    (Accuracy, LOGITS, CLASSES),
    (BinaryAccuracy, torch.randn(7, 3, generator=torch.Generator().manual_seed(0)),
     (torch.rand(7, 3, generator=torch.Generator().manual_seed(1)) > 0.5).float()),
    (MSE, torch.randn(7, 2, generator=torch.Generator().manual_seed(2)), torch.randn(7, 2)),
    (MAE, torch.randn(7, 2, generator=torch.Generator().manual_seed(3)), torch.randn(7, 2)),
])
def test_streaming_over_unequal_batches_equals_one_batch(metric, pred, target):
    whole, streamed = metric(), metric()
    whole.update(pred, target)
    for lo, hi in [(0, 1), (1, 4), (4, len(pred))]:
        streamed.update(pred[lo:hi], target[lo:hi])
    assert streamed.compute() == pytest.approx(whole.compute(), rel=1e-6)


@pytest.mark.parametrize("metric", [Accuracy, BinaryAccuracy, MSE, MAE])
def test_compute_before_update_errors(metric):
    with pytest.raises(ValueError, match=rf"{metric.__name__}.compute\(\) called before any update\(\)"):
        metric().compute()


def test_reset_forgets_everything():
    m = MSE()
    m.update(torch.tensor([10.0]), torch.tensor([0.0]))
    m.reset()
    with pytest.raises(ValueError, match="before any update"):
        m.compute()
    m.update(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))
    assert m.compute() == pytest.approx(5.0)


def test_update_detaches_and_compute_returns_a_float():
    pred = torch.tensor([1.0, 2.0], requires_grad=True)
    m = MAE()
    m.update(pred, torch.zeros(2))
    assert isinstance(m.compute(), float)
    assert not torch.as_tensor(m._total).requires_grad


def test_directions_and_repr():
    assert Accuracy.higher_is_better and BinaryAccuracy.higher_is_better
    assert not MSE.higher_is_better and not MAE.higher_is_better
    assert repr(Accuracy()) == "Accuracy(higher is better)"
    assert repr(MSE()) == "MSE(lower is better)"
    assert issubclass(MeanMetric, Metric)


def test_custom_mean_metric():
    class Bias(MeanMetric):
        higher_is_better = False

        def values(self, prediction, target):
            return prediction - target

    m = Bias()
    m.update(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]))
    m.update(torch.tensor([[3.0]]), torch.tensor([[0.0]]))
    assert m.compute() == pytest.approx(2.0)
    with pytest.raises(TypeError):
        Metric()
