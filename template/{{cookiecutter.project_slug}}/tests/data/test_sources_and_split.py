"""Data sources, reading files, and the reproducible train/test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import frame_params, make_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.data.sources import (
    FileSource,
    SklearnSource,
    get_source,
)
from {{ cookiecutter.package_name }}.data.split import check_class_sizes, split_frame
from {{ cookiecutter.package_name }}.data.tables import (
    read_row_groups,
    read_sample,
    read_table,
    sample_positions,
    write_frames,
    write_table,
)
from {{ cookiecutter.package_name }}.errors import ConfigError, DataValidationError

DATA = frame_params(make_frame())


@st.composite
def labelled_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Tables of 2-4 classes, each with at least 5 rows."""
    counts = draw(st.lists(st.integers(5, 40), min_size=2, max_size=4))
    labels = np.repeat(np.arange(len(counts)), counts)
    order = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(len(labels))
    return pd.DataFrame(
        {"f0": np.arange(len(labels), dtype=float), "target": labels[order]},
        index=pd.RangeIndex(len(labels)) * 3 + 7,
    )


def params_for(frame: pd.DataFrame, test_size: float):
    classes = sorted(int(label) for label in frame["target"].unique())
    return frame_params(frame, classes=classes, test_size=test_size)


@settings(max_examples=60, deadline=None)
@given(
    frame=labelled_frames(),
    test_size=st.floats(min_value=0.2, max_value=0.5),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_split_is_disjoint_complete_and_stratified(
    frame: pd.DataFrame, test_size: float, seed: int
) -> None:
    train, test = split_frame(frame, params_for(frame, test_size), seed)
    assert set(train.index).isdisjoint(test.index)
    assert sorted([*train.index, *test.index]) == sorted(frame.index)
    pd.testing.assert_frame_equal(pd.concat([train, test]).loc[frame.index], frame)
    for label, count in frame["target"].value_counts().items():
        in_test = int((test["target"] == label).sum())
        assert abs(in_test - count * test_size) <= 0.5 + 1e-9
        assert 0 < in_test < count


@given(frame=labelled_frames(), seed=st.integers(0, 2**32 - 1))
@settings(deadline=None, max_examples=20)
def test_split_is_repeatable(frame: pd.DataFrame, seed: int) -> None:
    data = params_for(frame, 0.25)
    first, second = split_frame(frame, data, seed), split_frame(frame, data, seed)
    for a, b in zip(first, second):
        pd.testing.assert_frame_equal(a, b)


@given(n_rows=st.integers(2, 200), seed=st.integers(0, 2**32 - 1))
def test_regression_split_holds_out_the_share(n_rows: int, seed: int) -> None:
    frame = make_frame(n_rows).assign(target=lambda f: f["f0"])
    data = frame_params(frame, task="regression", classes=None, test_size=0.25)
    train, test = split_frame(frame, data, seed)
    assert len(test) == int(np.floor(n_rows * 0.25 + 0.5)) and len(train) > 0
    assert sorted([*train.index, *test.index]) == list(range(n_rows))


def test_split_with_a_singleton_class_is_a_validation_error() -> None:
    frame = pd.DataFrame({"f0": range(10), "target": [0] * 9 + [1]})
    with pytest.raises(DataValidationError, match="Cannot split class 1"):
        split_frame(frame, frame_params(frame), 0)


def test_classes_too_small_for_every_split_are_named() -> None:
    check_class_sizes({"a": 50, "b": 40}, 0.2, 0.2)
    with pytest.raises(DataValidationError, match=r"'rare' \(3 rows\)"):
        check_class_sizes({"common": 50, "rare": 3}, 0.2, 0.2)


def test_breast_cancer_source_keeps_integer_labels() -> None:
    frame = SklearnSource("breast_cancer", "label", class_names=False).load()
    assert frame.shape == (569, 31)
    assert set(frame["label"]) == {0, 1}


def test_bundled_iris_is_labelled_by_name() -> None:
    frame = get_source("sklearn:iris", "species", Path(".")).load()
    assert set(frame["species"]) == {"setosa", "versicolor", "virginica"}


def test_file_source_reads_a_path_relative_to_the_root(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1.0], "target": [0]}).to_csv(tmp_path / "d.csv", index=False)
    source = get_source("d.csv", "target", tmp_path)
    assert isinstance(source, FileSource)
    assert list(source.load().columns) == ["a", "target"]


def test_missing_file_source_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        get_source("nope.csv", "target", tmp_path).load()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"a,b\n1,2\n", None),
        (b"a,a,target\n1,2,0\n", "duplicated column name(s) 'a'"),
        ("name\ncaf\u00e9\n".encode("latin-1"), "is not UTF-8"),
        (b'a,b\n"1,2\n', "not a readable CSV"),
    ],
    ids=["empty", "valid", "duplicated-columns", "latin-1", "unclosed-quote"],
)
def test_reading_a_csv_explains_what_is_wrong(
    tmp_path: Path, content: bytes, message: str | None
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    if message is None:
        assert read_table(path, "file").shape == (1, 2)
        return
    with pytest.raises(DataValidationError) as info:
        read_table(path, "file")
    assert message in str(info.value)
    assert "Traceback" not in str(info.value)


def mixed_frame(n_rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n_rows),
            "n": rng.integers(0, 9, n_rows),
            "c": pd.array(rng.choice(["a", "b", None], n_rows), dtype="string"),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("cuts", [[], [1], [7, 8, 30]])
def test_frames_written_in_parts_make_the_file_of_the_whole(
    tmp_path: Path, suffix: str, cuts: list[int]
) -> None:
    frame = mixed_frame(40)
    whole, parts = tmp_path / f"whole{suffix}", tmp_path / f"parts{suffix}"
    write_table(whole, frame)
    bounds = [0, *cuts, len(frame)]
    pieces = [frame.iloc[low:high] for low, high in zip(bounds, bounds[1:])]
    assert write_frames(parts, pieces) == len(frame)
    assert parts.read_bytes() == whole.read_bytes()


def test_row_groups_and_samples_come_indexed_by_their_rows_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = mixed_frame(100)
    path = tmp_path / "table.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, 16)

    def read_whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("the whole file was read at once")

    monkeypatch.setattr(pd, "read_parquet", read_whole)
    groups = list(read_row_groups(path, "Table"))
    assert [len(group) for group in groups] == [16] * 6 + [4]
    pd.testing.assert_frame_equal(pd.concat(groups), frame)
    pd.testing.assert_frame_equal(read_sample(path, "Table", 100), frame)
    chosen = np.sort(sample_positions(100, 30))
    assert len(set(chosen)) == 30
    pd.testing.assert_frame_equal(read_sample(path, "Table", 30), frame.iloc[chosen])
    csv = tmp_path / "table.csv"
    frame.to_csv(csv, index=False)
    assert read_sample(csv, "Table", 30).index.tolist() == chosen.tolist()
