"""The table formats the project reads and writes, checked by file name alone
(no heavy import), so a command refuses a wrong path at once."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

TABLE_SUFFIXES = (".csv", ".parquet")


def check_table_path(path: Path, what: str) -> None:
    """Refuse a file name that is neither CSV nor Parquet."""
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ConfigError(
            f"{what} {path} must end in .csv or .parquet, the formats it is read "
            "and written in."
        )
