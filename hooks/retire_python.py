"""Before `copier update`: move a project off a Python the template dropped.

copier.yml runs this on update (it needs `--trust`), in the project folder:

    python hooks/retire_python.py ANSWERS_FILE

A project rendered for a Python that the template no longer supports (3.10
reached its end of life in October 2026) would lose that answer to the
question's default. This records the oldest supported Python in its place,
so that the update renders the project for the nearest version. Like every
migration, it never fails the update: on any error it says what to run and
exits 0.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RETIRED = {"3.10"}
OLDEST_SUPPORTED = "3.11"
ANSWER = re.compile(r"""^python_version: ['"]?(?P<version>[0-9.]+)['"]?$""", re.M)


def retire(answers: str) -> tuple[str, str | None]:
    """The answers with a retired Python replaced, and the version it had."""
    found = ANSWER.search(answers)
    if found is None or found["version"] not in RETIRED:
        return answers, None
    updated = answers[: found.start()] + f"python_version: '{OLDEST_SUPPORTED}'"
    return updated + answers[found.end() :], found["version"]


def main(argv: list[str] | None = None) -> int:
    (answers_file,) = argv if argv is not None else sys.argv[1:]
    path = Path(answers_file)
    try:
        text, retired = retire(path.read_text(encoding="utf-8"))
        if retired is not None:
            path.write_text(text, encoding="utf-8")
            print(
                f"Python {retired} is no longer supported: the project moves to "
                f"Python {OLDEST_SUPPORTED} (python_version in {path.name})."
            )
    except (OSError, UnicodeDecodeError) as error:
        print(
            f"\n{'!' * 72}\n"
            f"Could not read or update python_version in {path} ({error}).\n"
            "If the project was on a Python the template dropped, choose a\n"
            "supported one once this update is committed:\n"
            f"    copier update --trust --data python_version={OLDEST_SUPPORTED}\n"
            f"{'!' * 72}\n",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
