"""Where a labelled table comes from: a table bundled with scikit-learn (the
default, so the pipeline runs offline) or a user's CSV, Excel or Parquet file.

Register another kind of source in :data:`SOURCES` and name it in
``data.source``; the pipeline itself does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .dialect import TextFormat
from .tables import read_table


class DataSource(Protocol):
    """Somewhere a labelled table comes from."""

    def load(self) -> pd.DataFrame:
        """Return the whole table, features and target column."""


class SklearnSource:
    """A table bundled with scikit-learn, e.g. ``load_iris`` (works offline)."""

    def __init__(self, name: str, target: str, class_names: bool) -> None:
        self.name = name
        self.target = target
        self.class_names = class_names

    def load(self) -> pd.DataFrame:
        """The bundled table, its label column renamed to ``target``.

        With ``class_names`` the labels are the bundle's names ('setosa', ...)
        instead of their integer codes.
        """
        # Imported here: only this source needs scikit-learn's datasets.
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{self.name}")(as_frame=True)
        frame: pd.DataFrame = bunch.frame
        if self.class_names:
            names = np.asarray(bunch.target_names, dtype=object)
            frame["target"] = names[frame["target"].to_numpy()]
        return frame.rename(columns={"target": self.target})


# Bundled tables a project can start from offline: `data.source` names one.
SOURCES: dict[str, Callable[[str], DataSource]] = {
    "sklearn:breast_cancer": lambda target: SklearnSource(
        "breast_cancer", target, class_names=False
    ),
    "sklearn:iris": lambda target: SklearnSource("iris", target, class_names=True),
    "sklearn:wine": lambda target: SklearnSource("wine", target, class_names=True),
    "sklearn:diabetes": lambda target: SklearnSource(
        "diabetes", target, class_names=False
    ),
}


class FileSource:
    """A CSV, Excel or Parquet file supplied by the user, e.g. under
    ``data/external``; a CSV file written in the format ``text`` (detected
    when None)."""

    def __init__(self, path: Path, text: TextFormat | None = None) -> None:
        self.path = path
        self.text = text

    def load(self) -> pd.DataFrame:
        """Read the file; raise a pipeline error if it is absent or unreadable."""
        if not self.path.is_file():
            raise ConfigError(
                f"Data source {self.path} does not exist: set data.source in "
                f"params.yaml to a data file or to one of {', '.join(SOURCES)}."
            )
        return read_table(self.path, "data source", self.text)


def get_source(
    source: str, target: str, project_root: Path, text: TextFormat | None = None
) -> DataSource:
    """The bundled table named ``source``, else the file at that path (a CSV
    file read in the format ``text``, detected when None)."""
    factory = SOURCES.get(source)
    if factory is not None:
        return factory(target)
    path = Path(source).expanduser()
    return FileSource(path if path.is_absolute() else project_root / path, text)
