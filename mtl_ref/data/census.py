"""UCI Census-income (KDD) in its distributed layout: the real-data experiment of MMoE (Ma et al., KDD 2018, §5.2).

The data set (US census 1994-95, 299,285 people) comes as two comma-separated files without a header,
``census-income.data`` (training) and ``census-income.test``, each with the 42 columns of :data:`COLUMNS`: 40
attributes, the instance weight (column 25, a sampling weight, not a feature) and the income class
(``- 50000.`` / ``50000+.``). Fields start with a space. Following the MMoE paper, the test file is split in half
into validation and test sets, and tasks are binary labels made from columns, removed from the inputs:

- ``income``: the income class is ``50000+.``;
- ``never_married``: the marital status is ``Never married``;
- ``college``: the education is an associate's degree or higher (our definition of the paper's education task).

Categorical columns are one-hot encoded over the values of both files, numeric ones standardised with the training
statistics. Nothing is downloaded: pass the folder that holds the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
import torch

from .tensors import MultiTaskData

if TYPE_CHECKING:
    import pandas as pd

#: The 42 columns, in file order (the attribute names of ``census-income.names``).
COLUMNS = (
    "age", "class of worker", "detailed industry recode", "detailed occupation recode", "education", "wage per hour",
    "enroll in edu inst last wk", "marital stat", "major industry code", "major occupation code", "race",
    "hispanic origin", "sex", "member of a labor union", "reason for unemployment",
    "full or part time employment stat", "capital gains", "capital losses", "dividends from stocks",
    "tax filer stat", "region of previous residence", "state of previous residence",
    "detailed household and family stat", "detailed household summary in household", "instance weight",
    "migration code-change in msa", "migration code-change in reg", "migration code-move within reg",
    "live in this house 1 year ago", "migration prev res in sunbelt", "num persons worked for employer",
    "family members under 18", "country of birth father", "country of birth mother", "country of birth self",
    "citizenship", "own business or self employed", "fill inc questionnaire for veteran's admin",
    "veterans benefits", "weeks worked in year", "year", "income",
)
NUMERIC = ("age", "wage per hour", "capital gains", "capital losses", "dividends from stocks",
           "num persons worked for employer", "weeks worked in year")
FILES = ("census-income.data", "census-income.test")
COLLEGE = ("Associates degree-occup /vocational", "Associates degree-academic program", "Bachelors degree(BA AB BS)",
           "Masters degree(MA MS MEng MEd MSW MBA)", "Prof school degree (MD DDS DVM LLB JD)",
           "Doctorate degree(PhD EdD)")
#: Task name -> (source column, function of that column giving the 0/1 label).
TASKS = {
    "income": ("income", lambda s: s.str.strip().eq("50000+.")),
    "never_married": ("marital stat", lambda s: s.str.strip().eq("Never married")),
    "college": ("education", lambda s: s.str.strip().isin(COLLEGE)),
}


def read_census_file(path: Path | str) -> pd.DataFrame:
    """One file of the distributed layout as a data frame with :data:`COLUMNS` (string fields stripped)."""
    import pandas as pd  # imported here: importing mtl_ref does not import pandas
    frame = pd.read_csv(path, header=None, skipinitialspace=True, dtype=str)
    if frame.shape[1] != len(COLUMNS):
        raise ValueError(f"{path}: expected {len(COLUMNS)} columns (census-income layout), found {frame.shape[1]}")
    frame.columns = list(COLUMNS)
    return frame


def census_income(folder: Path | str, tasks: Sequence[str] = ("income", "never_married"), *, seed: int = 0,
                  max_train: int | None = None) -> dict[str, MultiTaskData]:
    """``{"train", "val", "test"}``: inputs and one ``(N, 1)`` 0/1 target per task, from the two files in ``folder``.

    The test file is split at random (``seed``) into equal validation and test halves; ``max_train`` keeps a
    random subset of the training file.
    """
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"unknown census tasks {unknown or list(tasks)}; choose from {list(TASKS)}")
    folder = Path(folder)
    missing = [f for f in FILES if not (folder / f).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {missing}: the UCI Census-income (KDD) files census-income.data "
                                "and census-income.test are needed (uncompressed)")
    import pandas as pd

    train, other = (read_census_file(folder / f) for f in FILES)
    rng = np.random.default_rng(seed)
    if max_train is not None and max_train < len(train):
        train = train.iloc[np.sort(rng.choice(len(train), max_train, replace=False))]
    both = pd.concat([train, other], ignore_index=True)
    labels = {t: TASKS[t][1](both[TASKS[t][0]]).to_numpy(np.float32) for t in tasks}
    dropped = {"instance weight", "income", *(TASKS[t][0] for t in tasks)}
    numeric = [c for c in NUMERIC if c not in dropped]
    categorical = [c for c in COLUMNS if c not in dropped and c not in numeric]
    values = both[numeric].astype(np.float64).to_numpy()
    mean, std = values[:len(train)].mean(0), values[:len(train)].std(0)
    values = (values - mean) / np.where(std > 0, std, 1.0)
    onehot = pd.get_dummies(both[categorical].astype(str), dtype=np.float32).to_numpy()
    x = torch.as_tensor(np.concatenate([values, onehot], axis=1), dtype=torch.float32)
    y = {t: torch.as_tensor(v)[:, None] for t, v in labels.items()}
    n = len(train)
    order = n + rng.permutation(len(other))
    half = len(other) // 2
    splits = {"train": np.arange(n), "val": order[:half], "test": order[half:]}
    return {k: MultiTaskData(x[idx], {t: v[idx] for t, v in y.items()}) for k, idx in splits.items()}
