"""Tasks: the constructors, and every error path of the output/target checks, each naming the task."""

import math

import pytest
import torch
import torch.nn.functional as F

from mtl_ref import Task, task_losses
from mtl_ref.metrics import MSE, Accuracy, BinaryAccuracy
from mtl_ref.tasks import check_finite, check_outputs

B = 4


def tasks():
    return [Task.classification("digit"), Task.regression("depth"), Task.binary("attrs")]


def good_outputs():
    g = torch.Generator().manual_seed(0)
    return {"digit": torch.randn(B, 10, generator=g), "depth": torch.randn(B, 1, generator=g),
            "attrs": torch.randn(B, 3, generator=g)}


def good_targets():
    return {"digit": torch.tensor([0, 3, 9, 3]), "depth": torch.randn(B, 1),
            "attrs": torch.tensor([[0.0, 1, 1], [1, 0, 0], [1, 1, 1], [0, 0, 0]])}


# --- constructors ----------------------------------------------------------------------------------------------

def test_classification_constructor():
    t = Task.classification("digit")
    assert t.name == "digit" and t.loss is F.cross_entropy and not t.same_shape
    assert list(t.metrics) == ["acc"] and isinstance(t.metrics["acc"], Accuracy)


def test_binary_constructor():
    t = Task.binary("attrs")
    assert t.loss is F.binary_cross_entropy_with_logits and t.same_shape
    assert list(t.metrics) == ["acc"] and isinstance(t.metrics["acc"], BinaryAccuracy)


def test_regression_constructor():
    t = Task.regression("depth")
    assert t.loss is F.mse_loss and t.same_shape
    assert list(t.metrics) == ["mse"] and isinstance(t.metrics["mse"], MSE)


def test_constructors_give_each_task_its_own_metric_objects():
    a, b = Task.regression("a"), Task.regression("b")
    assert a.metrics["mse"] is not b.metrics["mse"]
    assert Task("plain", F.l1_loss).metrics == {}


# --- task_losses -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("check", [False, True])
def test_task_losses_stacks_in_task_order(check):
    out, y = good_outputs(), good_targets()
    losses = task_losses(tasks(), out, y, check=check)
    expected = torch.stack([F.cross_entropy(out["digit"], y["digit"]), F.mse_loss(out["depth"], y["depth"]),
                            F.binary_cross_entropy_with_logits(out["attrs"], y["attrs"])])
    assert losses.shape == (3,)
    torch.testing.assert_close(losses, expected)
    reordered = task_losses(tasks()[::-1], out, y)
    torch.testing.assert_close(reordered, expected.flip(0))


def test_task_losses_computes_in_float32_from_half_predictions():
    out = {"depth": torch.zeros(B, 1, dtype=torch.bfloat16)}
    losses = task_losses([Task.regression("depth")], out, {"depth": torch.ones(B, 1)}, check=True)
    assert losses.dtype == torch.float32 and losses.item() == 1.0


def test_task_losses_keeps_the_graph():
    out = good_outputs()
    out["depth"].requires_grad_(True)
    task_losses(tasks(), out, good_targets()).sum().backward()
    assert out["depth"].grad is not None


# --- check_outputs and Task.check ------------------------------------------------------------------------------

def test_good_outputs_pass():
    check_outputs(tasks(), good_outputs(), good_targets())


def test_output_that_matches_no_task():
    out = {**good_outputs(), "segm": torch.zeros(B, 2), "normals": torch.zeros(B, 3)}
    with pytest.raises(KeyError, match=r"predictions \['normals', 'segm'\] that match no task; "
                                       r"the tasks are \['digit', 'depth', 'attrs'\]"):
        check_outputs(tasks(), out, good_targets())
    with pytest.raises(KeyError, match="match no task"):
        task_losses(tasks(), out, good_targets(), check=True)


def test_task_with_no_output():
    out = good_outputs()
    del out["depth"]
    with pytest.raises(KeyError, match=r"task 'depth' has no prediction in the model output "
                                       r"\(it returned \['attrs', 'digit'\]\)"):
        check_outputs(tasks(), out, good_targets())


def test_task_with_no_target():
    y = good_targets()
    del y["attrs"]
    with pytest.raises(KeyError, match=r"task 'attrs' has no target in the batch \(it holds \['depth', 'digit'\]\)"):
        check_outputs(tasks(), good_outputs(), y)
    with pytest.raises(KeyError, match="'attrs' has no target"):
        task_losses(tasks(), good_outputs(), y, check=True)


def test_mismatched_batch_sizes():
    out = good_outputs()
    out["digit"] = torch.zeros(B + 1, 10)
    with pytest.raises(ValueError, match=r"task 'digit': prediction has batch size 5 but target has 4 "
                                         r"\(shapes \(5, 10\) and \(4,\)\)"):
        check_outputs(tasks(), out, good_targets())


def test_same_shape_task_rejects_the_broadcasting_trap():
    # (B, 1) against (B,) would broadcast to (B, B) in mse_loss and give a wrong loss without any error.
    out, y = good_outputs(), good_targets()
    y["depth"] = y["depth"][:, 0]
    with pytest.raises(ValueError, match=r"task 'depth': prediction has shape \(4, 1\) but target has shape "
                                         r"\(4,\); this task's loss needs equal shapes"):
        check_outputs(tasks(), out, y)
    with pytest.raises(ValueError, match=r"task 'depth'.*\(4, 1\).*\(4,\)"):
        task_losses(tasks(), out, y, check=True)


def test_same_shape_task_rejects_other_shape_mismatches():
    t = Task.binary("attrs")
    with pytest.raises(ValueError, match=r"task 'attrs': prediction has shape \(4, 3\) but target has shape \(4, 2\)"):
        t.check(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"task 'attrs': prediction has shape \(5, 3\) but target has shape \(4, 3\)"):
        t.check(torch.zeros(5, 3), torch.zeros(4, 3))


def test_task_check_accepts_class_indices():
    Task.classification("digit").check(torch.zeros(4, 10), torch.zeros(4, dtype=torch.long))


def test_prediction_that_is_not_a_tensor():
    out = good_outputs()
    out["depth"] = [0.0] * B
    with pytest.raises(TypeError, match="task 'depth': prediction is a list, expected a Tensor"):
        check_outputs(tasks(), out, good_targets())


# --- check_finite ----------------------------------------------------------------------------------------------

def test_check_finite_passes_finite_losses():
    check_finite(tasks(), torch.tensor([0.0, 1e30, -2.0]))


def test_check_finite_names_each_bad_task_and_its_value():
    with pytest.raises(FloatingPointError, match=r"non-finite loss for task 'digit' = nan, 'attrs' = inf$"):
        check_finite(tasks(), torch.tensor([math.nan, 1.0, math.inf]))
    with pytest.raises(FloatingPointError, match=r"for task 'depth' = -inf \(in epoch 3\)$"):
        check_finite(tasks(), torch.tensor([1.0, -math.inf, 1.0]), where="(in epoch 3)")


def test_task_losses_with_check_catches_a_nan_target():
    y = good_targets()
    y["depth"][2, 0] = math.nan
    with pytest.raises(FloatingPointError, match="'depth' = nan"):
        task_losses(tasks(), good_outputs(), y, check=True)
    assert torch.isnan(task_losses(tasks(), good_outputs(), y)[1])  # without check: no error, NaN returned
