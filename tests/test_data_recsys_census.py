"""The recommendation log with position bias and the Census-income loader (on a tiny fake file in its layout)."""

import pytest
import torch

from mtl_ref.data import RecsysLog, census_income, read_census_file
from mtl_ref.data.census import COLUMNS
from mtl_ref.data.recsys import slot_of


def test_recsys_shapes_slots_and_truths():
    log = RecsysLog(num_users=30, num_items=40, list_length=5, drop_position=0.0, seed=1)
    data, facts = log.sample(20, seed=0)
    assert data.x.shape == (100, log.feature_dim + log.bias_dim)
    assert set(data.y) == {"click", "watch", "like", "dismiss"}
    onehot = data.x[:, log.feature_dim:]
    torch.testing.assert_close(onehot.sum(1), torch.ones(100))
    torch.testing.assert_close(onehot.argmax(1), slot_of(facts["position"], facts["device"], log.num_devices))
    assert (facts["position"].view(20, 5) == torch.arange(1, 6)).all()
    assert ((data.y["watch"] > 0) <= (data.y["click"] > 0)).all()  # watch time only after a click
    assert log.bias_curve().shape == (5, 2) and (log.bias_curve().diff(dim=0) < 0).all()


def test_recsys_is_reproducible_and_drops_positions():
    log = RecsysLog(num_users=30, num_items=40, list_length=5, drop_position=0.3, seed=1)
    a, _ = log.sample(400, seed=3)
    b, _ = log.sample(400, seed=3)
    torch.testing.assert_close(a.x, b.x)
    missing = a.x[:, log.feature_dim].mean().item()
    assert 0.25 < missing < 0.35
    c, _ = log.sample(400, seed=3, drop=False)
    assert c.x[:, log.feature_dim].sum() == 0


def test_position_bias_is_planted():
    log = RecsysLog(seed=0, drop_position=0.0)
    data, facts = log.sample(3000, seed=0)
    top = data.y["click"][facts["position"] == 1].mean()
    bottom = data.y["click"][facts["position"] == log.list_length].mean()
    assert top > 3 * bottom


def row(income="- 50000.", marital="Never married", education="Children", age="30"):
    values = ["x"] * len(COLUMNS)
    values[COLUMNS.index("age")] = age
    for c in ("wage per hour", "capital gains", "capital losses", "dividends from stocks",
              "num persons worked for employer", "weeks worked in year", "instance weight"):
        values[COLUMNS.index(c)] = "0"
    values[COLUMNS.index("year")] = "95"
    values[COLUMNS.index("income")] = income
    values[COLUMNS.index("marital stat")] = marital
    values[COLUMNS.index("education")] = education
    values[COLUMNS.index("sex")] = "Female" if age == "30" else "Male"
    return ", ".join(values)


@pytest.fixture
def census_folder(tmp_path):
    train = [row(), row("50000+.", "Married-civilian spouse present", "Bachelors degree(BA AB BS)", "50"),
             row(age="40"), row("50000+.", age="60")]
    test = [row(), row("50000+.", "Divorced", "Masters degree(MA MS MEng MEd MSW MBA)", "45"), row(age="20"),
            row(marital="Widowed", age="70")]
    (tmp_path / "census-income.data").write_text("\n".join(train) + "\n")
    (tmp_path / "census-income.test").write_text("\n".join(test) + "\n")
    return tmp_path


def test_census_layout_and_labels(census_folder):
    frame = read_census_file(census_folder / "census-income.data")
    assert list(frame.columns) == list(COLUMNS) and len(COLUMNS) == 42
    assert frame["income"].iloc[1] == "50000+."  # the leading space is stripped
    splits = census_income(census_folder, tasks=("income", "never_married"), seed=0)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [4, 2, 2]
    torch.testing.assert_close(splits["train"].y["income"][:, 0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    torch.testing.assert_close(splits["train"].y["never_married"][:, 0], torch.tensor([1.0, 0.0, 1.0, 1.0]))
    assert splits["train"].x.shape[1] == splits["test"].x.shape[1]
    college = census_income(census_folder, tasks=("income", "college"))
    torch.testing.assert_close(college["train"].y["college"][:, 0], torch.tensor([0.0, 1.0, 0.0, 0.0]))
    # Task columns are not inputs: the marital-status one-hot columns are gone when it is a task.
    assert college["train"].x.shape[1] > splits["train"].x.shape[1]


def test_census_errors_name_the_problem(census_folder, tmp_path_factory):
    with pytest.raises(ValueError, match="unknown census tasks"):
        census_income(census_folder, tasks=("height",))
    with pytest.raises(FileNotFoundError, match="census-income.data"):
        census_income(tmp_path_factory.mktemp("empty"))
    bad = census_folder / "bad.csv"
    bad.write_text("1, 2, 3\n")
    with pytest.raises(ValueError, match="42 columns"):
        read_census_file(bad)
