"""Analytic ray casting of the three solids SynthScenes is made of, and the screen-space culling that keeps it cheap.

Conventions: world coordinates in metres with ``y`` up; every solid stands upright, so its only rotation is a
turn by an angle θ about the vertical axis, stored as ``(cos θ, sin θ)``. A solid is described by
:data:`PARAMS` numbers: centre ``(x, y, z)``, size ``(sx, sy, sz)``, ``cos θ``, ``sin θ``, where the size is

* sphere: its radius, three times;
* box: its half-extents along its local axes;
* cylinder (vertical axis): radius, half-height, radius.

Vectors and parameter rows are laid out component-first (a point is ``(3, ...)``, a solid ``(8, ...)``) so that
every operation runs on whole tensors of rays. Intersections are computed in a solid's local frame (centre at
the origin, axes turned by -θ): each solid is convex, so a ray ``o + t·d`` is inside it on one interval
``[t_in, t_out]``, the overlap of the intervals ("slabs") of its bounding surfaces; a ray that misses gives an
empty interval or NaN. Directions need not be unit vectors: ``t`` is in units of ``d``.

Rays are cast only where a solid can be seen. :func:`screen_bounds` bounds the projection of a set of points
(a solid's corners, or the volume its shadow can fall in) by an octagon of pixels (a rectangle cut by two
diagonals), and :func:`candidates` lists the (solid, pixel) pairs inside such octagons; only those pairs are
intersected. A solid lies inside the convex hull of its corners, so a pixel whose centre falls outside the
hull's projection cannot see it.
"""

from __future__ import annotations

import torch
from torch import Tensor

SPHERE, BOX, CYLINDER = 0, 1, 2
KINDS = (SPHERE, BOX, CYLINDER)
PARAMS = 8  # centre (3), size (3), cos θ, sin θ
EPS = 1e-4  # shadow rays ignore hits closer than this to their start
MISS = 1e9  # the distance reported for a ray that hits nothing
NEAR = 0.05  # points closer than this to the camera plane make the bounds cover the whole image


def step(x: Tensor) -> Tensor:
    """1.0 where ``x > 0``, else 0.0 (NaN stays NaN): a mask as a float, cheaper than a boolean on a CPU."""
    return x.sign().clamp(min=0)


