"""Profiles: the MTL_PROFILE variable, the machine's default, pick and checks_claims."""

import pytest
import torch

from mtl_ref import profiles
from mtl_ref.profiles import PROFILES, Profile, current_profile, default_profile_name


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def test_unset_is_quick_without_cuda(monkeypatch, no_cuda):
    monkeypatch.delenv("MTL_PROFILE", raising=False)
    assert default_profile_name() == "quick"
    assert current_profile() == Profile("quick")


def test_unset_is_full_with_cuda(monkeypatch, with_cuda):
    monkeypatch.delenv("MTL_PROFILE", raising=False)
    assert default_profile_name() == "full"
    assert current_profile().name == "full"


def test_empty_variable_means_the_default(monkeypatch, no_cuda):
    monkeypatch.setenv("MTL_PROFILE", "  ")
    assert current_profile().name == "quick"


@pytest.mark.parametrize("name", PROFILES)
def test_each_valid_value(monkeypatch, with_cuda, name):
    monkeypatch.setenv("MTL_PROFILE", name)
    assert current_profile() == Profile(name)
    assert str(current_profile()) == name


def test_value_is_case_and_space_insensitive(monkeypatch, no_cuda):
    monkeypatch.setenv("MTL_PROFILE", " Smoke\n")
    assert current_profile().name == "smoke"


def test_unknown_value_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("MTL_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"unknown profile 'fast'; valid profiles are smoke, quick, full"):
        current_profile()
    with pytest.raises(ValueError, match="smoke, quick, full"):
        Profile("FULL")


def test_pick():
    assert Profile("smoke").pick(1, 2, 3) == 1
    assert Profile("quick").pick(1, 2, 3) == 2
    assert Profile("full").pick(smoke="a", quick="b", full="c") == "c"
    sentinel = object()
    assert Profile("quick").pick(None, sentinel, None) is sentinel


def test_checks_claims():
    assert not Profile("smoke").checks_claims
    assert Profile("quick").checks_claims
    assert Profile("full").checks_claims


def test_profile_is_frozen_and_hashable():
    p = Profile("quick")
    with pytest.raises(AttributeError):
        p.name = "full"
    assert {Profile("quick"), p} == {p}
    assert profiles.ENV_VAR == "MTL_PROFILE"
