"""Random room layouts for SynthScenes: room, camera, lamp, furniture, wall openings and materials.

Everything about a scene except its pixels is drawn here, for ``n`` scenes at once, from one seeded CPU
generator (so a seed gives the same scenes on every device). Lengths are in metres, world ``y`` points up and
the floor is at ``y = 0``.

* Room: a box ``[-a, a] × [0, h] × [-b, b]`` with ``a, b ∈ [1.6, 3.2]`` and ``h ∈ [2.5, 3]``.
* Camera: at eye height 1–1.7 m, 0.4 m or more from the walls, turned towards the middle of the room (± 40°),
  pitched between 26° down and 3° up, rolled by a degree or two; 55–70° field of view across the longer side.
* Lamp: a point light 0.2–0.5 m below the ceiling, above every object, plus an ambient term.
* Solids (:data:`SOLID_KINDS`): up to 3 spheres, 3 upright cylinders and 3 boxes turned about the vertical,
  and a table (a top and 4 legs: 5 boxes). Most are placed in front of the camera, pushed apart (as discs on the
  floor) from each other, the table and the camera, and kept inside the room; some boxes stand square against a
  wall; small spheres and cylinders may stand on the table.
* Wall openings (:data:`DECAL_CLASSES`): a door, a window and two paintings, each present or not, each on
  its own wall, flat on it.
* Materials, one per surface (:data:`SURFACE_CLASSES`): two colours, a pattern (plain, stripes, checks or
  marble), its scale and phase, and a gloss. **Every surface draws them from the same distribution, whatever its
  class**, so the colour of a pixel says nothing about its class; only shape, position and shading do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from .raycast import BOX, CYLINDER, SPHERE, to_local

CLASS_NAMES = ("floor", "wall", "ceiling", "door", "window", "painting", "table", "box", "sphere", "cylinder")
NUM_CLASSES = len(CLASS_NAMES)
FLOOR, WALL, CEILING, DOOR, WINDOW, PAINTING, TABLE, BOX_CLASS, SPHERE_CLASS, CYLINDER_CLASS = range(NUM_CLASSES)

SOLID_KINDS = (SPHERE,) * 3 + (CYLINDER,) * 3 + (BOX,) * 3 + (BOX,) * 5
SOLID_CLASSES = (SPHERE_CLASS,) * 3 + (CYLINDER_CLASS,) * 3 + (BOX_CLASS,) * 3 + (TABLE,) * 5
TABLE_TOP = 9  # solid index of the table top; its 4 legs follow
DECAL_CLASSES = (DOOR, WINDOW, PAINTING, PAINTING)
#: One material per surface: floor, ceiling, walls, then the decals, then the solids.
SURFACE_CLASSES = (FLOOR, CEILING, WALL) + DECAL_CLASSES + SOLID_CLASSES
FIRST_DECAL = 3
FIRST_SOLID = FIRST_DECAL + len(DECAL_CLASSES)

# Columns of a material row: colour (3), second colour (3), pattern as one-hot stripes / checks / marble (all 0 for
# plain), frequency (cycles per metre), axis (0: first pattern coordinate, 1: second), phase (3), warp frequency,
# warp, gloss (weight of the highlight), shininess.
COLOR, SECOND, PATTERN, FREQ, AXIS, PHASE, WARP_FREQ, WARP, GLOSS, SHININESS = 0, 3, 6, 9, 10, 11, 14, 15, 16, 17


@dataclass(frozen=True)
class SceneLayout:
    """The contents of ``n`` scenes; every field has the scenes along its first dimension."""

    room: Tensor  # (n, 3): half width a, height h, half depth b
    eye: Tensor  # (n, 3)
    basis: Tensor  # (n, 3, 3): camera-to-world rotation, columns right, up, back
    tan_half_fov: Tensor  # (n,): tangent of half the field of view across the longer image side
    light: Tensor  # (n, 3)
    light_color: Tensor  # (n, 3)
    ambient: Tensor  # (n,)
    solids: Tensor  # (n, K, 8), see mtl_ref.data.raycast
    solid_active: Tensor  # (n, K) bool
    decals: Tensor  # (n, D, 6): wall (0: x = -a, 1: x = +a, 2: z = -b, 3: z = +b), centre along it, half width,
    #                   bottom, top, frame width
    decal_active: Tensor  # (n, D) bool
    materials: Tensor  # (n, S, 18)
    noise_seed: Tensor  # (n,) long

    def __len__(self) -> int:
        return self.room.shape[0]

    def slice(self, start: int, stop: int) -> SceneLayout:
        return SceneLayout(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})

    def to(self, device: torch.device | str) -> SceneLayout:
        return SceneLayout(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


class _Draw:
    """Uniform and Bernoulli draws from one generator."""

    def __init__(self, generator: torch.Generator) -> None:
        self.g = generator

    def uniform(self, lo: float | Tensor, hi: float | Tensor, *shape: int) -> Tensor:
        return lo + (hi - lo) * torch.rand(shape, generator=self.g)

    def coin(self, p: float, *shape: int) -> Tensor:
        return torch.rand(shape, generator=self.g) < p


def hsv_to_rgb(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """HSV in [0, 1] to RGB ``(..., 3)``."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h[..., None] * 6) % 6
    return v[..., None] - (v * s)[..., None] * torch.minimum(torch.minimum(k, 4 - k), torch.ones(())).clamp(min=0)


