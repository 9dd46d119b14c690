"""The architecture diagrams draw from real model objects, and what they draw matches the model."""

from collections import Counter
from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from mtl_ref import diagrams
from mtl_ref.models import (MTAN, ConcatConditioned, CrossStitch, FiLMConditioned, HardSharing, Independent, SegNet,
                            Sluice, branch_at, count_parameters, digit_blocks, digit_trunk, mlp,
                            soft_sharing_segnet, trace_norm)

DENSE = {"segmentation": 3, "depth": 1, "normal": 3}
LAYOUT = dict(widths=(4, 8), convs=(1, 2), normalized=["normal"])


@pytest.fixture(autouse=True)
def no_figures_left():
    yield
    plt.close("all")


def gids(fig):
    """The gid of every drawn box, line and strip of the diagram."""
    return [p.get_gid() for ax in fig.axes for p in ax.patches if p.get_gid()]


def count(fig, prefix):
    return sum(g.startswith(prefix) for g in gids(fig))


def drawn(model, title="model"):
    fig = diagrams.draw(model, title)
    assert isinstance(fig, matplotlib.figure.Figure)
    return fig


def test_describe_layers():
    assert diagrams.describe(nn.Linear(3, 4)) == "linear 3→4"
    assert diagrams.describe(nn.Conv2d(1, 16, 3)) == "conv 3×3, 1→16"
    assert [s.label for s in diagrams.stages(mlp([20, 64, 64], last_activation=True))] == \
        ["linear 20→64 · ReLU", "linear 64→64 · ReLU"]
    assert diagrams.stages(SegNet((4, 8), (1, 2)))[1].label.startswith("encoder 2: 2× conv-BN-ReLU 3×3, 4→8")


@pytest.mark.parametrize("module", [digit_trunk(), mlp([20, 64, 64, 1]), SegNet((4, 8), (1, 2)),
                                    nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), nn.Linear(3, 1)])
def test_stages_account_for_every_parameter(module):
    """A diagram's boxes together hold exactly the module's parameters: none is left out or drawn twice."""
    assert sum(s.params for s in diagrams.stages(module)) == count_parameters(module)


def test_hard_sharing_one_box_per_trunk_layer_and_one_head_per_task():
    tasks = ["left", "right", "sum"]
    model = HardSharing(digit_trunk(), {t: nn.Linear(64, 10) for t in tasks})
    fig = drawn(model)
    assert count(fig, "trunk:") == 3
    assert sorted(g for g in gids(fig) if g.startswith("head:")) == sorted(f"head:{t}:0" for t in tasks)


@pytest.mark.parametrize("depth", range(4))
def test_branch_at_every_depth(depth):
    model = branch_at(digit_blocks(), depth, ["left", "right"])
    fig = drawn(model)
    prefix = "head" if depth else "net"
    assert count(fig, "trunk:") == depth
    assert Counter(g.split(":")[1] for g in gids(fig) if g.startswith(prefix + ":")) == \
        {"left": 4 - depth, "right": 4 - depth}


def test_independent_one_column_per_task():
    model = Independent({t: mlp([20, 64, 64, 1]) for t in ("a", "b", "c", "d")})
    fig = drawn(model)
    assert Counter(g.split(":")[1] for g in gids(fig) if g.startswith("net:")) == {t: 3 for t in "abcd"}


def test_conditioning_draws_embeddings_and_film_pairs():
    names = ["y1", "y2", "y3"]
    concat = ConcatConditioned([20, 64, 64, 1], names, embedding_dim=8)
    film = FiLMConditioned([20, 64, 64, 1], names)
    fig = diagrams.draw_side_by_side({"concatenation": concat, "FiLM": film}, columns=1)
    assert count(fig, "embedding:") == len(names)
    assert count(fig, "film:") == len(film.gamma) * len(names)
    assert count(fig, "trunk:") == 3 + 3  # three linear layers in each
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("concatenation\n") and f"{count_parameters(concat):,}" in t for t in texts)


@pytest.mark.parametrize("penalty", ["l2", partial(trace_norm, modes=(-1,))])
def test_soft_sharing_ties_every_tied_layer(penalty):
    model = soft_sharing_segnet(DENSE, **LAYOUT, penalty=penalty, weight=0.1)
    fig = drawn(model)
    blocks = 2 * len(LAYOUT["widths"])
    assert Counter(g.split(":")[1] for g in gids(fig) if g.startswith("net:")) == {t: blocks + 1 for t in DENSE}
    assert count(fig, "tie:") == blocks * (len(DENSE) - 1)  # every block holds convolution weights


def test_cross_stitch_one_unit_after_every_block():
    model = CrossStitch(DENSE, **LAYOUT)
    fig = drawn(model)
    units = len(model.encoder_stitch) + len(model.decoder_stitch)
    assert count(fig, "stitch:") == units
    assert count(fig, "net:") == units * len(DENSE)
    assert count(fig, "head:") == len(DENSE)
    assert count(fig, "subspace:") == 0


