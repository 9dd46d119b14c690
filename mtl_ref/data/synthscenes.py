"""SynthScenes: NYUv2's three dense tasks (semantic segmentation, depth, surface normals) on rendered rooms.

The MTAN experiments (Liu, Johns & Davison, CVPR 2019) train on NYUv2: indoor photographs with 13-class labels,
Kinect depth and normals. SynthScenes gives the same three tasks without a download. Each image is a random
room (:mod:`mtl_ref.data.scene_layout`: walls, floor, ceiling, a door, a window, paintings, a table, boxes,
spheres and cylinders, lit by a lamp) rendered by analytic ray casting (:mod:`mtl_ref.data.raycast`), one ray
per pixel, vectorised over a batch of scenes with no Python loop over pixels or scenes.

Per image:

* ``x``: RGB ``(3, H, W)`` in [0, 1]. Lambertian shading from the lamp (falling off with the squared distance)
  plus an ambient term, hard shadows, Blinn-Phong highlights on glossy surfaces, procedural patterns (stripes,
  checks, marble) and window panes that glow. Material colours are display values, squared into linear light
  for shading; the result is shown with a gamma of 2 (a square root) plus a little sensor noise.
* ``segmentation``: ``(H, W)`` long, a class of :data:`CLASS_NAMES`, or ``-1`` (void) on a one-pixel seam along
  every boundary between two classes, where annotators of real data leave pixels unlabelled.
* ``depth``: ``(1, H, W)`` metres along the camera's optical axis (z-depth, as a Kinect measures it), ``0`` where
  invalid.
* ``normal``: ``(3, H, W)`` unit vectors in camera coordinates (``x`` right, ``y`` up, ``z`` towards the
  viewer, so a surface seen head-on has ``(0, 0, 1)``), facing the camera; ``(0, 0, 0)`` where invalid.

Depth and normals are invalid (all zero, as in MTAN's preprocessed NYUv2) where a Kinect-like sensor fails:
on window glass, on specular highlights, nearer than 0.4 m or farther than 6 m, at grazing angles (cosine
between the ray and the normal below 0.1), and in the projector's shadow: background pixels next to a depth
edge that the IR projector, 7.5 cm beside the camera, cannot see. Normals are valid where depth is (NYUv2's
normals are computed from depth). About 3% of the pixels are invalid, and 7% are void at 64×64.

Class and colour are independent: every surface draws its colours and pattern from one distribution
(:func:`~mtl_ref.data.scene_layout.sample_materials`), so a classifier of single pixels' colours does no better
than always answering the most frequent class; only window glass stands out, by glowing.

``synthscenes(n, height, width, seed)`` is a function of its arguments: the layouts come from one seeded CPU
generator and rendering is deterministic, whatever the batch size; the same code renders on a GPU
(``device="cuda"``). Nothing is cached on disk: on a 2-core CPU rendering runs at about 1,000 64×64 images per
second, so a chapter's data set takes seconds, while a cache would take 144 KiB per 64×64 image
(``benchmarks/results/synthscenes.md``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .raycast import (BOX, CYLINDER, PARAMS, SPHERE, candidates, corners, crosses, entry, interval, local_normal,
                      screen_bounds, step, to_local, turn)
from .scene_layout import (AXIS, CLASS_NAMES, COLOR, DECAL_CLASSES, DOOR, FIRST_DECAL, FIRST_SOLID, FREQ, GLOSS,
                           NUM_CLASSES, PATTERN, PHASE, SECOND, SHININESS, SOLID_KINDS, SURFACE_CLASSES, WARP,
                           WARP_FREQ, WINDOW, SceneLayout, sample_layout)
from .tensors import MultiTaskData

__all__ = ["synthscenes", "render", "CLASS_NAMES", "NUM_CLASSES", "TASKS"]

TASKS = ("segmentation", "depth", "normal")
MIN_RANGE, MAX_RANGE = 0.4, 6.0  # metres: the sensor sees nothing nearer or farther
BASELINE = 0.075  # metres between the IR projector and the depth camera
GRAZING = 0.1  # cos between view ray and normal below which depth drops out
HIGHLIGHT = 0.35  # specular radiance above which depth drops out
NOISE = 0.012  # standard deviation of the sensor noise on RGB
_NOISE_TILE = (97, 101)  # a fixed tile of noise, offset per image (coprime sides: no visible repeats)


def synthscenes(n: int, height: int = 64, width: int = 64, seed: int = 0, device: torch.device | str = "cpu",
                batch: int | None = None) -> MultiTaskData:
    """``n`` rendered scenes as a :class:`MultiTaskData` with tasks ``segmentation``, ``depth`` and ``normal``.

    Args:
        n, height, width: number and size of the images (any size; the field of view spans the longer side).
        seed: fixes the scenes; use different seeds for training and test sets.
        device: where to render and keep the data.
        batch: scenes rendered at once; by default about 2^18 pixels on a CPU and 2^22 on a GPU.
    """
    if n < 1 or height < 2 or width < 2:
        raise ValueError(f"need n ≥ 1 and images of at least 2×2 pixels, got n={n}, {height}×{width}")
    device = torch.device(device)
    layout = sample_layout(n, seed)
    if batch is None:
        budget = 2**22 if device.type == "cuda" else 2**18
        batch = max(1, budget // (height * width))
    parts = [render(layout.slice(i, i + batch).to(device), height, width) for i in range(0, n, batch)]
    x, seg, depth, normal = (torch.cat(p) for p in zip(*parts))
    return MultiTaskData(x, {"segmentation": seg, "depth": depth, "normal": normal})


def render(layout: SceneLayout, height: int, width: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Render scenes on the layout's device: RGB ``(n, 3, H, W)``, labels ``(n, H, W)``, depth, normals.

    Per-pixel quantities are ``(n, P)`` tensors (``P = H·W``) and vectors ``(3, n, P)``; masks are floats in
    {0, 1} combined by arithmetic (much faster than boolean indexing on a CPU).
    """
    n, p = len(layout), height * width
    dev = layout.eye.device
    tan = layout.tan_half_fov[None] * torch.tensor([[width], [height]], device=dev) / max(height, width)  # (2, n)
    eye = layout.eye.T.contiguous()
    d = _rays(layout.basis, tan, height, width)
    solids = layout.solids.permute(2, 0, 1).contiguous()  # (8, n, K)

    t_room, normal, local, slot, wall, along = _room(layout, d)
    best, hits = _nearest_solids(layout, solids, d, t_room, tan, height, width)
    t = (best & -16).view(torch.float32).view(n, p)
    x = eye[:, :, None] + t * d
    _solid_surfaces(hits, best, solids, x, normal, local, slot)
    frame, glass = _decals(layout, tan, height, width, x, best & 15, wall, along, local, slot)

    count = layout.materials.shape[1]
    index = (torch.arange(n, device=dev)[:, None] * count + slot.long()).flatten()
    material = layout.materials.permute(2, 0, 1).reshape(-1, n * count).index_select(1, index).view(-1, n, p)
    albedo = torch.lerp(_pattern(material, local), material[SECOND:SECOND + 3], frame).square_()  # to linear

    # Shading: ambient + lamp (inverse-square, hard shadows) + highlights; window panes glow.
    to_light = layout.light.T[:, :, None] - x
    inv_dist2 = 1 / (to_light * to_light).sum(0)
    light_dir = to_light * inv_dist2.sqrt()
    cos = (normal * light_dir).sum(0).clamp(min=0)
    lit = _unshadowed(layout, solids, x, best & 15, cos > 0, tan, height, width)
    irradiance = layout.light_color.T[:, :, None] * (cos * lit * inv_dist2)
    view = d * -(d * d).sum(0).rsqrt()
    halfway = light_dir + view
    halfway = halfway * (halfway * halfway).sum(0).rsqrt()
    specular = material[GLOSS] * _schlick((normal * halfway).sum(0).clamp(0, 1), material[SHININESS]) * step(cos)
    radiance = (irradiance + layout.ambient[:, None]).mul_(albedo).add_(irradiance * specular)
    radiance = torch.lerp(radiance, (0.6 + 0.4 * material[COLOR:COLOR + 3]).square(), glass)
    rgb = radiance.clamp_(0, 1).sqrt_().add_(_noise(layout.noise_seed, height, width)).clamp_(0, 1)

    # Targets. Depth and normals drop out on glass, highlights, out of range, at grazing angles and in the
    # projector's shadow.
    classes = torch.tensor(SURFACE_CLASSES, device=dev)
    label = _void_seams(classes.index_select(0, slot.long().flatten()).view(n, height, width))
    highlight = step(specular * irradiance.amax(0) - HIGHLIGHT)
    valid = ((1 - glass) * (1 - highlight) * step(t - MIN_RANGE) * step(MAX_RANGE - t)
             * step((normal * view).sum(0) - GRAZING)).view(n, height, width)
    valid = valid * (1 - _projector_shadow(t.view(n, height, width), tan[0], width))
    depth = t.view(n, height, width) * valid
    normal_cam = torch.bmm(layout.basis.transpose(1, 2), normal.transpose(0, 1)).view(n, 3, height, width)
    rgb = rgb.view(3, n, height, width).transpose(0, 1).contiguous()
    return rgb, label, depth[:, None], normal_cam * valid[:, None]


