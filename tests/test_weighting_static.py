"""The Weighting base class and the static weightings (Equal and Static)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from mtl_ref.weighting import Equal, LossWeighting, Static, Weighting


def model_and_losses():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    out = model(torch.randn(4, 3))
    return model, torch.stack([out[:, 0].pow(2).mean(), out[:, 1].abs().mean()])


def grads(model):
    return [p.grad.clone() for p in model.parameters()]


def test_static_combines_and_logs_its_weights():
    s = Static([0.5, 2.0])
    losses = torch.tensor([4.0, 3.0])
    assert s.combine(losses).item() == pytest.approx(8.0)
    s.combine(torch.tensor([1.0, 1.0]))
    trace = s.pop_trace()
    assert trace.shape == (2, 2) and trace.dtype == np.float32
    np.testing.assert_array_equal(trace, [[0.5, 2.0], [0.5, 2.0]])
    assert s.pop_trace().size == 0  # popped


def test_static_keeps_the_dtype_of_the_losses():
    out = Static([1.0, 3.0]).combine(torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert out.dtype == torch.float64 and out.item() == 7.0


@pytest.mark.parametrize("weights", [[-1.0, 1.0], [math.nan, 1.0], [1.0, math.inf], [[1.0, 2.0]]])
def test_static_rejects_bad_weights(weights):
    with pytest.raises(ValueError, match="static weights must be a list of finite non-negative numbers"):
        Static(weights)


def test_static_rejects_the_wrong_number_of_losses():
    with pytest.raises(ValueError, match="2 static weights for 3 task losses"):
        Static([1, 1]).combine(torch.ones(3))


def test_static_weights_are_a_buffer():
    s = Static([1, 2])
    assert "weights" in dict(s.named_buffers()) and list(s.parameters()) == []
    assert repr(s) == "Static(weights=[1.0, 2.0])"
    assert s.to(torch.float64).weights.dtype == torch.float64


def test_static_backward_weights_the_gradients():
    model, losses = model_and_losses()
    Static([0.0, 3.0]).backward(losses, model)
    weighted = grads(model)
    model.zero_grad()
    model2, losses2 = model_and_losses()
    (3.0 * losses2[1]).backward()
    for a, b in zip(weighted, grads(model2)):
        torch.testing.assert_close(a, b)


def test_equal_is_the_plain_sum():
    model, losses = model_and_losses()
    eq = Equal()
    eq.backward(losses, model)
    ours = grads(model)
    model2, losses2 = model_and_losses()
    losses2.sum().backward()
    for a, b in zip(ours, grads(model2)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(eq.pop_trace(), [[1.0, 1.0]])
    assert Equal().combine(torch.tensor([1.0, 2.0, 3.5])).item() == 6.5


def test_loss_scale_multiplies_the_gradients():
    model, losses = model_and_losses()
    Equal().backward(losses, model, loss_scale=torch.tensor(8.0))
    scaled = grads(model)
    model2, losses2 = model_and_losses()
    Equal().backward(losses2, model2)
    for a, b in zip(scaled, grads(model2)):
        torch.testing.assert_close(a, 8.0 * b)


def test_pop_trace_and_reset():
    eq = Equal()
    assert eq.pop_trace().shape == (0, 0)
    for _ in range(3):
        eq.combine(torch.ones(4))
    assert eq.pop_trace().shape == (3, 4)
    eq.combine(torch.ones(4))
    eq.reset()
    assert eq.pop_trace().size == 0


def test_log_weights_detaches():
    class Logged(Weighting):
        def backward(self, losses, model, loss_scale=None):
            self.log_weights(losses)

    w = Logged()
    losses = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    w.backward(losses, None)
    assert not w._trace[0].requires_grad and w._trace[0].dtype == torch.float32
    assert w.after_step(lambda: losses) is None and w.epoch_end(losses) is None  # no-ops by default
    assert w.lr is None
    np.testing.assert_array_equal(w.pop_trace(), [[1.0, 2.0]])


def test_base_classes_are_abstract():
    with pytest.raises(TypeError):
        Weighting()
    with pytest.raises(TypeError):
        LossWeighting()

    class Forgot(Weighting):  # a method without backward would train silently with no gradients
        pass

    with pytest.raises(TypeError, match="backward"):
        Forgot()
