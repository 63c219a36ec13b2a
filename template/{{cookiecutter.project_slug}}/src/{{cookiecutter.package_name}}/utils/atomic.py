"""Write files atomically, so that a failed stage never leaves half a file.

Each writer puts the content in a temporary file in the destination folder,
flushes it to disk, closes it, then renames it over the destination with
:func:`os.replace`, which is atomic on the same file system on POSIX and on
Windows (where a file that is still open cannot be renamed).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write; it replaces ``path`` in one step
    when the block ends without an error, and is removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp creates files only their owner can read; an output is read
        # by others too (the service in a container runs as another user).
        tmp.chmod(0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, creating parent folders."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` in one step."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, payload: Any) -> None:
    """Replace ``path`` with ``payload`` as indented, key-sorted JSON."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Replace ``path`` with ``frame`` as CSV, without the index."""
    write_text(path, frame.to_csv(index=False, lineterminator="\n"))
