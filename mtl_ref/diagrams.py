"""Architecture diagrams drawn from the models themselves, so that a picture cannot drift from the code.

:func:`draw` walks a multi-task model (its trunk, heads, task networks, mixing units, attention modules, or its
experts and gates) and
draws one box per layer stage, labelled with what the stage computes and how many parameters it holds; shared parts
are white, task-specific parts take the task's colour (:func:`mtl_ref.plots.color`). :func:`draw_side_by_side` puts
several models next to each other, :func:`draw_cross_stitch_unit` draws one mixing unit with its α, and
:func:`draw_domain_adversarial` a feature extractor with a label predictor and a domain classifier behind a
gradient-reversal layer.

Every box carries a ``gid`` naming what it stands for (``"trunk:0"``, ``"head:left:0"``, ``"stitch:3"``, …), so
tests can count what was drawn against the model. Data flow from the bottom (input) to the top (predictions).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from .models import (MTAN, ConcatConditioned, CrossStitch, CrossStitchUnit, FiLMConditioned, HardSharing,
                     Independent, SegNet, Sluice, SoftSharing, count_parameters)
from .models.experts import StackedMLP
from .models.mmoe import MMoE
from .models.ple import PLE
from .models.shallow_tower import ShallowTower
from .models.dense import DenseHead
from .plots import color

#: Face and edge colour of shared parts.
SHARED = ("#FFFFFF", "#333333")
FONT = 6.5  # points
_CHAR = 0.62 * FONT / 72  # the width of an average character, in inches
_LINE = 1.3 * FONT / 72  # the height of a line of text, in inches
BOX_W, HEAD_W, GAP = 2.0, 1.35, 0.22  # inches
_EXPERT_W, _EXPERT_GAP = 0.95, 0.1  # an expert's box and the space between two, in inches


@dataclass(frozen=True)
class Stage:
    """One box of a diagram: what a group of layers computes, and its parameter count."""

    label: str
    params: int


def describe(module: nn.Module) -> str:
    """A short description of what ``module`` computes, e.g. ``"conv 3×3, 1→16 · ReLU · max-pool"``."""
    if isinstance(module, nn.Linear):
        return f"linear {module.in_features}→{module.out_features}"
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size
        return f"conv {k[0]}×{k[1]}, {module.in_channels}→{module.out_channels}"
    if isinstance(module, DenseHead):
        text = f"{describe(module.conv)} · {describe(module.out)}"
        return text + " · L2-normalise" if module.normalized else text
    if isinstance(module, nn.Sequential):
        children = list(module)
        if _is_conv_bn_relu(module):
            return describe(children[0]).replace("conv", "conv-BN-ReLU", 1)
        if children and all(_is_conv_bn_relu(c) for c in children):
            first, last = children[0][0], children[-1][0]
            size = "×".join(map(str, first.kernel_size))
            count = f"{len(children)}× " if len(children) > 1 else ""
            return f"{count}conv-BN-ReLU {size}, {first.in_channels}→{last.out_channels}"
        return " · ".join(describe(c) for c in children)
    names = {nn.ReLU: "ReLU", nn.MaxPool2d: "max-pool", nn.Flatten: "flatten", nn.Dropout: "dropout",
             nn.BatchNorm2d: "BN", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: "identity"}
    return names.get(type(module), type(module).__name__)


def _is_conv_bn_relu(module: nn.Module) -> bool:
    return (isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[0], nn.Conv2d)
            and isinstance(module[1], nn.BatchNorm2d) and isinstance(module[2], nn.ReLU))


def _is_conv_block(module: nn.Module) -> bool:
    """A convolution-BN-ReLU layer, or a stack of them (a SegNet block): drawn as one box."""
    return _is_conv_bn_relu(module) or (isinstance(module, nn.Sequential) and len(module) > 0
                                        and all(_is_conv_bn_relu(c) for c in module))


def stages(module: nn.Module) -> list[Stage]:
    """The boxes that stand for ``module``: one per encoder and decoder block of a :class:`~.models.SegNet`, one
    per layer with parameters of an ``nn.Sequential`` (parameter-free layers join their neighbour's box), else one."""
    if isinstance(module, SegNet):
        enc = [Stage(f"encoder {j + 1}: {describe(b)} · max-pool", count_parameters(b))
               for j, b in enumerate(module.encoder)]
        dec = [Stage(f"decoder {j + 1}: unpool · {describe(b)}", count_parameters(b))
               for j, b in enumerate(module.decoder)]
        return enc + dec
    if isinstance(module, nn.Sequential) and not _is_conv_block(module):
        groups: list[list[nn.Module]] = []
        for child in module:  # a layer with parameters starts a new box
            if count_parameters(child) > 0 or not groups:
                groups.append([child])
            else:
                groups[-1].append(child)
        if len(groups) > 1 and count_parameters(nn.Sequential(*groups[0])) == 0:
            leading = groups.pop(0)  # parameter-free layers before the first with parameters
            groups[0] = leading + groups[0]
        if len(groups) > 1 or len(groups[0]) == 1:  # a single child may hold several boxes itself
            return [s for g in groups for s in (stages(g[0]) if len(g) == 1 else
                                                [Stage(" · ".join(describe(m) for m in g),
                                                       sum(count_parameters(m) for m in g))])]
    return [Stage(describe(module), count_parameters(module))]


class _Canvas:
    """A figure whose axes span it, in inches: the figure is sized to what is drawn on it."""

    def __init__(self) -> None:
        self.fig = plt.figure(layout="none")
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.axis("off")
        self.extent = [float("inf"), float("inf"), float("-inf"), float("-inf")]  # x0, y0, x1, y1
        self.row_top = float("-inf")
        self.dy = 0.0  # drawers work at y ≥ 0 (inputs slightly below); a row of panels is shifted by dy

    def _grow(self, x0: float, y0: float, x1: float, y1: float) -> None:
        e = self.extent
        self.extent = [min(e[0], x0), min(e[1], y0 + self.dy), max(e[2], x1), max(e[3], y1 + self.dy)]
        self.row_top = max(self.row_top, y1 + self.dy)

    def box(self, x: float, y: float, w: float, text: str, colour: str | None = None, gid: str = "",
            dashed: bool = False, min_h: float = 0.0) -> tuple[float, float, float, float]:
        """A rounded box centred at ``(x, y)``, ``w`` inches wide, tall enough for ``text``; returns its extent."""
        wrapped = "\n".join(textwrap.fill(line, max(8, int((w - 0.12) / _CHAR))) for line in text.split("\n"))
        h = max(min_h, wrapped.count("\n") * _LINE + _LINE + 0.12)
        face, edge = SHARED if colour is None else (_tint(colour), colour)
        patch = FancyBboxPatch((x - w / 2, y - h / 2 + self.dy), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                               fc=face, ec=edge, lw=1.0, ls="--" if dashed else "-", gid=gid, zorder=2)
        self.ax.add_patch(patch)
        self.ax.text(x, y + self.dy, wrapped, ha="center", va="center", fontsize=FONT, zorder=3, linespacing=1.15)
        self._grow(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        return x - w / 2, y - h / 2, x + w / 2, y + h / 2

    @staticmethod
    def height(text: str, w: float, min_h: float = 0.0) -> float:
        lines = sum(len(textwrap.wrap(line, max(8, int((w - 0.12) / _CHAR)))) or 1 for line in text.split("\n"))
        return max(min_h, (lines - 1) * _LINE + _LINE + 0.12)

    def arrow(self, start: tuple[float, float], end: tuple[float, float], colour: str = "#444444",
              style: str = "-|>", lw: float = 0.9, dashed: bool = False, rad: float = 0.0, gid: str = "") -> None:
        start, end = (start[0], start[1] + self.dy), (end[0], end[1] + self.dy)
        self.ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=7, color=colour, lw=lw,
                                          ls="--" if dashed else "-", connectionstyle=f"arc3,rad={rad}",
                                          shrinkA=0, shrinkB=0, zorder=1, gid=gid))

    def text(self, x: float, y: float, s: str, size: float = FONT, **kw) -> None:
        self.ax.text(x, y + self.dy, s, fontsize=size, ha=kw.pop("ha", "center"), va=kw.pop("va", "center"),
                     zorder=3, **kw)
        half = len(max(s.split("\n"), key=len)) * _CHAR * size / FONT / 2
        self._grow(x - half, y - _LINE, x + half, y + _LINE)

    def finish(self, pad: float = 0.08) -> Figure:
        x0, y0, x1, y1 = self.extent
        self.ax.set_xlim(x0 - pad, x1 + pad)
        self.ax.set_ylim(y0 - pad, y1 + pad)
        self.fig.set_size_inches(x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
        return self.fig


def _tint(colour: str, amount: float = 0.2) -> tuple[float, float, float]:
    """``colour`` mixed with white (opaque, so that lines behind a box stay hidden)."""
    return tuple(1 - amount * (1 - v) for v in to_rgb(colour))


def _label(stage: Stage) -> str:
    return f"{stage.label}\n{stage.params:,} parameters"


def _column(c: _Canvas, x: float, y: float, items: Sequence[Stage], w: float, colour: str | None, gid: str,
            rows: Sequence[float] | None = None) -> list[tuple[float, float, float, float]]:
    """Boxes stacked upwards from ``y`` (or at the centres ``rows``), joined by arrows; their extents."""
    out = []
    for k, s in enumerate(items):
        h = c.height(_label(s), w)
        cy = rows[k] if rows is not None else y + h / 2
        if out:
            c.arrow((x, out[-1][3]), (x, cy - h / 2))
        out.append(c.box(x, cy, w, _label(s), colour, gid=f"{gid}:{k}"))
        y = out[-1][3] + GAP
    return out


def _rows(heights: Sequence[float], y: float) -> list[float]:
    """Centres of boxes of the given heights stacked upwards from ``y`` with :data:`GAP` between them."""
    centres = []
    for h in heights:
        centres.append(y + h / 2)
        y += h + GAP
    return centres


def _input(c: _Canvas, xs: Sequence[float], y: float, text: str = "input x") -> None:
    """The input label under one or more columns, with arrows up to ``y``."""
    mid = (min(xs) + max(xs)) / 2
    c.text(mid, y - 0.45, text)
    for x in xs:
        c.arrow((mid, y - 0.36), (x, y))


def _outputs(c: _Canvas, xs: Sequence[float], top: float, tasks: Sequence[str]) -> None:
    for x, t in zip(xs, tasks):
        c.arrow((x, top), (x, top + 0.25), colour=color(t))
        c.text(x, top + 0.36, f"ŷ {t}", color=color(t))


def _task_columns(c: _Canvas, x0: float, y: float, nets: Mapping[str, Sequence[Stage]], w: float,
                  gid: str) -> tuple[list[float], list[list[tuple[float, float, float, float]]]]:
    """One column of boxes per task, rows aligned across tasks."""
    names = list(nets)
    depth = max(len(s) for s in nets.values())
    heights = [max(c.height(_label(nets[t][k]), w) for t in names if k < len(nets[t])) for k in range(depth)]
    rows = _rows(heights, y)
    xs = [x0 + w / 2 + i * (w + GAP) for i in range(len(names))]
    boxes = [_column(c, x, y, nets[t], w, color(t), f"{gid}:{t}", rows) for x, t in zip(xs, names)]
    return xs, boxes


def _hard_sharing(c: _Canvas, model: HardSharing, x0: float) -> float:
    heads = {t: stages(h) for t, h in model.heads.items()}
    w_head = HEAD_W if max(len(s) for s in heads.values()) == 1 else 1.6
    width = max(BOX_W, len(heads) * (w_head + GAP) - GAP)
    trunk = _column(c, x0 + width / 2, 0.0, stages(model.trunk), BOX_W, None, "trunk")
    _input(c, [x0 + width / 2], 0.0)
    top = trunk[-1][3]
    y = top + 0.35
    xs, boxes = _task_columns(c, x0 + (width - (len(heads) * (w_head + GAP) - GAP)) / 2, y, heads, w_head, "head")
    for x, t, column in zip(xs, heads, boxes):
        c.arrow((x0 + width / 2, top), (x, column[0][1]), colour=color(t))
    _outputs(c, xs, max(col[-1][3] for col in boxes), list(heads))
    return x0 + width


def _independent(c: _Canvas, model: Independent, x0: float) -> float:
    nets = {t: stages(net) for t, net in model.nets.items()}
    w = HEAD_W if max(len(s) for s in nets.values()) == 1 else 1.6
    xs, boxes = _task_columns(c, x0, 0.0, nets, w, "net")
    _input(c, xs, 0.0)
    _outputs(c, xs, max(col[-1][3] for col in boxes), list(nets))
    return xs[-1] + w / 2


def _soft_sharing(c: _Canvas, model: SoftSharing, x0: float) -> float:
    names = list(model.nets)
    nets = {t: stages(net[0]) + [Stage(f"{t} head: {s.label}", s.params) for s in stages(net[1])]
            for t, net in model.nets.items()}
    xs, boxes = _task_columns(c, x0, 0.0, nets, BOX_W, "net")
    _input(c, xs, 0.0)
    trunk_stages = _trunk_modules(model.nets[names[0]][0])
    tied = set(model.tied_weights())
    penalty = model.penalty.func if isinstance(model.penalty, partial) else model.penalty
    modes = model.penalty.keywords.get("modes") if isinstance(model.penalty, partial) else None
    symbol = {"l2_distance": r"$\sum_{a<b}\Vert W_a - W_b\Vert_F^2$",
              "trace_norm": r"$\Vert W_{(\mathrm{task})}\Vert_*$" if modes in ((-1,), [-1])
              else r"$\sum_i \Vert W_{(i)}\Vert_*$"}.get(getattr(penalty, "__name__", ""), "Ω")
    for k, params in enumerate(trunk_stages):
        if not params & tied:
            continue
        for a, b in zip(boxes[:-1], boxes[1:]):
            y = (a[k][1] + a[k][3]) / 2
            c.arrow((a[k][2], y), (b[k][0], y), colour="#222222", style="<->", dashed=True, gid=f"tie:{k}")
    c.text((xs[0] + xs[-1]) / 2, boxes[0][-1][3] + 0.62,
           f"penalty λ·{symbol} on every tied trunk weight (dashed), λ = {model.weight:g}; heads are free")
    _outputs(c, xs, max(col[-1][3] for col in boxes), names)
    return xs[-1] + BOX_W / 2


def _trunk_modules(trunk: nn.Module) -> list[set[str]]:
    """For each stage of ``trunk`` (as :func:`stages` splits it), the names of its parameters."""
    if isinstance(trunk, SegNet):
        blocks = [("encoder", j, b) for j, b in enumerate(trunk.encoder)] + \
                 [("decoder", j, b) for j, b in enumerate(trunk.decoder)]
        return [{f"{part}.{j}.{n}" for n, _ in b.named_parameters()} for part, j, b in blocks]
    if isinstance(trunk, nn.Sequential) and len(stages(trunk)) > 1:
        names = {id(p): n for n, p in trunk.named_parameters()}
        return [{names[id(p)] for p in child.parameters()} for child in trunk if count_parameters(child) > 0]
    return [{n for n, _ in trunk.named_parameters()}]


def _mixed(c: _Canvas, model: CrossStitch | Sluice, x0: float) -> float:
    """Task networks side by side with a mixing unit after every block (cross-stitch and sluice networks)."""
    names = model.task_names
    nets = {t: stages(model.nets[t]) for t in names}
    subspaces = model.subspaces if isinstance(model, Sluice) else 1
    units = [*model.encoder_stitch, *model.decoder_stitch]
    heights = [max(c.height(_label(s[k]) + ("\n" if subspaces > 1 else ""), BOX_W) for s in nets.values())
               for k in range(len(units))]
    xs = [x0 + BOX_W / 2 + i * (BOX_W + GAP) for i in range(len(names))]
    _input(c, xs, 0.0)
    y, prev = 0.0, {t: None for t in names}
    unit_h = 0.2
    for k, (unit, h) in enumerate(zip(units, heights)):
        for x, t in zip(xs, names):
            s = nets[t][k]
            c.box(x, y + h / 2, BOX_W, _label(s) + ("\n" if subspaces > 1 else ""), color(t), gid=f"net:{t}:{k}",
                  min_h=h)
            if subspaces > 1:  # the channel groups that α mixes separately, as strips along the box's bottom
                sw = (BOX_W - 0.1 - (subspaces - 1) * 0.04) / subspaces
                for g in range(subspaces):
                    gx = x - BOX_W / 2 + 0.05 + sw / 2 + g * (sw + 0.04)
                    c.ax.add_patch(FancyBboxPatch((gx - sw / 2, y + 0.04 + c.dy), sw, 0.13, boxstyle="square,pad=0",
                                                  fc="white", ec=color(t), lw=0.6, gid=f"subspace:{t}:{k}:{g}",
                                                  zorder=3))
                    c.ax.text(gx, y + 0.105 + c.dy, f"subspace {g + 1}", fontsize=FONT - 1.5, ha="center",
                              va="center", zorder=4)
            if prev[t] is not None:
                c.arrow((x, prev[t]), (x, y), colour=color(t))
        top = y + h
        y_unit = top + GAP + unit_h / 2
        span = xs[-1] - xs[0] + BOX_W
        n = unit.alpha.shape[0]
        text = (f"{'sluice α' if subspaces > 1 else 'cross-stitch α'} ({n}×{n}): "
                f"{'every task-subspace block' if subspaces > 1 else 'each task'} reads a mixture of all")
        if isinstance(model, Sluice) and not model.mix:
            text = "α fixed at the identity (no mixing)"
        c.box((xs[0] + xs[-1]) / 2, y_unit, span, text, None, gid=f"stitch:{k}", dashed=not getattr(model, "mix", 1))
        for x in xs:
            c.arrow((x, top), (x, y_unit - unit_h / 2 - 0.0))
        y = y_unit + unit_h / 2 + GAP
        prev = {t: y_unit + unit_h / 2 for t in names}
    if isinstance(model, Sluice):
        n_blocks = len(model.decoder_stitch)
        y_beta = y + 0.15
        for x, t in zip(xs, names):
            c.box(x, y_beta, BOX_W, f"Σ β_l h_l over the {n_blocks} decoder blocks (skip)", color(t),
                  gid=f"beta:{t}")
            c.arrow((x, prev[t]), (x, y_beta - 0.12), colour=color(t))
        prev = {t: y_beta + 0.12 for t in names}
        y = y_beta + 0.12 + GAP
    for x, t in zip(xs, names):
        head = stages(model.heads[t])[0]
        box = c.box(x, y + c.height(_label(head), BOX_W) / 2, BOX_W, f"{t} head: {head.label}\n"
                    f"{head.params:,} parameters", color(t), gid=f"head:{t}:0")
        c.arrow((x, prev[t]), (x, box[1]), colour=color(t))
        top = box[3]
    _outputs(c, xs, top, names)
    return xs[-1] + BOX_W / 2


def _mtan(c: _Canvas, model: MTAN, x0: float) -> float:
    """The shared SegNet in the left column, each task's attention modules in a column of its own to the right."""
    names = model.task_names
    shared = stages(model.segnet)
    w_att = 1.45
    x_shared = x0 + BOX_W / 2
    xs = {t: x0 + BOX_W + 0.45 + w_att / 2 + i * (w_att + GAP) for i, t in enumerate(names)}
    rows = _rows([max(c.height(_label(s), BOX_W), c.height("m\nm\nm", w_att)) for s in shared], 0.0)
    boxes = _column(c, x_shared, 0.0, shared, BOX_W, None, "trunk", rows)
    _input(c, [x_shared], 0.0)
    tops = []
    for t in names:
        modules = [*model.attention[t].encoder, *model.attention[t].decoder]
        prev = None
        for k, (module, row) in enumerate(zip(modules, rows)):
            conv = module.layers[0]
            text = f"mask, {model.layer_names[k]}: 1×1 convs {conv.in_channels}→{conv.out_channels}, sigmoid\n" \
                   f"{count_parameters(module):,} parameters"
            box = c.box(xs[t], row, w_att, text, color(t), gid=f"attention:{t}:{k}")
            # the shared features feed every task's mask of this block (the lines pass behind the boxes)
            c.arrow((boxes[k][2], row), (box[0], row), colour="#888888", lw=0.7)
            if prev is not None:
                c.arrow((xs[t], prev), (xs[t], box[1]), colour=color(t))
            prev = box[3]
        head = stages(model.heads[t])[0]
        hbox = c.box(xs[t], prev + GAP + c.height(f"{t} head: {head.label}", w_att) / 2, w_att,
                     f"{t} head: {head.label}", color(t), gid=f"head:{t}:0")
        c.arrow((xs[t], prev), (xs[t], hbox[1]), colour=color(t))
        tops.append(hbox[3])
    _outputs(c, list(xs.values()), max(tops), names)
    f_params = count_parameters(model.encoder_f) + count_parameters(model.decoder_f)
    c.text(x_shared, boxes[-1][3] + 0.42, f"shared: the SegNet, and the f_j layers\nbetween masks "
           f"(vertical arrows, {f_params:,} parameters)")
    return max(xs.values()) + w_att / 2


def _conditioned(c: _Canvas, model: ConcatConditioned | FiLMConditioned, x0: float) -> float:
    names = model.task_names
    film = isinstance(model, FiLMConditioned)
    layers = list(model.layers) if film else [m for m in model.net if isinstance(m, nn.Linear)]
    items = [Stage(describe(layer) + (" · ReLU" if k < len(layers) - 1 else ""), count_parameters(layer))
             for k, layer in enumerate(layers)]
    small = 0.34
    side = len(names) * (small + 0.04)
    width = BOX_W + 0.15 + side
    cx = x0 + BOX_W / 2
    y = 0.0
    if not film:
        emb = model.embedding
        for i, t in enumerate(names):
            c.box(x0 + BOX_W + 0.15 + small / 2 + i * (small + 0.04), -0.45, small, f"z{i + 1}", color(t),
                  gid=f"embedding:{t}")
        c.text(x0 + BOX_W + 0.15 + side / 2, -0.78, f"task embeddings\n{emb.num_embeddings}×{emb.embedding_dim}")
        c.text(cx, -0.45, "[x, z_i]")
        c.arrow((x0 + BOX_W + 0.1, -0.45), (cx + 0.3, -0.45), colour="#777777")
        c.arrow((cx, -0.33), (cx, y))
        c.text(cx, -0.8, "input x")
        c.arrow((cx, -0.7), (cx, -0.57))
    else:
        _input(c, [cx], 0.0)
    boxes = _column(c, cx, y, items, BOX_W, None, "trunk")
    if film:
        for k, gamma in enumerate(model.gamma):
            row = (boxes[k][1] + boxes[k][3]) / 2
            for i, t in enumerate(names):
                c.box(x0 + BOX_W + 0.15 + small / 2 + i * (small + 0.04), row, small, f"γ{i + 1}\nβ{i + 1}",
                      color(t), gid=f"film:{k}:{t}")
            c.arrow((x0 + BOX_W + 0.13, row), (boxes[k][2], row), colour="#777777")
        c.text(x0 + BOX_W + 0.15 + side / 2, boxes[0][1] - 0.25, "h ← γ_i ⊙ h + β_i")
    top = boxes[-1][3]
    c.arrow((cx, top), (cx, top + 0.25))
    c.text(cx, top + 0.36, "ŷ of the task i asked for")
    return x0 + width


def _member(bank: StackedMLP) -> str:
    """What one member of a stacked MLP computes, and its parameters."""
    return f"{'→'.join(map(str, bank.sizes))}\n{count_parameters(bank) // bank.count:,} par."


def _gate_label(name: str, gates: nn.Module, count: int, experts: int) -> str:
    return f"{name}\nsoftmax over {experts}\n{count_parameters(gates) // count:,} par."


def _expert_row(c: _Canvas, x0: float, y: float, groups: Sequence[tuple[str | None, int, str]], bank: StackedMLP,
                gid: str, name: str = "expert") -> tuple[list[float], float]:
    """Boxes for ``groups`` of experts (owner task or ``None`` for shared, how many, gid part), left to right."""
    w, xs, top = _EXPERT_W, [], y
    for owner, n, part in groups:
        for j in range(n):
            x = x0 + w / 2 + len(xs) * (w + _EXPERT_GAP)
            box = c.box(x, y + c.height(_member(bank), w) / 2, w, f"{name}\n{_member(bank)}",
                        None if owner is None else color(owner), gid=f"{gid}:{part}:{j}")
            xs.append(x)
            top = max(top, box[3])
    return xs, top


def _mixture(c: _Canvas, model: MMoE | PLE, x0: float) -> float:
    """MMoE/OMoE (one level of experts, a gate per task or one shared gate) and PLE/CGC (levels of task and shared
    experts, each task's gate over its own and the shared experts, a shared gate feeding the next level)."""
    tasks = model.task_names
    levels = [(model.experts, [(None, model.experts.count, "shared")], model.gates)] if isinstance(model, MMoE) else \
        [(lv.experts, [*((t, lv.task_experts, t) for t in tasks), (None, lv.shared_experts, "shared")], lv)
         for lv in model.levels]
    y, right = 0.0, x0
    inputs = None  # the x positions (per task, and shared) the next level's experts read
    if isinstance(model, MMoE) and model.bottom is not None:  # YouTube's ranker: experts on a shared hidden layer
        centre = x0 + (model.experts.count - 1) * (_EXPERT_W + _EXPERT_GAP) / 2  # under the row of experts
        xs, top = _expert_row(c, centre, y, [(None, 1, "shared")], model.bottom, "bottom", "shared bottom")
        _input(c, xs, y)
        inputs, y = {None: (xs[0], top)}, top + 0.45
    for j, (bank, groups, gating) in enumerate(levels):
        bottom = isinstance(model, MMoE) and model.gates is None
        xs, top = _expert_row(c, x0, y, groups, bank, f"expert:{j}", "shared bottom" if bottom else "expert")
        right = max(right, xs[-1] + 0.5)
        owners = [o for o, n, _ in groups for _ in range(n)]
        if inputs is None:
            _input(c, xs, y)
        else:
            for x, o in zip(xs, owners):
                src = inputs.get(o, inputs[None])
                c.arrow(src, (x, y), colour="#999999" if o is None else color(o))
        gy = top + 0.45
        gate_xs = [x0 + 0.6 + k * 1.3 for k in range(len(tasks) + 1)]
        outputs: dict[str | None, tuple[float, float]] = {}
        if isinstance(model, MMoE):
            one = model.one_gate or model.gates is None
            names = ["one gate (all tasks)"] if model.one_gate else ([] if model.gates is None else tasks)
            for k, name in enumerate(names):
                g = c.box(gate_xs[k], gy, 1.15, _gate_label(f"gate {name}" if not one else name, model.gates,
                                                           model.gates.count, bank.count),
                          None if one else color(name), gid=f"gate:{j}:{name}")
                for x in xs:
                    c.arrow((x, top), (gate_xs[k], g[1]), colour="#BBBBBB", lw=0.5)
                for t in (tasks if one else [name]):
                    outputs[t] = (gate_xs[k], g[3])
            if model.gates is None:  # one expert: shared bottom
                outputs = {t: (xs[0], top) for t in tasks}
        else:
            for k, t in enumerate(tasks):
                g = c.box(gate_xs[k], gy, 1.15, _gate_label(f"gate {t}", gating.task_gates, len(tasks),
                                                           gating.task_experts + gating.shared_experts),
                          color(t), gid=f"gate:{j}:{t}")
                for x, o in zip(xs, owners):
                    if o in (t, None):
                        c.arrow((x, top), (gate_xs[k], g[1]), colour="#BBBBBB", lw=0.5)
                outputs[t] = (gate_xs[k], g[3])
            if gating.shared_gate is not None:
                g = c.box(gate_xs[len(tasks)], gy, 1.15, _gate_label("shared gate", gating.shared_gate, 1, bank.count),
                          None, gid=f"gate:{j}:shared")
                for x in xs:
                    c.arrow((x, top), (gate_xs[len(tasks)], g[1]), colour="#BBBBBB", lw=0.5)
                outputs[None] = (gate_xs[len(tasks)], g[3])
        right = max(right, gate_xs[len(tasks) - 1] + 0.6)
        y = max(p[1] for p in outputs.values()) + 0.45
        inputs = outputs
    tower_xs, tops = [], []
    for k, t in enumerate(tasks):
        x = x0 + 0.6 + k * 1.3
        label = f"tower\n{_member(model.towers)}"
        box = c.box(x, y + c.height(label, 1.15) / 2, 1.15, label, color(t), gid=f"tower:{t}")
        c.arrow(inputs[t], (x, box[1]), colour=color(t))
        tower_xs.append(x)
        tops.append(box[3])
    _outputs(c, tower_xs, max(tops), tasks)
    return max(right, tower_xs[-1] + 0.6)


def _shallow_tower(c: _Canvas, model: ShallowTower, x0: float) -> float:
    """The main model, and beside it the shallow tower on the bias features, whose logit is added in training only."""
    right = _drawer(model.main)(c, model.main, x0)
    top = c.row_top - c.dy
    x = right + 0.9
    biased = ", ".join(model.biased) or "none"
    box = c.box(x, top - 0.9, 1.3, f"shallow tower\n{model.bias_dim}→{len(model.biased)}\n"
                f"{count_parameters(model) - count_parameters(model.main):,} par.", dashed=True, gid="shallow")
    c.text(x, box[1] - 0.45, "bias features\n(position, device)")
    c.arrow((x, box[1] - 0.3), (x, box[1]))
    c.arrow((x, box[3]), (x, box[3] + 0.25), dashed=True)
    c.text(x, box[3] + 0.5, f"+ logit of {biased}\n(training only)")
    return x + 0.75


_DRAWERS: list[tuple[type, Callable[[_Canvas, nn.Module, float], float]]] = [
    (ShallowTower, _shallow_tower),
    (SoftSharing, _soft_sharing), (Sluice, _mixed), (CrossStitch, _mixed), (MTAN, _mtan),
    (HardSharing, _hard_sharing), (Independent, _independent), (ConcatConditioned, _conditioned),
    (FiLMConditioned, _conditioned), (MMoE, _mixture), (PLE, _mixture),
]


def _drawer(model: nn.Module) -> Callable[[_Canvas, nn.Module, float], float]:
    for kind, drawer in _DRAWERS:
        if isinstance(model, kind):
            return drawer
    raise TypeError(f"no diagram for {type(model).__name__}; known: {', '.join(k.__name__ for k, _ in _DRAWERS)}")


def draw_side_by_side(models: Mapping[str, nn.Module], columns: int | None = None, gap: float = 0.45) -> Figure:
    """One panel per model, titled by its key and parameter count, ``columns`` panels per row (default: all in
    one row); returns the figure. White boxes are shared by all tasks, tinted boxes belong to one task.

    Raises:
        TypeError: a model is of a kind this module cannot draw.
    """
    items = list(models.items())
    columns = columns or len(items)
    rows = [items[i:i + columns] for i in range(0, len(items), columns)]
    canvas = _Canvas()
    base = 0.0
    for row in reversed(rows):  # bottom row first, each next row above the last
        canvas.dy, canvas.row_top = base + 0.95, float("-inf")
        x, spans = 0.0, []
        for title, model in row:
            right = _drawer(model)(canvas, model, x)
            spans.append((x, right, title, count_parameters(model)))
            x = right + gap
        canvas.dy, top = 0.0, canvas.row_top + 0.3
        for left, right, title, params in spans:
            canvas.text((left + right) / 2, top, f"{title}\n{params:,} parameters", size=FONT + 1.5,
                        weight="bold")
        base = top + 0.4
    return canvas.finish()


def draw(model: nn.Module, title: str | None = None) -> Figure:
    """The diagram of one model (titled ``title``, or by its class name); returns the figure."""
    return draw_side_by_side({title or type(model).__name__: model})


def draw_domain_adversarial(features: nn.Module, label: nn.Module, domain: nn.Module,
                            title: str = "domain-adversarial network") -> Figure:
    """A domain-adversarial network (Ganin & Lempitsky 2015, Fig. 1): the feature extractor (white, shared), the
    label predictor on it, and the domain classifier behind a gradient-reversal layer, which passes the features
    on unchanged and multiplies the gradient that flows back by −λ (the dashed arrow). Returns the figure."""
    c = _Canvas()
    w = 1.6
    x_label, x_domain = w / 2, w / 2 + w + 0.35
    x_features = (x_label + x_domain) / 2
    extractor = [Stage(f"feature extractor: {s.label}", s.params) for s in stages(features)]
    trunk = _column(c, x_features, 0.0, extractor, BOX_W, None, "features")
    _input(c, [x_features], 0.0, "input x: labelled source rows and unlabelled target rows")
    top = trunk[-1][3]
    y = top + 0.35
    heads = [Stage(f"label predictor: {s.label}", s.params) for s in stages(label)]
    label_boxes = _column(c, x_label, y, heads, w, color("label"), "label")
    c.arrow((x_features, top), (x_label, label_boxes[0][1]), colour=color("label"))
    text = "gradient reversal R_λ\nforward: h ↦ h\nbackward: gradient × (−λ)"
    reversal = c.box(x_domain, y + c.height(text, w) / 2, w, text, None, gid="reversal", dashed=True)
    c.arrow((x_features, top), (x_domain, reversal[1]))
    classifier = [Stage(f"domain classifier: {s.label}", s.params) for s in stages(domain)]
    domain_boxes = _column(c, x_domain, reversal[3] + GAP, classifier, w, color("domain"), "domain")
    c.arrow((x_domain, reversal[3]), (x_domain, domain_boxes[0][1]), colour=color("domain"))
    mid = (trunk[-1][1] + trunk[-1][3]) / 2
    c.arrow((reversal[2], (reversal[1] + reversal[3]) / 2), (trunk[-1][2], mid), colour=color("domain"),
            dashed=True, rad=-0.45, gid="reversed-gradient")
    c.text(reversal[2] - 0.35, trunk[-1][1] - 0.08, "backward: −λ ∂L_d/∂h", color=color("domain"))
    for x, boxes, name, text in ((x_label, label_boxes, "label", "ŷ: class (source rows, loss L_y)"),
                                 (x_domain, domain_boxes, "domain", "d̂: source or target (loss L_d)")):
        c.arrow((x, boxes[-1][3]), (x, boxes[-1][3] + 0.25), colour=color(name))
        c.text(x, boxes[-1][3] + 0.36, text, color=color(name))
    params = sum(count_parameters(m) for m in (features, label, domain))
    c.text(x_features, c.row_top + 0.3, f"{title}\n{params:,} parameters", size=FONT + 1.5, weight="bold")
    return c.finish()


def draw_cross_stitch_unit(unit: CrossStitchUnit, task_names: Sequence[str]) -> Figure:
    """One cross-stitch unit: the K activations in, the K mixtures out, one line per α_kl (its width grows with
    α_kl, in the colour of the task that receives the mixture), and the matrix α itself (row k: what task k reads)."""
    alpha = unit.alpha.detach().cpu()
    k = alpha.shape[0]
    if len(task_names) != k:
        raise ValueError(f"the unit mixes {k} activations but {len(task_names)} task names were given")
    c = _Canvas()
    w, step = 1.15, 0.55
    ys = [step * (k - 1 - i) for i in range(k)]
    biggest = float(alpha.abs().max()) or 1.0
    for i, t in enumerate(task_names):
        c.box(0.0, ys[i], w, f"x_{i + 1}: {t}", color(t), gid=f"in:{t}")
        c.box(2.6, ys[i], w, f"x̃_{i + 1}: {t}", color(t), gid=f"out:{t}")
    for i, t in enumerate(task_names):  # the mixture that task i reads
        for j in range(k):
            c.arrow((w / 2, ys[j]), (2.6 - w / 2, ys[i]), colour=color(t),
                    lw=0.3 + 2.4 * abs(float(alpha[i, j])) / biggest, gid=f"alpha:{i}:{j}")
    cell, x0 = 0.42, 2.6 + w / 2 + 0.55
    for i, t in enumerate(task_names):
        c.text(x0 - 0.05, ys[i], f"x̃_{i + 1}", ha="right", color=color(t))
        for j in range(k):
            c.box(x0 + cell / 2 + j * cell, ys[i], cell, f"{float(alpha[i, j]):.2f}",
                  color(t) if i == j else None, gid=f"cell:{i}:{j}", min_h=cell * 0.9)
    for j in range(k):
        c.text(x0 + cell / 2 + j * cell, ys[0] + 0.38, f"x_{j + 1}")
    c.text(x0 + k * cell / 2, ys[0] + 0.7, "α")
    c.text(1.3, ys[0] + 0.7, "x̃_k = Σ_l α_kl x_l", size=FONT + 1)
    return c.finish()