def sample_materials(draw: _Draw, n: int, s: int) -> Tensor:
    """``(n, s, 18)`` materials, all from one distribution (so independent of the class of the surface)."""
    hue = draw.uniform(0, 1, n, s)
    sat = draw.uniform(0.1, 0.75, n, s)
    val = draw.uniform(0.3, 0.95, n, s)
    first = hsv_to_rgb(hue, sat, val)
    # The second colour is a darker shade of the first, or an unrelated colour.
    related = draw.coin(0.6, n, s)
    hue2 = torch.where(related, hue + draw.uniform(-0.05, 0.05, n, s), draw.uniform(0, 1, n, s)) % 1
    val2 = torch.where(related, val * draw.uniform(0.4, 0.8, n, s), draw.uniform(0.3, 0.95, n, s))
    second = hsv_to_rgb(hue2, draw.uniform(0.1, 0.75, n, s), val2)
    pattern = torch.multinomial(torch.tensor([0.3, 0.25, 0.2, 0.25]), n * s, replacement=True, generator=draw.g)
    one_hot = torch.nn.functional.one_hot(pattern.reshape(n, s), 4)[..., 1:].float()  # plain is all zeros
    freq = draw.uniform(1.5, 5.0, n, s)
    axis = draw.coin(0.5, n, s).float()
    phase = draw.uniform(0, 1, n, s, 3)
    warp_freq = draw.uniform(0.3, 1.5, n, s)
    warp = draw.uniform(0.3, 1.5, n, s)
    glossy = draw.coin(0.4, n, s)
    gloss = torch.where(glossy, draw.uniform(0.15, 0.6, n, s), 0.0)
    shininess = draw.uniform(8, 64, n, s)
    return torch.cat([first, second, one_hot, freq[..., None], axis[..., None], phase,
                      warp_freq[..., None], warp[..., None], gloss[..., None], shininess[..., None]], dim=-1)


def camera_basis(yaw: Tensor, pitch: Tensor, roll: Tensor) -> Tensor:
    """``(n, 3, 3)`` camera-to-world rotations (columns right, up, back); yaw 0 looks along world ``-z``."""
    forward = torch.stack((pitch.cos() * yaw.sin(), pitch.sin(), -pitch.cos() * yaw.cos()), dim=-1)
    right0 = torch.stack((yaw.cos(), torch.zeros_like(yaw), yaw.sin()), dim=-1)
    up0 = torch.linalg.cross(right0, forward)
    c, s = roll.cos()[:, None], roll.sin()[:, None]
    right, up = c * right0 + s * up0, c * up0 - s * right0
    return torch.stack((right, up, -forward), dim=-1)


def _wall_distance(origin: Tensor, direction: Tensor, half: Tensor) -> Tensor:
    """Distance from points ``(n, m, 2)`` inside the rectangle ``|xz| ≤ half`` ``(n, 1, 2)`` to its border."""
    t = torch.where(direction > 0, (half - origin) / direction, (-half - origin) / direction.clamp(max=-1e-9))
    return torch.where(direction == 0, math.inf, t).amin(-1)