def _rays(basis: Tensor, tan: Tensor, height: int, width: int) -> Tensor:
    """World ray directions ``(3, n, H·W)`` through pixel centres, of unit length along the optical axis."""
    dev = basis.device
    u = (torch.arange(width, device=dev) + 0.5) / width * 2 - 1
    v = 1 - (torch.arange(height, device=dev) + 0.5) / height * 2
    cx = (tan[0, :, None, None] * u).expand(-1, height, width).reshape(1, len(basis), -1)
    cy = (tan[1, :, None, None] * v[:, None]).expand(-1, height, width).reshape(1, len(basis), -1)
    right, up, back = basis.permute(2, 1, 0)[..., None]  # columns of the rotation, (3, n, 1) each
    return (right * cx + up * cy - back).contiguous()


def _room(layout: SceneLayout, d: Tensor) -> tuple[Tensor, ...]:
    """Where rays ``(3, n, P)`` leave the room: distance, inward normal, pattern coordinates, surface slot (floor
    0, ceiling 1, walls 2), wall (0: x = -a, 1: x = +a, 2: z = -b, 3: z = +b; -1 off the walls) and the position
    along the wall.
    """
    a, h, b = layout.room.T[:, :, None]
    lo = torch.stack((-a, torch.zeros_like(h), -b))
    hi = torch.stack((a, h, b))
    o = layout.eye.T[:, :, None]
    ahead = step(d).mul_(hi - lo).add_(lo - o).div_(d).abs_()  # abs: a ray along a plane gives +inf, not -inf
    t = ahead.amin(0)
    on_x = step(torch.minimum(ahead[1], ahead[2]) - ahead[0])
    on_y = (1 - on_x) * step(ahead[2] - ahead[1])
    on_z = 1 - on_x - on_y
    x = o + t * d
    normal = torch.stack((on_x, on_y, on_z)).mul_(d.sign()).neg_()
    along = on_x * x[2] + on_z * x[0]
    local = torch.stack((torch.lerp(along, x[0], on_y), torch.lerp(x[1], x[2], on_y), torch.zeros_like(t)))
    slot = on_y * step(d[1]) + (1 - on_y) * 2
    wall = on_x * step(d[0]) + on_z * (2 + step(d[2])) - on_y
    return t, normal, local, slot, wall, along


