"""Devices, seeding and autocast."""

import random

import numpy as np
import pytest
import torch

from mtl_ref import autocast, pick_device, seed_everything
from mtl_ref.device import amp_dtype


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.delenv("MTL_DEVICE", raising=False)


def test_default_is_cpu_without_accelerators(no_accelerator):
    assert pick_device() == torch.device("cpu")


def test_default_prefers_cuda_then_mps(monkeypatch, no_accelerator):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")


def test_argument_is_honoured(monkeypatch, no_accelerator):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("meta")) == torch.device("meta")
    assert pick_device("cuda:1") == torch.device("cuda", 1)


def test_environment_variable_is_honoured(monkeypatch, no_accelerator):
    monkeypatch.setenv("MTL_DEVICE", "meta")
    assert pick_device() == torch.device("meta")
    monkeypatch.setenv("MTL_DEVICE", "")
    assert pick_device() == torch.device("cpu")


def test_argument_beats_environment_variable(monkeypatch, no_accelerator):
    monkeypatch.setenv("MTL_DEVICE", "cuda")
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_cuda_requested_without_cuda_raises(monkeypatch, no_accelerator, how):
    if how == "environment":
        monkeypatch.setenv("MTL_DEVICE", "cuda:0")
        call = pick_device
    else:
        def call():
            return pick_device("cuda")
    with pytest.raises(RuntimeError, match=r"device cuda(:0)? was requested but CUDA is not available"):
        call()


def draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_seed_everything_makes_every_generator_reproducible():
    g1 = seed_everything(123)
    first = draws(), torch.rand(2, generator=g1).tolist()
    g2 = seed_everything(123)
    second = draws(), torch.rand(2, generator=g2).tolist()
    assert first == second
    seed_everything(124)
    assert draws() != first[0]


def test_seed_everything_returns_a_cpu_generator_seeded_with_the_seed():
    g = seed_everything(7)
    assert g.device == torch.device("cpu")
    assert g.initial_seed() == 7
    assert torch.equal(torch.randperm(10, generator=g), torch.randperm(10, generator=torch.Generator().manual_seed(7)))


def test_seed_everything_accepts_seeds_beyond_numpy_range():
    seed_everything(2**32 + 5)
    a = float(np.random.rand())
    np.random.seed(5)
    assert a == float(np.random.rand())


def test_amp_dtype(monkeypatch):
    assert amp_dtype(torch.device("cpu")) is None
    assert amp_dtype(torch.device("meta")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert amp_dtype(torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert amp_dtype(torch.device("cuda")) == torch.float16


def cpu_autocast_enabled() -> bool:
    """``torch.is_autocast_enabled("cpu")``, spelled so that the oldest supported torch (2.3) understands it too."""
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_cpu_enabled()


def test_autocast_is_a_no_op_on_cpu():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    for enabled in (True, False):
        with autocast(torch.device("cpu"), enabled=enabled):
            assert not cpu_autocast_enabled()
            out = a @ b
        assert out.dtype == torch.float32
        assert torch.equal(out, a @ b)


def test_autocast_disabled_does_not_touch_cuda(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("CUDA queried although autocast was disabled")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", boom)
    with autocast(torch.device("cuda"), enabled=False):
        pass


def test_autocast_enters_torch_autocast_when_a_dtype_applies(monkeypatch):
    # The CUDA branch, exercised on the CPU: with a dtype, autocast wraps torch.autocast for the device type.
    monkeypatch.setattr("mtl_ref.device.amp_dtype", lambda device: torch.bfloat16)
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(torch.device("cpu")):
        assert cpu_autocast_enabled()
        assert (a @ b).dtype == torch.bfloat16
    assert not cpu_autocast_enabled()
    with autocast(torch.device("cpu"), enabled=False):
        assert (a @ b).dtype == torch.float32
