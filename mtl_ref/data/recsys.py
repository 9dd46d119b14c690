"""A synthetic recommendation log with several objectives and position bias (after Zhao et al., RecSys 2019).

The world: users and items with latent preference vectors ``u, v ∈ R^r`` (iid N(0, 1)), items with a quality ``q``
and a popularity ``π``. The relevance of item ``v`` to user ``u`` is ``ρ = uᵀv / sqrt(r)``. A *logging policy*
(the system that produced the log) ranks a list of ``L`` candidates by ``ρ + λ·π + noise``: it over-rates popular
items. Each list is shown on one of two devices. The objectives of each impression, two of engagement and two of
satisfaction:

- **click** ~ Bernoulli(σ(a·ρ + c + b(position, device))), where ``b`` is the planted **position bias**: a logit
  offset that falls with the position, ``b(k, d) = -s_d·log(k)`` (steeper on the second device);
- **watch** (log watch time) = click · log(1 + e^{ρ + q} + noise): position-biased through the click;
- **like** ~ Bernoulli(σ(a·(0.5·ρ + q) + c_like)) and **dismiss** ~ Bernoulli(σ(-a·(0.5·ρ + q) + c_dismiss)):
  satisfaction, which position does not change.

The model sees noisy features of the user and the item, their element-wise product (a feature cross) and the
popularity, and the **bias features**: the position and device, one-hot over the ``L·D + 1`` slots
``(position, device)`` and "missing". A fraction ``drop_position`` of training impressions have the bias features
set to missing, as the paper does (10 %). The generator also returns the unbiased ground truth of every impression:
the probability of a click at the top position, the probability of a like and the expected log watch time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .tensors import MultiTaskData

OBJECTIVES = ("click", "watch", "like", "dismiss")


@dataclass(frozen=True)
class RecsysLog:
    """One fixed world (users, items, bias curve) chosen by ``seed``; :meth:`sample` draws lists from it."""

    num_users: int = 400
    num_items: int = 300
    latent: int = 6
    feature_noise: float = 0.3
    list_length: int = 8
    bias_slopes: tuple[float, ...] = (1.0, 1.6)
    popularity_weight: float = 1.5
    affinity: float = 2.0
    drop_position: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.num_users, self.num_items, self.latent, self.list_length) < 1:
            raise ValueError("num_users, num_items, latent and list_length must all be at least 1, got "
                             f"{self.num_users}, {self.num_items}, {self.latent}, {self.list_length}")
        if self.list_length > self.num_items:
            raise ValueError(f"list_length ({self.list_length}) exceeds num_items ({self.num_items})")
        if not self.bias_slopes:
            raise ValueError("bias_slopes needs one slope per device")
        if not 0.0 <= self.drop_position < 1.0:
            raise ValueError(f"drop_position must be in [0, 1), got {self.drop_position}")

    @property
    def num_devices(self) -> int:
        """The number of devices, one per entry of ``bias_slopes``."""
        return len(self.bias_slopes)

    @property
    def feature_dim(self) -> int:
        """Features of an impression without the bias features: user, item, their product, popularity."""
        return 3 * self.latent + 1

    @property
    def bias_dim(self) -> int:
        """One-hot slots of the bias features: "missing", then (position, device) for every pair."""
        return 1 + self.list_length * self.num_devices

    def bias_curve(self) -> Tensor:
        """``(L, D)``: the planted logit offset of a click at position ``k`` (1-based) on device ``d``."""
        k = torch.arange(1, self.list_length + 1, dtype=torch.float32)
        return -torch.log(k)[:, None] * torch.tensor(self.bias_slopes)

    def world(self) -> dict[str, Tensor]:
        """The latent users and items, item quality and popularity, and the observed (noisy) features."""
        g = torch.Generator().manual_seed(self.seed)
        u = torch.randn(self.num_users, self.latent, generator=g)
        v = torch.randn(self.num_items, self.latent, generator=g)
        quality = torch.randn(self.num_items, generator=g)
        popularity = torch.randn(self.num_items, generator=g)
        return {"u": u, "v": v, "quality": quality, "popularity": popularity,
                "user_features": u + self.feature_noise * torch.randn(u.shape, generator=g),
                "item_features": v + self.feature_noise * torch.randn(v.shape, generator=g)}

    def sample(self, num_lists: int, seed: int, *, drop: bool = True) -> tuple[MultiTaskData, dict[str, Tensor]]:
        """``num_lists`` logged lists of ``L`` impressions each, in list order (``L`` consecutive rows per list).

        Returns the data (inputs ``(N, feature_dim + bias_dim)``, one ``(N, 1)`` target per objective) and a dict of
        per-impression facts: ``list`` and ``position`` (1-based) and ``device`` indices, and the unbiased truths
        ``true_click`` (click probability at the top position on device 0), ``true_like``, ``true_watch``.
        With ``drop`` a fraction ``drop_position`` of impressions has its bias features set to missing.
        """
        if num_lists < 1:
            raise ValueError(f"num_lists must be at least 1, got {num_lists}")
        w = self.world()
        g = torch.Generator().manual_seed(10_007 * (self.seed + 1) + seed)
        n_l, length = num_lists, self.list_length
        users = torch.randint(self.num_users, (n_l,), generator=g)
        items = torch.stack([torch.randperm(self.num_items, generator=g)[:length] for _ in range(n_l)])
        devices = torch.randint(self.num_devices, (n_l,), generator=g)
        rho = (w["u"][users, None, :] * w["v"][items]).sum(-1) / math.sqrt(self.latent)  # (n_l, L)
        policy = rho + self.popularity_weight * w["popularity"][items] + 0.5 * torch.randn(rho.shape, generator=g)
        order = policy.argsort(dim=1, descending=True)
        items, rho = items.gather(1, order), rho.gather(1, order)
        position = torch.arange(1, length + 1).expand(n_l, -1)
        bias = self.bias_curve()[position - 1, devices[:, None].expand(-1, length)]
        quality = w["quality"][items]
        click_logit = self.affinity * rho - 0.5
        clicks = torch.bernoulli(torch.sigmoid(click_logit + bias), generator=g)
        watch_mean = torch.log1p(torch.exp(rho + quality))
        watch = clicks * (watch_mean + 0.1 * torch.randn(rho.shape, generator=g)).clamp_min(0.0)
        sat = self.affinity * (0.5 * rho + quality)
        likes = torch.bernoulli(torch.sigmoid(sat - 1.0), generator=g)
        dismiss = torch.bernoulli(torch.sigmoid(-sat - 1.5), generator=g)
        uf = w["user_features"][users, None, :].expand(-1, length, -1)
        itf = w["item_features"][items]
        features = torch.cat([uf, itf, uf * itf, w["popularity"][items, None]], dim=-1)
        slot = slot_of(position, devices[:, None], self.num_devices)
        if drop and self.drop_position > 0:
            slot = torch.where(torch.rand(slot.shape, generator=g) < self.drop_position, 0, slot)
        onehot = torch.nn.functional.one_hot(slot, self.bias_dim).float()
        x = torch.cat([features, onehot], dim=-1).reshape(n_l * length, -1)
        flat = {"click": clicks, "watch": watch, "like": likes, "dismiss": dismiss}
        targets = {k: v.reshape(-1, 1).float() for k, v in flat.items()}
        top = self.bias_curve()[0, 0]
        facts = {"list": torch.arange(n_l).repeat_interleave(length), "position": position.reshape(-1),
                 "device": devices.repeat_interleave(length), "slot": slot.reshape(-1),
                 "true_click": torch.sigmoid(click_logit + top).reshape(-1),
                 "true_like": torch.sigmoid(sat - 1.0).reshape(-1),
                 "true_watch": (torch.sigmoid(click_logit + top) * watch_mean).reshape(-1)}
        return MultiTaskData(x, targets), facts


def slot_of(position: Tensor, device: Tensor, num_devices: int) -> Tensor:
    """The one-hot slot of ``(position, device)`` (1-based position): ``1 + (position - 1)·D + device``."""
    return 1 + (position - 1) * num_devices + device