def _nearest_solids(layout: SceneLayout, solids: Tensor, d: Tensor, t_room: Tensor, tan: Tensor, height: int,
                    width: int) -> tuple[Tensor, list[tuple[int, Tensor, Tensor, Tensor]]]:
    """The nearest surface of every pixel, as int32 keys: the bits of the distance with the solid's index + 1 (0
    for the room) in the low 4 bits, so that one scatter-min over all (solid, pixel) pairs finds both.

    Also returns, per kind of solid, the pairs that were intersected: solid (``scene·K + k``), pixel and key.
    """
    n, k = layout.solid_active.shape
    eye_local = to_local(layout.eye.T[:, :, None], solids)  # (3, n, K): the camera in each solid's frame
    table = torch.cat([eye_local, solids[3:8]]).view(-1, n * k)
    bounds = screen_bounds(corners(solids), layout.eye.T, layout.basis, tan, height, width)
    best = _key(t_room.flatten(), torch.zeros(t_room.numel(), dtype=torch.int32, device=d.device))
    flat_d = d.view(3, -1)
    hits = []
    for kind, mask in _kinds(d.device):
        owner, pixel = candidates(bounds, layout.solid_active & mask, height, width)
        o, size, cos, sin = table.index_select(1, owner).split([3, 3, 1, 1])
        ray = flat_d.index_select(1, pixel)
        dx, dz = turn(ray[0], ray[2], cos[0], -sin[0])
        t = entry(*interval(kind, o, torch.stack((dx, ray[1], dz)), size))
        key = _key(t, (owner % k).int() + 1)
        best.scatter_reduce_(0, pixel, key, "amin")
        hits.append((kind, owner, pixel, key))
    return best, hits