@pytest.mark.parametrize("mix", [True, False])
def test_sluice_subspaces_and_skip_weights(mix):
    model = Sluice(DENSE, **LAYOUT, subspaces=2, mix=mix)
    fig = drawn(model)
    units = len(model.layer_names)
    assert count(fig, "stitch:") == units
    assert count(fig, "subspace:") == units * len(DENSE) * model.subspaces
    assert count(fig, "beta:") == len(DENSE)


def test_mtan_one_attention_module_per_block_and_task():
    model = MTAN(DENSE, **LAYOUT)
    fig = drawn(model)
    blocks = len(model.layer_names)
    assert count(fig, "trunk:") == blocks
    assert Counter(g.split(":")[1] for g in gids(fig) if g.startswith("attention:")) == {t: blocks for t in DENSE}
    assert count(fig, "head:") == len(DENSE)


def test_cross_stitch_unit_shows_its_alpha():
    model = CrossStitch(DENSE, **LAYOUT)
    unit = model.encoder_stitch[0]
    with torch.no_grad():
        unit.alpha[0, 1] = 0.25
    fig = diagrams.draw_cross_stitch_unit(unit, model.task_names)
    k = len(DENSE)
    assert count(fig, "alpha:") == k * k
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "0.25" in texts and f"{float(unit.alpha.detach()[1, 1]):.2f}" in texts
    with pytest.raises(ValueError, match="3 activations"):
        diagrams.draw_cross_stitch_unit(unit, ["a", "b"])


def test_rows_of_panels_and_unknown_models():
    models = {f"depth {d}": branch_at(digit_blocks(), d, ["left", "right"]) for d in range(4)}
    one_row = diagrams.draw_side_by_side(models)
    two_rows = diagrams.draw_side_by_side(models, columns=2)
    assert two_rows.get_size_inches()[0] < one_row.get_size_inches()[0]
    assert two_rows.get_size_inches()[1] > one_row.get_size_inches()[1]
    with pytest.raises(TypeError, match="no diagram for Linear"):
        diagrams.draw(nn.Linear(2, 2))


def test_mixtures_of_experts_draw_every_expert_gate_and_tower():
    from mtl_ref.models import MMoE, PLE, cgc, omoe, shared_bottom

    tasks = ["y1", "y2"]
    mmoe = drawn(MMoE(10, tasks, 4, [6], [3]))
    assert count(mmoe, "expert:0:") == 4 and count(mmoe, "gate:") == 2 and count(mmoe, "tower:") == 2
    one = drawn(omoe(10, tasks, 4, [6], [3]))
    assert count(one, "expert:") == 4 and count(one, "gate:") == 1
    bottom = drawn(shared_bottom(10, tasks, [6], [3]))
    assert count(bottom, "expert:") == 1 and count(bottom, "gate:") == 0
    ple = PLE(10, tasks, 2, 1, 2, [6], [3])
    fig = drawn(ple)
    assert count(fig, "expert:0:") == count(fig, "expert:1:") == 2 * 1 + 2
    assert count(fig, "gate:0:") == 3 and count(fig, "gate:1:") == 2  # the shared gate only below the last level
    assert count(drawn(cgc(10, tasks, 1, 2, [6], [3])), "gate:") == 2
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"{count_parameters(ple.levels[0].experts) // 4:,} par." in texts


def test_ranker_draws_its_shared_bottom_and_shallow_tower():
    from mtl_ref.models import MMoE, ShallowTower

    ranker = MMoE(10, ["click", "like"], 3, [6], [3], bottom=[8])
    fig = drawn(ShallowTower(ranker, 10, 5, biased=["click"]))
    assert count(fig, "bottom:") == 1 and count(fig, "expert:0:") == 3 and count(fig, "shallow") == 1
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "+ logit of click" in texts and "5→1" in texts


def test_domain_adversarial_draws_the_reversal_between_features_and_domain_classifier():
    from mtl_ref.auxiliary import member_module, stacked_mlp

    params = stacked_mlp(2, [2, 15], "f") | stacked_mlp(2, [15, 1], "y") | stacked_mlp(2, [15, 8, 1], "d")
    parts = (member_module(params, "f", last=nn.Sigmoid()), member_module(params, "y"), member_module(params, "d"))
    fig = diagrams.draw_domain_adversarial(*parts, "DANN")
    assert count(fig, "features:") == 1 and count(fig, "label:") == 1 and count(fig, "domain:") == 2
    assert count(fig, "reversal") == 1 and count(fig, "reversed-gradient") == 1
    texts = " ".join(" ".join(t.get_text().split()) for t in fig.axes[0].texts)  # one line, wrapping undone
    assert f"DANN {sum(count_parameters(p) for p in parts):,} parameters" in texts
    assert "feature extractor: linear 2→15 · sigmoid" in texts and "domain classifier: linear 15→8 · tanh" in texts
