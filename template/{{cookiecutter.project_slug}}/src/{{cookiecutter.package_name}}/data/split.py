"""The reproducible split of rows into two sides: train and test (``prepare``),
and fit and validation rows (``train``).

For classification the split is stratified: each class sends its share of
rows to the held-out side, so both sides keep the class proportions. Which
rows go where depends only on the seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataValidationError
from ..params import DataParams
from ..utils.arrays import IntArray, plain


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """A 64-bit hash of each row's values, indexed as ``frame``: rows equal in
    every column have equal hashes (the check for rows on both sides)."""
    return pd.util.hash_pandas_object(frame, index=False)


def split_sizes(count: int, share: float) -> int:
    """Rows of a group of ``count`` that a split sends to the held-out side."""
    return int(np.floor(count * share + 0.5))


def check_class_sizes(
    counts: dict[object, int], test_size: float, val_size: float
) -> None:
    """Refuse classes too small to appear in the train, validation and test sets."""
    small = []
    for label, count in counts.items():
        n_test = split_sizes(count, test_size)
        n_train = count - n_test
        n_val = split_sizes(n_train, val_size)
        if not (0 < n_test and 0 < n_val < n_train):
            small.append(f"{label!r} ({count} row{'s' if count != 1 else ''})")
    if small:
        raise DataValidationError(
            f"Class(es) {', '.join(small)} have too few rows to appear in the "
            f"train, validation and test sets with data.test_size={test_size} "
            f"and train.val_size={val_size}: add rows, merge rare classes, or "
            "drop them from the file."
        )


def split_indices(
    labels: np.ndarray | None, n_rows: int, share: float, seed: int
) -> tuple[IntArray, IntArray]:
    """Row positions of a reproducible split, each side in ascending order.

    With ``labels`` the split is stratified: each class sends
    ``round(count * share)`` randomly chosen rows to the held-out side, so both
    sides keep the class proportions. Without, ``round(n_rows * share)`` rows
    are held out. The choice depends only on ``seed``.
    """
    rng = np.random.default_rng(seed)
    held_out = np.zeros(n_rows, dtype=bool)
    groups = (
        [np.arange(n_rows)]
        if labels is None
        else [np.flatnonzero(labels == label) for label in np.unique(labels)]
    )
    for positions in groups:
        n_out = split_sizes(len(positions), share)
        if not 0 < n_out < len(positions):
            what = (
                "the data"
                if labels is None
                else f"class {plain(labels[positions[0]])!r}"
            )
            raise DataValidationError(
                f"Cannot split {what}: {len(positions)} row(s) are too few to "
                f"appear on both sides with a held-out share of {share}."
            )
        held_out[rng.permutation(positions)[:n_out]] = True
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


def split_frame(
    frame: pd.DataFrame, data: DataParams, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into train and test reproducibly (stratified by class)."""
    labels = None
    if data.task == "classification":
        labels = frame[data.target].to_numpy()
    train, test = split_indices(labels, len(frame), data.test_size, seed)
    return frame.iloc[train], frame.iloc[test]