def _solid_surfaces(hits: list[tuple[int, Tensor, Tensor, Tensor]], best: Tensor, solids: Tensor, x: Tensor,
                    normal: Tensor, local: Tensor, slot: Tensor) -> None:
    """Write normal, pattern coordinates and slot of the pixels where a solid is nearest (in place)."""
    k = solids.shape[-1]
    flat_solids = solids.view(PARAMS, -1)
    x, normal, local, slot = x.view(3, -1), normal.view(3, -1), local.view(3, -1), slot.view(-1)
    for kind, owner, pixel, key in hits:
        won = (key == best.index_select(0, pixel)).nonzero().squeeze(1)
        owner, pixel = owner.index_select(0, won), pixel.index_select(0, won)
        p = flat_solids.index_select(1, owner)
        q = to_local(x.index_select(1, pixel), p)
        n_local = local_normal(kind, q, p[3:6])
        nx, nz = turn(n_local[0], n_local[2], p[6], p[7])
        n_world = torch.stack((nx, n_local[1], nz))
        normal.index_copy_(1, pixel, n_world * (n_world * n_world).sum(0).rsqrt())
        local.index_copy_(1, pixel, q)
        slot.index_copy_(0, pixel, (FIRST_SOLID + owner % k).float())


def _decals(layout: SceneLayout, tan: Tensor, height: int, width: int, x: Tensor, tag: Tensor, wall: Tensor,
            along: Tensor, local: Tensor, slot: Tensor) -> tuple[Tensor, Tensor]:
    """Door, window and paintings: flat rectangles on the walls. Writes slot and pattern coordinates of their
    pixels (in place) and returns where their frames are (drawn in the second colour) and where window glass is.

    Only the pixels in the screen bounds of the decals are looked at. A door has a frame on three sides and a
    knob; a window a frame, a cross of glazing bars and glass; a painting a frame.
    """
    n, num = layout.decal_active.shape
    wall_of, centre, half_width, bottom, top, border = layout.decals.permute(2, 0, 1)
    a, _, b = layout.room.T[:, :, None]
    # Corners: along the wall at centre ± half width, at bottom and top; across it in the wall's plane.
    u = centre[None] + half_width[None] * torch.tensor([-1.0, 1.0, -1.0, 1.0], device=x.device)[:, None, None]
    v = torch.stack((bottom, bottom, top, top))
    across = torch.where(wall_of % 2 == 0, -1.0, 1.0) * torch.where(wall_of < 2, a, b)
    x_wall = (wall_of < 2)[None]
    points = torch.stack((torch.where(x_wall, across, u), v.expand_as(u), torch.where(x_wall, u, across)))
    bounds = screen_bounds(points, layout.eye.T, layout.basis, tan, height, width)
    owner, pixel = candidates(bounds, layout.decal_active, height, width)
    wall_of, centre, half_width, bottom, top, border = layout.decals.view(n * num, -1).T.index_select(1, owner)
    s = along.view(-1).index_select(0, pixel) - centre
    y = x[1].view(-1).index_select(0, pixel) - bottom
    tall = top - bottom
    inside = ((tag.index_select(0, pixel) == 0) & (wall.view(-1).index_select(0, pixel) == wall_of)
              & (s.abs() <= half_width) & (y >= 0) & (y <= tall)).nonzero().squeeze(1)
    owner, pixel, s, y, tall, half_width, border = (v.index_select(0, inside)
                                                    for v in (owner, pixel, s, y, tall, half_width, border))
    which = owner % num
    kind = torch.tensor(DECAL_CLASSES, device=x.device).index_select(0, which)
    door, window = (kind == DOOR).float(), (kind == WINDOW).float()
    knob = door * step(0.035**2 - (s - (half_width - 0.12)) ** 2 - (y - 1.0) ** 2)
    bars = window * torch.maximum(step(border / 2 - s.abs()), step(border / 2 - (y - tall / 2).abs()))
    edge = torch.maximum(torch.maximum(step(s.abs() - half_width + border), step(y - tall + border)),
                         torch.maximum((1 - door) * step(border - y), torch.maximum(knob, bars)))
    slot.view(-1).index_copy_(0, pixel, (FIRST_DECAL + which).float())
    local.view(3, -1).index_copy_(1, pixel, torch.stack((s, y, torch.zeros_like(s))))
    frame = torch.zeros_like(slot).view(-1).index_copy_(0, pixel, edge)
    glass = torch.zeros_like(slot).view(-1).index_copy_(0, pixel, window * (1 - edge))
    return frame.view_as(slot), glass.view_as(slot)


