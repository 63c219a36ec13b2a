"""Seeding twice gives the same random streams; the environment is prepared."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.utils.seeding import seed_everything

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def draw_streams() -> tuple[list[float], list[float]]:
    return [random.random() for _ in range(5)], np.random.rand(5).tolist()


@given(seed=seeds)
def test_same_seed_gives_identical_streams(seed: int) -> None:
    seed_everything(seed)
    first = draw_streams()
    seed_everything(seed)
    assert draw_streams() == first


@given(seed=seeds)
def test_different_seeds_give_different_streams(seed: int) -> None:
    seed_everything(seed)
    first = draw_streams()
    seed_everything((seed + 1) % 2**32)
    assert draw_streams() != first


def test_sets_cublas_workspace_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seed_everything(0)
    import os

    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_keeps_an_existing_cublas_workspace_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    seed_everything(0)
    import os

    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


@pytest.mark.parametrize("hash_seed", [None, "1"], ids=["unset", "other-seed"])
def test_warns_without_the_project_hash_seed(
    monkeypatch: pytest.MonkeyPatch, hash_seed: str | None
) -> None:
    # Called as a library, outside the CLI that sets the seed for its stages.
    if hash_seed is None:
        monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    else:
        monkeypatch.setenv("PYTHONHASHSEED", hash_seed)
    with pytest.warns(RuntimeWarning, match="PYTHONHASHSEED is not 0"):
        seed_everything(0)


def test_quiet_with_the_project_hash_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seed_everything(0)