def _separate(pos: Tensor, radius: Tensor, movable: Tensor, eye: Tensor, half: Tensor, steps: int = 20) -> Tensor:
    """Push discs ``(n, m)`` at ``pos`` ``(n, m, 2)`` apart, away from the camera, and inside the room (a few
    relaxation steps)."""
    gap, eye_clearance = 0.08, 0.9
    pair = (movable[:, :, None] & movable[:, None, :] & ~torch.eye(pos.shape[1], dtype=torch.bool)).float()
    reach = radius[:, :, None] + radius[:, None, :] + gap
    move = movable.float()
    x, z = pos.unbind(-1)
    ex, ez = eye[:, :1], eye[:, 1:]
    limit_x = (half[:, :1] - radius - 0.01).clamp(min=0)
    limit_z = (half[:, 1:] - radius - 0.01).clamp(min=0)
    for _ in range(steps):
        dx, dz = x[:, :, None] - x[:, None, :], z[:, :, None] - z[:, None, :]
        dist = (dx * dx + dz * dz).sqrt().clamp(min=1e-6)
        push = (reach - dist).clamp(min=0) * pair / dist
        x = x + 0.5 * (push * dx).sum(2) * move
        z = z + 0.5 * (push * dz).sum(2) * move
        ax, az = x - ex, z - ez
        dist = (ax * ax + az * az).sqrt().clamp(min=1e-6)
        push = (radius + eye_clearance - dist).clamp(min=0) / dist * move
        x = torch.maximum(torch.minimum(x + push * ax, limit_x), -limit_x)
        z = torch.maximum(torch.minimum(z + push * az, limit_z), -limit_z)
    return torch.stack((x, z), -1)