def _kinds(device: torch.device) -> list[tuple[int, Tensor]]:
    """Each kind of solid with a ``(K,)`` mask of its slots."""
    kinds = torch.tensor(SOLID_KINDS, device=device)
    return [(k, kinds == k) for k in (SPHERE, CYLINDER, BOX)]


def _key(t: Tensor, tag: Tensor) -> Tensor:
    """An int32 that orders like ``t ≥ 0`` (to 2^-19 relative), with ``tag`` < 16 in its low bits."""
    return (t.float().contiguous().view(torch.int32) & -16) | tag


def _pattern(material: Tensor, q: Tensor) -> Tensor:
    """Albedo ``(3, n, P)`` of a material's pattern at pattern coordinates ``q`` (metres, in the surface's frame)."""
    freq, axis, phase = material[FREQ], material[AXIS], material[PHASE:PHASE + 3]
    f = q * freq
    main = torch.lerp(f[0], f[1], axis) + phase[0]
    other = torch.lerp(q[1], q[0], axis) + q[2]
    stripes = (0.5 + 4 * torch.sin(2 * math.pi * main)).clamp(0, 1)
    cells = (f + phase).floor_().sum(0)
    checks = cells - 2 * torch.floor(0.5 * cells)
    marble = 0.5 + 0.5 * torch.sin(2 * math.pi * main
                                   + material[WARP] * torch.sin(2 * math.pi * (material[WARP_FREQ] * other + phase[1])))
    mix = material[PATTERN] * stripes + material[PATTERN + 1] * checks + material[PATTERN + 2] * marble
    return torch.lerp(material[COLOR:COLOR + 3], material[SECOND:SECOND + 3], mix)


def _schlick(cos: Tensor, shininess: Tensor) -> Tensor:
    """Schlick's (1994) cheap stand-in for ``cos ** shininess``."""
    return cos / (shininess - shininess * cos + cos)