def turn(x: Tensor, z: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    """Horizontal components turned by θ about ``y`` (local to world); pass ``-sin`` for world to local."""
    return cos * x - sin * z, sin * x + cos * z


def to_local(v: Tensor, p: Tensor) -> Tensor:
    """World points ``(3, ...)`` in the local frames of solids ``p`` ``(8, ...)``."""
    rel = v - p[0:3]
    x, z = turn(rel[0], rel[2], p[6], -p[7])
    return torch.stack((x, rel[1], z))


def _slab(o: Tensor, d: Tensor, half: Tensor) -> tuple[Tensor, Tensor]:
    """The interval of ``t`` where ``|o + t·d| ≤ half`` on one axis (IEEE infinities handle ``d = 0``)."""
    inv = 1.0 / d
    a, b = (-half - o) * inv, (half - o) * inv
    return torch.minimum(a, b), torch.maximum(a, b)


def _ball(o: tuple[Tensor, ...], d: tuple[Tensor, ...], radius: Tensor) -> tuple[Tensor, Tensor]:
    """The interval of ``t`` where ``|o + t·d| ≤ radius`` (components given as tuples); NaN when it is empty."""
    a = sum(di * di for di in d)
    b = sum(oi * di for oi, di in zip(o, d))
    c = sum(oi * oi for oi in o) - radius * radius
    root = (b * b - a * c).sqrt()  # NaN for a miss
    inv = 1.0 / a
    return (-b - root) * inv, (-b + root) * inv


def interval(kind: int, o: Tensor, d: Tensor, size: Tensor) -> tuple[Tensor, Tensor]:
    """``(t_in, t_out)`` of rays ``o + t·d`` (``(3, ...)``, local frame) through solids of ``size`` ``(3, ...)``."""
    if kind == SPHERE:
        return _ball(tuple(o), tuple(d), size[0])
    ylo, yhi = _slab(o[1], d[1], size[1])
    if kind == BOX:
        xlo, xhi = _slab(o[0], d[0], size[0])
        zlo, zhi = _slab(o[2], d[2], size[2])
        return torch.maximum(torch.maximum(xlo, ylo), zlo), torch.minimum(torch.minimum(xhi, yhi), zhi)
    if kind == CYLINDER:
        rlo, rhi = _ball((o[0], o[2]), (d[0], d[2]), size[0])
        return torch.maximum(rlo, ylo), torch.minimum(rhi, yhi)
    raise ValueError(f"unknown solid kind {kind}; expected one of SPHERE, BOX, CYLINDER = {KINDS}")


def entry(t_in: Tensor, t_out: Tensor) -> Tensor:
    """Where rays starting outside a solid first hit it: ``t_in > 0``, or :data:`MISS`."""
    missed = step(t_in - t_out) + step(-t_in)
    return (t_in + MISS * missed).nan_to_num(MISS, MISS, MISS).clamp(max=MISS)


def crosses(t_in: Tensor, t_out: Tensor) -> Tensor:
    """1.0 where the segment ``t ∈ (EPS, 1)`` of a ray is inside the solid, else 0.0."""
    return step(t_out.clamp(max=1.0) - t_in.clamp(min=EPS)).nan_to_num(0.0)


def local_normal(kind: int, q: Tensor, size: Tensor) -> Tensor:
    """Outward normals (not normalised) at local points ``q`` ``(3, N)`` on the surface of solids of ``size``.

    The face a point is on is the one whose boundary it is closest to, relative to the size of the solid: for
    a box the axis where ``|q| / half-extent`` is largest (on an edge, the two faces' normals are averaged),
    for a cylinder the cap or the side.
    """
    ratio = q / size
    if kind == SPHERE:
        return ratio
    if kind == BOX:
        mag = ratio.abs()
        return ratio * step(mag - mag.amax(0, keepdim=True) + 1e-6)
    if kind == CYLINDER:
        cap = step(ratio[1].abs() - (ratio[0] ** 2 + ratio[2] ** 2).sqrt())
        return torch.stack((ratio[0] * (1 - cap), ratio[1].sign() * cap, ratio[2] * (1 - cap)))
    raise ValueError(f"unknown solid kind {kind}; expected one of SPHERE, BOX, CYLINDER = {KINDS}")


def corners(p: Tensor) -> Tensor:
    """The 8 corners ``(3, 8, ...)`` of a box that contains each solid ``p`` ``(8, ...)`` (its own box for a box)."""
    signs = torch.tensor([[sx, sy, sz] for sx in (-1.0, 1.0) for sy in (-1.0, 1.0) for sz in (-1.0, 1.0)],
                         device=p.device).T.reshape(3, 8, *([1] * (p.dim() - 1)))
    local = signs * p[3:6, None]
    x, z = turn(local[0], local[2], p[6, None], p[7, None])
    return p[0:3, None] + torch.stack((x, local[1], z))


def screen_bounds(points: Tensor, eye: Tensor, basis: Tensor, tan_half: Tensor, height: int, width: int) -> Tensor:
    """Pixel octagons ``(8, n, K)`` around the projections of the convex hulls of point sets: inclusive integer
    ranges of row, column, column + row and column - row.

    Args:
        points: ``(3, M, n, K)`` world points; each of the ``n × K`` sets of ``M`` points is bounded separately.
        eye, basis, tan_half: per scene, ``(3, n)`` camera position, ``(n, 3, 3)`` camera-to-world rotation
            (columns right, up, back), ``(2, n)`` tangents of the half field of view (horizontal, vertical).

    A hull that reaches behind the camera is first cut at depth :data:`NEAR`: the points in front and the
    points where the segments between a point in front and one behind cross that depth span the part in front.
    (That is conservative as long as nothing visible comes nearer than ``NEAR`` to the camera.) A hull wholly
    behind gets an empty octagon, with an empty row range.
    """
    cam = torch.einsum("nji,jmnk->imnk", basis, points - eye[:, None, :, None]).flatten(2)  # (3, M, n·K)
    front = -cam[2] > NEAR
    bounds = _octagon(cam, front, tan_half.repeat_interleave(points.shape[-1], 1), height, width)
    cut = (front.any(0) & ~front.all(0)).nonzero().squeeze(1)
    if len(cut):
        # Where the segment from point i (in front) to point j (behind) crosses depth NEAR.
        part = cam.index_select(2, cut)
        depth, ahead = -part[2], front.index_select(1, cut)
        di, dj = depth[:, None], depth[None, :]
        share = ((di - NEAR) / (di - dj).where(di != dj, 1.0)).clamp(0, 1)
        cross = (part[:, :, None] + share * (part[:, None] - part[:, :, None])).flatten(1, 2)
        crossing = (ahead[:, None] & ~ahead[None, :]).flatten(0, 1)
        tan_cut = tan_half.repeat_interleave(points.shape[-1], 1).index_select(1, cut)
        bounds[:, cut] = _octagon(torch.cat([part, cross], 1), torch.cat([ahead, crossing]), tan_cut, height, width)
    empty = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], device=points.device)[:, None]
    return torch.where(front.any(0), bounds, empty).long().view(8, *points.shape[2:])


