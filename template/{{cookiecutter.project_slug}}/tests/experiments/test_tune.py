"""The pieces of ``tune``: search ranges from params.yaml, the values a trial
draws, the split of trials between workers, and ``--apply``'s write."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.experiments import tune
from {{ cookiecutter.package_name }}.params import SearchRange, TuneParams

SPACE = {
    "rate": SearchRange(low=0.001, high=0.3, log=True),
    "leaves": SearchRange(low=8, high=128, log=True),
    "steps": SearchRange(low=0.0, high=1.0, step=0.25),
    "kind": SearchRange(choices=["a", "b", None]),
}


@given(st.integers(1, 10_000), st.integers(1, 64))
def test_workers_split_the_trials_evenly(total: int, workers: int) -> None:
    split = tune.shares(total, workers)
    assert len(split) == workers
    assert sum(split) == total
    assert max(split) - min(split) <= 1


def test_a_trial_draws_within_each_range_with_its_type() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        values = tune.suggest(study.ask(), SPACE)
        assert isinstance(values["rate"], float) and 0.001 <= values["rate"] <= 0.3
        assert isinstance(values["leaves"], int) and 8 <= values["leaves"] <= 128
        assert values["steps"] in {0.0, 0.25, 0.5, 0.75, 1.0}
        assert values["kind"] in {"a", "b", None}


@pytest.mark.parametrize(
    "search, message",
    [
        ({"low": 1, "high": 1}, "low < high"),
        ({"low": 0.0, "high": 1.0, "log": True}, "log scale needs low > 0"),
        ({"choices": []}, "non-empty choices"),
        ({"choices": [1], "low": 0}, "either non-empty choices or low and high"),
        ({"high": 3}, "low < high"),
    ],
)
def test_a_bad_search_range_is_refused_with_the_reason(
    search: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SearchRange.model_validate(search)


def test_a_search_needs_an_end() -> None:
    with pytest.raises(ValidationError, match="set n_trials, timeout or both"):
        TuneParams(n_trials=None, timeout=None)


def test_apply_writes_the_values_and_keeps_the_comments(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "seed: 1\n"
        "train:\n"
        "  model: auto  # which model\n"
        "  boosted:\n"
        "    rate: 0.1   # step size\n"
        "    depth: 3\n"
    )
    tune.apply_best(params, "boosted", {"rate": 0.05, "leaves": 12}, "boosted")
    lines = params.read_text().splitlines()
    assert yaml.safe_load(params.read_text()) == {
        "seed": 1,
        "train": {"model": "auto", "boosted": {"rate": 0.05, "depth": 3, "leaves": 12}},
    }
    assert re.fullmatch(r"    rate: 0\.05 +# step size", lines[4])
    assert lines[2] == "  model: auto  # which model"

    tune.apply_best(params, "other", {"rate": 0.2}, "boosted")
    text = params.read_text()
    assert yaml.safe_load(text)["train"]["other"] == {"rate": 0.2}
    assert re.search(r"^  model: other +# which model$", text, flags=re.MULTILINE)
