"""Where a labelled table comes from: a table bundled with scikit-learn (the
default, so the pipeline runs offline), a user's CSV, Excel or Parquet file,
or such a file in object storage (``s3://bucket/key.csv``, read with fsspec;
credentials and endpoint come from the environment as for any AWS tool:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` or ``AWS_PROFILE``, and
``AWS_ENDPOINT_URL`` for a server other than AWS's).

Register another kind of source in :data:`SOURCES` and name it in
``data.source``; the pipeline itself does not change.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Protocol

import fsspec
import numpy as np
import pandas as pd

from ..errors import ConfigError, PipelineError
from .dialect import TextFormat
from .formats import is_remote
from .tables import read_parts, read_table


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

    @property
    def location(self) -> str:
        """The file's path; raise a pipeline error if there is no such file."""
        if not self.path.is_file():
            raise ConfigError(
                f"Data source {self.path} does not exist: set data.source in "
                f"params.yaml to a data file or to one of {', '.join(SOURCES)}."
            )
        return str(self.path)

    def load(self) -> pd.DataFrame:
        """Read the file; raise a pipeline error if it is absent or unreadable."""
        return read_table(Path(self.location), "data source", self.text)


@contextmanager
def local_copy(url: str, what: str = "Data source") -> Iterator[Path]:
    """The object at ``url`` copied into a temporary folder under its own file
    name, so that it is read (and its text format detected) as a local file;
    the copy is removed afterwards. Streams: the table is never in memory here.
    A pipeline error raised inside the block names ``url``, not the copy;
    ``what`` names the data in messages.
    """
    name = PurePosixPath(url.split("://", 1)[1]).name
    with tempfile.TemporaryDirectory(prefix="source-") as folder:
        path = Path(folder) / (name or "table")
        try:
            with fsspec.open(url, "rb") as remote, path.open("wb") as local:
                shutil.copyfileobj(remote, local, 1 << 20)
        except FileNotFoundError:
            raise missing_object(url, what) from None
        except PermissionError as exc:
            raise ConfigError(
                f"{what} {url} cannot be read with the credentials of this "
                f"environment: {exc}"
            ) from None
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"{what} {url} cannot be opened: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{what} {url} cannot be read: {exc}") from None
        try:
            yield path
        except PipelineError as exc:
            raise type(exc)(str(exc).replace(str(path), url)) from None


def missing_object(url: str, what: str) -> ConfigError:
    """The error for a URL that names no object."""
    return ConfigError(
        f"{what} {url} does not exist (no such bucket or object): check the URL, "
        "and AWS_ENDPOINT_URL for a server other than AWS."
    )


@contextmanager
def location_parts(location: str, what: str) -> Iterator[Iterator[pd.DataFrame]]:
    """The table at ``location`` (a path or a URL) as :func:`.tables.read_parts`
    reads it: a Parquet file a row group at a time. Read the parts inside the
    block: a remote table's local copy is removed at its end."""
    if is_remote(location):
        with local_copy(location, what) as path:
            yield read_parts(path, what)
    else:
        yield read_parts(Path(location), what)


def read_location(location: str, what: str) -> pd.DataFrame:
    """The table in the file at ``location``, a path or a URL (``s3://...``)."""
    if is_remote(location):
        with local_copy(location, what) as path:
            return read_table(path, what)
    return read_table(Path(location), what)


class RemoteSource:
    """A CSV, Excel or Parquet file in object storage, e.g. ``s3://bucket/t.csv``;
    a CSV file written in the format ``text`` (detected when None)."""

    def __init__(self, url: str, text: TextFormat | None = None) -> None:
        self.url = url
        self.text = text

    @property
    def location(self) -> str:
        return self.url

    def load(self) -> pd.DataFrame:
        """Fetch the object and read it as :class:`FileSource` reads a file."""
        with local_copy(self.url) as path:
            return read_table(path, "data source", self.text)


def get_source(
    source: str, target: str, project_root: Path, text: TextFormat | None = None
) -> DataSource:
    """The bundled table named ``source``, else the object at that URL or the
    file at that path (a CSV file read in the format ``text``, detected when
    None)."""
    factory = SOURCES.get(source)
    if factory is not None:
        return factory(target)
    if is_remote(source):
        return RemoteSource(source, text)
    path = Path(source).expanduser()
    return FileSource(path if path.is_absolute() else project_root / path, text)
