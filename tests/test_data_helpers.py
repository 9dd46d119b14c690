"""HelperTasks: the main task, its helpers of known usefulness, and the checks of its arguments."""

import pytest
import torch

from mtl_ref.data import HelperTasks


def test_shapes_names_and_determinism():
    problem = HelperTasks(dim=10, features=3, relatedness=(0.5, 0.25))
    assert problem.task_names == ["main", "good", "noise", "conflict", "related_50", "related_25"]
    data = problem.sample(50, seed=4)
    assert data.x.shape == (50, 10) and data.y["main"].shape == (50, 1)
    assert all(data.y[n].shape == (50, 3) for n in problem.helper_names)
    again = problem.sample(50, seed=4)
    assert all(torch.equal(data.y[n], again.y[n]) for n in problem.task_names)
    assert not torch.equal(problem.sample(50, seed=5).x, data.x)


def test_the_main_and_foreign_directions_are_orthonormal():
    u, v = HelperTasks(dim=12, features=3).directions()
    both = torch.cat([u, v])
    torch.testing.assert_close(both @ both.T, torch.eye(6), atol=1e-5, rtol=0)


def test_helpers_relate_to_the_main_task_as_designed():
    problem = HelperTasks(main_noise=0.0, relatedness=(1.0, 0.0))
    data = problem.sample(20000, seed=0)
    x = data.x
    u, v = problem.directions()
    a, (b, c, r1, r0) = problem.readouts()
    torch.testing.assert_close(data.y["main"][:, 0], torch.tanh(x @ u.T) @ a)
    torch.testing.assert_close(data.y["conflict"], problem.conflict_scale * torch.tanh(x @ v.T) @ c.T)
    # ρ = 1 reads the main task's features, ρ = 0 only the foreign ones (up to the 0.1 label noise).
    assert float((data.y["related_100"] - torch.tanh(x @ u.T) @ r1.T).std()) == pytest.approx(0.1, rel=0.05)
    assert float((data.y["related_0"] - torch.tanh(x @ v.T) @ r0.T).std()) == pytest.approx(0.1, rel=0.05)
    torch.testing.assert_close(a.norm(), torch.tensor(2.0))
    assert abs(float(torch.corrcoef(torch.stack([data.y["main"][:, 0], data.y["noise"][:, 0]]))[0, 1])) < 0.03
    assert float(data.y["noise"].std()) == pytest.approx(problem.noise_scale, rel=0.05)


@pytest.mark.parametrize("kwargs, match", [({"features": 6, "dim": 10}, "features"),
                                           ({"relatedness": (1.5,)}, "relatedness"),
                                           ({"main_noise": -1.0}, "main_noise")])
def test_bad_arguments_are_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HelperTasks(**kwargs)
    with pytest.raises(ValueError, match="n must"):
        HelperTasks().sample(0, seed=0)