def sample_layout(n: int, seed: int) -> SceneLayout:
    """``n`` random scenes, a function of ``seed`` only."""
    draw = _Draw(torch.Generator().manual_seed(seed))
    a, h, b = draw.uniform(1.6, 3.2, n), draw.uniform(2.5, 3.0, n), draw.uniform(1.6, 3.2, n)
    half = torch.stack((a, b), dim=-1)  # (n, 2) in (x, z)

    # Camera: somewhere in the room, looking roughly towards its middle.
    eye_xz = draw.uniform(-1, 1, n, 2) * (half - 0.4)
    eye = torch.stack((eye_xz[:, 0], draw.uniform(1.0, 1.7, n), eye_xz[:, 1]), dim=-1)
    yaw = torch.atan2(-eye_xz[:, 0], eye_xz[:, 1]) + draw.uniform(-0.7, 0.7, n)
    pitch, roll = draw.uniform(-0.45, 0.05, n), 0.03 * torch.randn(n, generator=draw.g).clamp(-2, 2)
    fov = torch.deg2rad(draw.uniform(55, 70, n))
    basis = camera_basis(yaw, pitch, roll)

    light = torch.stack((draw.uniform(-0.6, 0.6, n) * a, h - draw.uniform(0.2, 0.5, n), draw.uniform(-0.6, 0.6, n) * b), -1)
    light_color = torch.stack((torch.ones(n), draw.uniform(0.85, 1.0, n), draw.uniform(0.7, 1.0, n)), -1)
    light_color = light_color * draw.uniform(3.5, 7.0, n)[:, None]
    ambient = draw.uniform(0.25, 0.45, n)

    # Sizes. Sphere radius; cylinder radius and half-height; box half-extents; table top half-extents and height.
    sphere_r = draw.uniform(0.12, 0.45, n, 3)
    cyl_r, cyl_h = draw.uniform(0.1, 0.35, n, 3), draw.uniform(0.15, 0.8, n, 3)
    box_half = torch.stack((draw.uniform(0.15, 0.6, n, 3), draw.uniform(0.15, 0.9, n, 3), draw.uniform(0.15, 0.45, n, 3)), -1)
    table_half = torch.stack((draw.uniform(0.4, 0.8, n), draw.uniform(0.3, 0.5, n)), -1)
    table_y = draw.uniform(0.65, 0.8, n)
    angle = draw.uniform(0, math.pi, n, 4)  # 3 boxes, table

    active = torch.cat([draw.coin(0.55, n, 3), draw.coin(0.45, n, 3), draw.coin(0.6, n, 3), draw.coin(0.45, n, 1)], 1)
    # Small spheres and cylinders may stand on the table.
    small = torch.cat([sphere_r <= 0.25, (cyl_r <= 0.2) & (cyl_h <= 0.35)], 1)
    on_table = small & active[:, 9:10] & draw.coin(0.5, n, 6)
    footprint = torch.cat([sphere_r, cyl_r, box_half[..., 0::2].norm(dim=-1), table_half.norm(dim=-1, keepdim=True)], 1)

    # Positions: mostly in the camera's view, at most as far as the wall behind them; some anywhere.
    m = footprint.shape[1]
    heading = yaw[:, None] + draw.uniform(-0.6, 0.6, n, m) * fov[:, None]
    direction = torch.stack((heading.sin(), -heading.cos()), -1)
    reach = _wall_distance(eye_xz[:, None], direction, half[:, None])
    dist = 1.2 + footprint + draw.uniform(0, 1, n, m) * (reach - 1.2 - 2 * footprint).clamp(min=0)
    pos = eye_xz[:, None] + dist[..., None] * direction
    anywhere = draw.uniform(-1, 1, n, m, 2) * half[:, None]
    pos = torch.where(draw.coin(0.2, n, m)[..., None], anywhere, pos)
    floor_pos = _separate(pos, footprint, active & ~torch.cat([on_table, torch.zeros(n, 4, dtype=torch.bool)], 1),
                          eye_xz, half)

    # Some boxes stand square against the nearest wall, unless that would put the camera inside them.
    box_pos, cos, sin = floor_pos[:, 6:9], angle[:, :3].cos(), angle[:, :3].sin()
    gap = half[:, None] - box_pos.abs()
    to_x_wall = gap[..., 0] < gap[..., 1]
    against = torch.where(to_x_wall[..., None],
                          torch.stack((box_pos[..., 0].sign() * (a[:, None] - box_half[..., 0] - 0.005), box_pos[..., 1]), -1),
                          torch.stack((box_pos[..., 0], box_pos[..., 1].sign() * (b[:, None] - box_half[..., 2] - 0.005)), -1))
    clear = ((against - eye_xz[:, None]).abs() > box_half[..., 0::2] + 0.5).any(-1)
    snap = draw.coin(0.4, n, 3) & clear
    box_pos = torch.where(snap[..., None], against, box_pos)
    cos, sin = torch.where(snap, 1.0, cos), torch.where(snap, 0.0, sin)

    # Table: a top 5 cm thick and four legs set in 7 cm from its corners.
    t_cos, t_sin, t_pos = angle[:, 3].cos(), angle[:, 3].sin(), floor_pos[:, 9]
    top = torch.stack((t_pos[:, 0], table_y - 0.025, t_pos[:, 1], table_half[:, 0], torch.full((n,), 0.025),
                       table_half[:, 1], t_cos, t_sin), -1)
    leg_x = torch.tensor([-1.0, 1.0, -1.0, 1.0]) * (table_half[:, :1] - 0.07)
    leg_z = torch.tensor([-1.0, -1.0, 1.0, 1.0]) * (table_half[:, 1:] - 0.07)
    leg_cx = t_pos[:, :1] + t_cos[:, None] * leg_x - t_sin[:, None] * leg_z
    leg_cz = t_pos[:, 1:] + t_sin[:, None] * leg_x + t_cos[:, None] * leg_z
    leg_h = (table_y[:, None] - 0.05) / 2
    legs = torch.stack((leg_cx, leg_h.expand(n, 4), leg_cz, torch.full((n, 4), 0.03), leg_h.expand(n, 4),
                        torch.full((n, 4), 0.03), t_cos[:, None].expand(n, 4), t_sin[:, None].expand(n, 4)), -1)

    # Objects on the table: a point of its top, far enough from the edge.
    spot = draw.uniform(-1, 1, n, 6, 2) * (table_half[:, None] - footprint[:, :6, None] - 0.03).clamp(min=0)
    spot_x = t_pos[:, None, 0] + t_cos[:, None] * spot[..., 0] - t_sin[:, None] * spot[..., 1]
    spot_z = t_pos[:, None, 1] + t_sin[:, None] * spot[..., 0] + t_cos[:, None] * spot[..., 1]
    round_pos = torch.where(on_table[..., None], torch.stack((spot_x, spot_z), -1), floor_pos[:, :6])
    base = torch.where(on_table, table_y[:, None], 0.0)

    ones3 = torch.ones(n, 3)
    spheres = torch.stack((round_pos[:, :3, 0], base[:, :3] + sphere_r, round_pos[:, :3, 1], sphere_r, sphere_r,
                           sphere_r, ones3, 0 * ones3), -1)
    cylinders = torch.stack((round_pos[:, 3:, 0], base[:, 3:] + cyl_h, round_pos[:, 3:, 1], cyl_r, cyl_h, cyl_r,
                             ones3, 0 * ones3), -1)
    boxes = torch.stack((box_pos[..., 0], box_half[..., 1], box_pos[..., 1], box_half[..., 0], box_half[..., 1],
                         box_half[..., 2], cos, sin), -1)
    solids = torch.cat([spheres, cylinders, boxes, top[:, None], legs], 1)
    solid_active = torch.cat([active[:, :9], active[:, 9:].expand(n, 5)], 1)
    # Rarely, the room is too small to keep everything away from the camera: drop what comes within 10 cm of it
    # (the whole table if any of its parts does, with what stands on it).
    close = solid_active & (clearance(eye, solids) < 0.1)
    table_close = close[:, TABLE_TOP:].any(1, keepdim=True)
    close = close | torch.cat([on_table & table_close, torch.zeros(n, 3, dtype=torch.bool), table_close.expand(n, 5)], 1)
    solid_active = solid_active & ~close

    decals, decal_active = _sample_decals(draw, a, h, b)
    materials = sample_materials(draw, n, len(SURFACE_CLASSES))
    leg_rows = FIRST_SOLID + TABLE_TOP + torch.arange(1, 5)
    materials[:, leg_rows] = materials[:, FIRST_SOLID + TABLE_TOP, None].clone()
    noise_seed = torch.randint(0, 2**31 - 1, (n,), generator=draw.g)
    return SceneLayout(torch.stack((a, h, b), -1), eye, basis, fov.div(2).tan(), light, light_color, ambient,
                       solids, solid_active, decals, decal_active, materials, noise_seed)


