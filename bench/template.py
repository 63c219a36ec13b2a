"""What the template's nox sessions and the benchmarks share: where the
template is, the frameworks it renders, and rendering its working tree."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("pytorch", "sklearn")


def render(session: nox.Session, destination: Path, **answers: str) -> None:
    """Render the working tree (uncommitted changes included) with `answers`."""
    data = [f"--data={key}={value}" for key, value in answers.items()]
    session.run(
        "copier", "copy", "--quiet", "--defaults", "--vcs-ref=HEAD", *data,
        str(ROOT), str(destination),
    )  # fmt: skip
