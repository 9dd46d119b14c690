"""Checked claims: the table, and verify raising at quick/full but not at smoke."""

import pytest

from mtl_ref import Claims, Profile
from mtl_ref.claims import Claim


def filled(profile: str) -> Claims:
    claims = Claims(Profile(profile))
    assert claims.check("MTL beats STL", True, "Δm = +3.1%") is True
    assert claims.check("loss goes down", 0, "1.2 -> 1.5") is False
    assert claims.check("a much longer statement than the others", 1.0) is True
    assert claims.check("weights sum to one", False, "sum = 0.98") is False
    return claims


def test_items_and_failures():
    claims = filled("quick")
    assert [c.holds for c in claims.items] == [True, False, True, False]
    assert all(isinstance(c.holds, bool) for c in claims.items)
    assert claims.items[0] == Claim("MTL beats STL", True, "Δm = +3.1%")
    assert [c.statement for c in claims.failures()] == ["loss goes down", "weights sum to one"]


def test_table_content():
    lines = filled("quick").table().splitlines()
    width = len("a much longer statement than the others")
    assert lines[0] == f"{'claim':<{width}}  holds  evidence"
    assert lines[1] == "-" * (width + 17)
    assert lines[2] == f"{'MTL beats STL':<{width}}  yes    Δm = +3.1%"
    assert lines[3] == f"{'loss goes down':<{width}}  NO     1.2 -> 1.5"
    assert lines[4].rstrip() == f"{'a much longer statement than the others'}  yes"
    assert lines[5] == f"{'weights sum to one':<{width}}  NO     sum = 0.98"
    assert len(lines) == 6


def test_empty_table():
    assert Claims(Profile("quick")).table().splitlines() == [f"{'claim':<10}  holds  evidence", "-" * 27]


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_verify_raises_listing_every_failure(profile, capsys):
    with pytest.raises(AssertionError) as info:
        filled(profile).verify()
    message = str(info.value)
    assert f"2 claim(s) do not hold at profile {profile}" in message
    assert "- loss goes down (1.2 -> 1.5)" in message
    assert "- weights sum to one (sum = 0.98)" in message
    assert "MTL beats STL" not in message
    out = capsys.readouterr().out
    assert "claims enforced" in out and "loss goes down" in out


def test_verify_does_not_raise_at_smoke(capsys):
    filled("smoke").verify()
    out = capsys.readouterr().out
    assert out.startswith("profile: smoke  (claims shown, not enforced)")
    assert "weights sum to one" in out and "NO" in out


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_verify_passes_when_every_claim_holds(profile, capsys):
    claims = Claims(Profile(profile))
    claims.check("true", True)
    claims.verify()
    assert "true" in capsys.readouterr().out


def test_default_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MTL_PROFILE", "smoke")
    assert Claims().profile == Profile("smoke")