def _unshadowed(layout: SceneLayout, solids: Tensor, x: Tensor, tag: Tensor, facing: Tensor, tan: Tensor,
                height: int, width: int) -> Tensor:
    """1 where the lamp sees the surface points ``x`` ``(3, n, P)``, 0 where a solid is in the way.

    Only pixels inside the screen bounds of a solid's shadow volume are tested: with the lamp above every
    solid, the part of that volume above the floor lies in the hull of the solid's corners and their
    projections from the lamp onto the floor. Pixels that face away from the lamp (``facing`` false) need no
    test, and neither do the solid's own pixels (``tag``, as in the keys): a ray towards the lamp leaves a
    convex solid's lit side at once.
    """
    n, k = layout.solid_active.shape
    box = corners(solids)
    lamp = layout.light.T[:, None, :, None]
    on_floor = lamp + (box - lamp) * (lamp[1] / (lamp[1] - box[1]))
    bounds = screen_bounds(torch.cat([box, on_floor], 1), layout.eye.T, layout.basis, tan, height, width)
    lamp_local = to_local(layout.light.T[:, :, None], solids)  # (3, n, K)
    table = torch.cat([lamp_local, solids]).view(-1, n * k)
    own_tag = (torch.arange(n * k, device=x.device) % k + 1).int()
    lit = torch.ones(x.shape[1:], device=x.device).view(-1)
    flat_x, tag, facing = x.view(3, -1), tag.view(-1), facing.view(-1)
    for kind, mask in _kinds(x.device):
        owner, pixel = candidates(bounds, layout.solid_active & mask, height, width)
        keep = (facing.index_select(0, pixel) & (tag.index_select(0, pixel) != own_tag.index_select(0, owner)))
        keep = keep.nonzero().squeeze(1)
        owner, pixel = owner.index_select(0, keep), pixel.index_select(0, keep)
        rows = table.index_select(1, owner)
        start = to_local(flat_x.index_select(1, pixel), rows[3:])
        hit = crosses(*interval(kind, start, rows[:3] - start, rows[6:9]))
        lit.scatter_reduce_(0, pixel, 1 - hit, "amin")
    return lit.view(n, -1)


def _noise(seed: Tensor, height: int, width: int) -> Tensor:
    """Sensor noise ``(3, n, H·W)`` of standard deviation :data:`NOISE`: a fixed tile, offset by each image's seed."""
    dev = seed.device
    rows, cols = _NOISE_TILE
    tile = torch.rand(3, rows * cols, generator=torch.Generator().manual_seed(0)).to(dev)
    tile = (tile - 0.5) * (NOISE * math.sqrt(12))
    r = (torch.arange(height, device=dev) + seed[:, None]) % rows
    c = (torch.arange(width, device=dev) + seed[:, None] // rows) % cols
    return tile.index_select(1, (r[:, :, None] * cols + c[:, None, :]).flatten()).view(3, len(seed), -1)


def _void_seams(label: Tensor) -> Tensor:
    """Labels ``(n, H, W)`` with ``-1`` on pixels whose right or lower neighbour has another class."""
    seam = torch.zeros_like(label, dtype=torch.bool)
    seam[:, :, :-1] |= label[:, :, :-1] != label[:, :, 1:]
    seam[:, :-1, :] |= label[:, :-1, :] != label[:, 1:, :]
    return label.masked_fill(seam, -1)


def _projector_shadow(depth: Tensor, tan_x: Tensor, width: int) -> Tensor:
    """1 on pixels ``(n, H, W)`` that the IR projector, :data:`BASELINE` to the left of the camera, cannot light.

    A background pixel at column ``j`` is hidden behind a nearer pixel at column ``j - s`` when the disparity
    difference ``f·B·(1/z_near - 1/z_far)`` (in pixels) exceeds ``s``.
    """
    focal_baseline = (width / 2 / tan_x * BASELINE)[:, None, None]
    disparity = focal_baseline / depth.clamp(min=MIN_RANGE)
    reach = int((disparity.amax() - disparity.amin()).ceil().clamp(0, width - 1))
    excess = torch.full_like(depth, -1.0)
    for s in range(1, reach + 1):
        excess[..., s:] = torch.maximum(excess[..., s:], disparity[..., :-s] - disparity[..., s:] - s)
    return step(excess)