def _octagon(cam: Tensor, keep: Tensor, tan_half: Tensor, height: int, width: int) -> Tensor:
    """Octagons ``(8, S)`` around the projections of the kept points of ``S`` sets of camera-space points
    ``(3, M, S)`` (with depth at least :data:`NEAR`)."""
    depth = (-cam[2]).clamp(min=NEAR)
    col = (cam[0] / depth / tan_half[0] + 1) * (width / 2) - 0.5
    row = (1 - cam[1] / depth / tan_half[1]) * (height / 2) - 0.5
    margin = 1e-3
    bounds = []
    for v in (row, col, col + row, col - row):
        bounds += [torch.ceil(v.where(keep, torch.inf).amin(0) - margin),
                   torch.floor(v.where(keep, -torch.inf).amax(0) + margin)]
    return torch.stack(bounds)


def candidates(bounds: Tensor, active: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """The (solid, pixel) pairs inside the octagons ``(8, n, K)`` of the ``active`` ``(n, K)`` solids.

    Returns two ``(N,)`` long tensors: the solid as ``scene·K + k`` and the pixel as ``scene·H·W + row·W + col``.
    The octagons are expanded into their rows (each a span of columns), then the rows into their pixels, by
    repeating values (no division per pixel). Listing them needs the counts on the host (a synchronisation).
    """
    n, k = active.shape
    r0, r1, c0, c1, s0, s1, d0, d1 = bounds.clamp(min=-2 * (height + width)).reshape(8, n * k)
    r0, r1 = r0.clamp(min=0), r1.clamp(max=height - 1)
    rows = (r1 - r0 + 1).clamp(min=0) * active.flatten()
    # One entry per (solid, row), with the columns of the octagon on that row ...
    owner = torch.repeat_interleave(torch.arange(n * k, device=bounds.device), rows)
    first = torch.cumsum(rows, 0) - rows
    row = torch.arange(owner.numel(), device=bounds.device) + (r0 - first).index_select(0, owner)
    lo = torch.maximum(c0.index_select(0, owner), torch.maximum(s0.index_select(0, owner) - row,
                                                                 d0.index_select(0, owner) + row)).clamp(min=0)
    hi = torch.minimum(c1.index_select(0, owner), torch.minimum(s1.index_select(0, owner) - row,
                                                                 d1.index_select(0, owner) + row)).clamp(max=width - 1)
    length = (hi - lo + 1).clamp(min=0)
    row_start = owner.div(k, rounding_mode="floor") * (height * width) + row * width + lo
    # ... then one per (solid, row, column).
    start = torch.cumsum(length, 0) - length
    pixel = torch.arange(int(length.sum()), device=bounds.device) + torch.repeat_interleave(row_start - start, length)
    return torch.repeat_interleave(owner, length), pixel