def clearance(points: Tensor, solids: Tensor) -> Tensor:
    """``(n, K)``: how far points ``(n, 3)`` are outside each solid ``(n, K, 8)`` (negative inside), in metres; for
    boxes and cylinders the largest distance to one of their bounding planes or surfaces (at most the distance)."""
    p = solids.permute(2, 0, 1)
    q = to_local(points.T[:, :, None], p)
    size = p[3:6]
    gaps = []
    for k, kind in enumerate(SOLID_KINDS):
        qk, sk = q[:, :, k], size[:, :, k]
        if kind == SPHERE:
            gaps.append(qk.norm(dim=0) - sk[0])
        elif kind == BOX:
            gaps.append((qk.abs() - sk).amax(0))
        else:
            gaps.append(torch.maximum(qk[0::2].norm(dim=0) - sk[0], qk[1].abs() - sk[1]))
    return torch.stack(gaps, 1)


def _sample_decals(draw: _Draw, a: Tensor, h: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """A door, a window and two paintings, each on its own wall; ``(n, 4, 6)`` rows and ``(n, 4)`` presence."""
    n = a.shape[0]
    wall = torch.rand(n, 4, generator=draw.g).argsort(-1).float()
    length = torch.where(wall < 2, b[:, None], a[:, None])  # half length of the wall along which the decal runs
    half_width = torch.stack((draw.uniform(0.4, 0.55, n), draw.uniform(0.5, 1.0, n),
                              draw.uniform(0.25, 0.7, n), draw.uniform(0.25, 0.7, n)), -1)
    bottom = torch.stack((torch.zeros(n), draw.uniform(0.8, 1.1, n), draw.uniform(1.1, 1.5, n), draw.uniform(1.1, 1.5, n)), -1)
    tall = torch.stack((draw.uniform(1.95, 2.15, n), draw.uniform(1.0, 1.4, n), draw.uniform(0.4, 0.9, n),
                        draw.uniform(0.4, 0.9, n)), -1)
    top = torch.minimum(bottom + tall, h[:, None] - 0.2)
    frame = torch.stack((draw.uniform(0.04, 0.08, n), draw.uniform(0.04, 0.08, n), draw.uniform(0.02, 0.05, n),
                         draw.uniform(0.02, 0.05, n)), -1)
    centre = draw.uniform(-1, 1, n, 4) * (length - half_width - 0.1).clamp(min=0)
    active = torch.stack((draw.coin(0.7, n), draw.coin(0.8, n), draw.coin(0.8, n), draw.coin(0.7, n)), -1)
    return torch.stack((wall, centre, half_width, bottom, top, frame), -1), active
