"""The array types that pass between the stages."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Matrix = NDArray[np.float32]
"""A model's input: one row of float32 features per example, as the feature
transform writes it (half the memory of float64, and what networks use)."""


def plain(value: object) -> object:
    """A NumPy scalar as the Python value a person would type."""
    return value.item() if isinstance(value, np.generic) else value
