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


# --- statistical claims -------------------------------------------------------------------------------------

import json  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from mtl_ref.claims import paired_interval  # noqa: E402


def test_t_interval_matches_scipy():
    d = np.array([0.3, 0.1, 0.25, 0.4, 0.05])
    mean, low, high = paired_interval(d, "t")
    ref = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert mean == pytest.approx(d.mean()) and (low, high) == pytest.approx(ref)


def test_bootstrap_interval_is_reproducible_and_inside_the_range():
    d = np.array([0.3, 0.1, 0.25, 0.4, 0.05, 0.2])
    first, second = paired_interval(d, "bootstrap"), paired_interval(d, "bootstrap")
    assert first == second
    assert d.min() <= first[1] < first[0] < first[2] <= d.max()


def test_fewer_than_two_pairs_never_hold():
    claims = Claims(Profile("quick"))
    assert claims.better("one seed", [1.0], [0.0], higher_is_better=True) is False
    assert claims.no_better("one seed", [0.0], [0.0], margin=1.0, higher_is_better=True) is False
    assert np.isinf(claims.items[0].low)


def test_nan_is_an_error():
    with pytest.raises(ValueError, match="NaN"):
        Claims(Profile("quick")).better("broken", [1.0, np.nan], [0.0, 0.0], higher_is_better=True)


def test_pairs_must_match():
    with pytest.raises(ValueError, match="one value of A and of B per seed; got 3 and 2"):
        Claims(Profile("quick")).better("x", [1, 2, 3], [1, 2], higher_is_better=True)


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_better_respects_the_direction(higher_is_better):
    a, b = np.array([1.0, 1.1, 0.9, 1.05]), np.zeros(4)
    claims = Claims(Profile("quick"))
    assert claims.better("A beats B", a, b, higher_is_better=higher_is_better) is higher_is_better
    assert claims.better("B beats A", b, a, higher_is_better=higher_is_better) is (not higher_is_better)
    assert claims.items[0].mean == pytest.approx(1.0125 if higher_is_better else -1.0125)


def test_better_against_a_fixed_reference():
    claims = Claims(Profile("quick"))
    assert claims.better("below 1", [0.5, 0.6, 0.55], 1.0, higher_is_better=False)


def test_more_noise_makes_every_claim_harder():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(6)
    noise = (noise - noise.mean()) / noise.std(ddof=1)  # the same mean difference at every noise level
    held = {"better": [], "no_better": [], "within": []}
    for scale in (0.01, 0.1, 0.5, 2.0):
        claims = Claims(Profile("quick"))
        a = 0.3 + scale * noise  # A is better by 0.3 on average
        held["better"].append(claims.better("A beats B", a, np.zeros(6), higher_is_better=True))
        held["no_better"].append(claims.no_better("A ≤ B + 0.5", a, np.zeros(6), margin=0.5, higher_is_better=True))
        held["within"].append(claims.within("A ≈ B ± 0.5", a, np.zeros(6), margin=0.5))
        widths = [c.high - c.low for c in claims.items]
        assert widths[0] == pytest.approx(widths[1]) == pytest.approx(widths[2])
    for kind, results in held.items():
        assert results[0] is True and results[-1] is False, kind
        assert results == sorted(results, reverse=True), kind  # once failed, more noise never passes


def test_no_better_uses_the_margin_on_the_upper_end():
    claims = Claims(Profile("quick"))
    a = np.array([0.10, 0.12, 0.08, 0.11])
    assert claims.no_better("within 0.2", a, np.zeros(4), margin=0.2, higher_is_better=True)
    assert not claims.no_better("within 0.05", a, np.zeros(4), margin=0.05, higher_is_better=True)
    assert claims.items[0].margin == 0.2 and claims.items[0].kind == "no_better"
    with pytest.raises(ValueError, match="margin must be positive"):
        claims.no_better("x", a, a, margin=0.0, higher_is_better=True)


def test_record_is_written_where_the_environment_says(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MTL_RECORDS_DIR", str(tmp_path))
    claims = Claims(Profile("smoke"), chapter="demo", device="cpu")
    claims.check("plain", True, "ok")
    claims.better("stat", [1.0, 1.2, 1.1], [0.0, 0.1, 0.0], higher_is_better=True)
    claims.verify()
    record = json.loads((tmp_path / "demo.json").read_text())
    assert record["chapter"] == "demo" and record["profile"] == "smoke" and record["enforced"] is False
    assert record["device"] == "cpu" and "torch" in record and record["wall_seconds"] >= 0
    assert [c["kind"] for c in record["claims"]] == ["check", "better"]
    assert record["claims"][1]["n"] == 3 and record["claims"][1]["holds"] is True


def test_record_is_written_before_a_failure_is_raised(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MTL_RECORDS_DIR", str(tmp_path))
    claims = Claims(Profile("quick"), chapter="failing")
    claims.check("false", False)
    with pytest.raises(AssertionError):
        claims.verify()
    assert json.loads((tmp_path / "failing.json").read_text())["claims"][0]["holds"] is False


def test_no_record_without_a_chapter_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MTL_RECORDS_DIR", str(tmp_path))
    Claims(Profile("smoke")).verify()
    assert list(tmp_path.iterdir()) == []
