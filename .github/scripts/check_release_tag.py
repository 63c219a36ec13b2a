"""Exit 0 when CHANGELOG.md has a section for the release tag given (vX.Y.Z).

python .github/scripts/check_release_tag.py v0.2.0
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"
TAG = re.compile(r"v(\d+(?:\.\d+)*(?:(?:a|b|rc)\d+)?(?:\.post\d+)?)")


def released_versions(changelog: str) -> list[str]:
    """The versions of the changelog's `## X.Y.Z (date)` headings, newest first."""
    return re.findall(r"^## (\d\S*) \(\d{4}-\d{2}-\d{2}\)$", changelog, re.MULTILINE)


def main(argv: list[str]) -> int:
    (tag,) = argv
    match = TAG.fullmatch(tag)
    if match is None:
        print(f"::error::{tag!r} is not a release tag: expected vX.Y.Z (PEP 440)")
        return 1
    versions = released_versions(CHANGELOG.read_text(encoding="utf-8"))
    if match.group(1) not in versions:
        print(
            f"::error::CHANGELOG.md has no '## {match.group(1)} (YYYY-MM-DD)' "
            f"section for {tag}; it records: {', '.join(versions) or 'none'}"
        )
        return 1
    print(f"{tag}: recorded in CHANGELOG.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
