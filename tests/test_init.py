"""mtl_ref.setup: picks the profile and device, seeds, styles the plots and says so."""

import matplotlib as mpl
import torch

import mtl_ref


def test_setup_prints_and_returns_profile_and_device(monkeypatch, capsys):
    monkeypatch.setenv("MTL_PROFILE", "smoke")
    monkeypatch.setenv("MTL_DEVICE", "cpu")
    with mpl.rc_context():
        profile, device = mtl_ref.setup(seed=3)
        assert mpl.rcParams["axes.spines.top"] is False  # the book's style was applied
    assert profile == mtl_ref.Profile("smoke")
    assert device == torch.device("cpu")
    out = capsys.readouterr().out
    assert "profile: smoke" in out and "device: cpu" in out and "seed 3" in out
    assert mtl_ref.__version__ in out and torch.__version__ in out


def test_setup_seeds_everything(monkeypatch, capsys):
    monkeypatch.delenv("MTL_DEVICE", raising=False)
    with mpl.rc_context():
        mtl_ref.setup(seed=11, device="cpu")
    a = torch.rand(3)
    torch.manual_seed(11)
    assert torch.equal(a, torch.rand(3))


def test_public_names_exist():
    for name in mtl_ref.__all__:
        assert hasattr(mtl_ref, name), name
