"""The table formats the project reads and writes, checked by file name alone
(no heavy import), so a command refuses a wrong path at once."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

TABLE_SUFFIXES = (".csv", ".parquet")
"""The formats a table is written in."""
INPUT_SUFFIXES = (*TABLE_SUFFIXES, ".xlsx")
"""The formats a table is read from: also an Excel workbook's first sheet."""


def check_table_path(
    path: Path | str, what: str, suffixes: tuple[str, ...] = TABLE_SUFFIXES
) -> None:
    """Refuse a file name (or URL) whose suffix is none of ``suffixes``."""
    if Path(path).suffix.lower() not in suffixes:
        raise ConfigError(
            f"{what} {path} must end in {', '.join(suffixes[:-1])} or "
            f"{suffixes[-1]}, the formats it is handled in."
        )


def is_text_table(path: Path) -> bool:
    """Whether the table at ``path`` is delimited text (CSV, TSV ...)."""
    return path.suffix.lower() not in (".parquet", ".xlsx")


def is_remote(location: str) -> bool:
    """Whether ``location`` is a URL (``s3://...``) rather than a path."""
    return "://" in location
