"""Fast tier: the generated README and docs read as whole sentences for every
answer set, so that no Jinja conditional leaves a sentence broken."""

from __future__ import annotations

import re

import pytest
from conftest import Project

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])(?:\s|$)")
ABBREVIATIONS = re.compile(r"\b(?:e\.g|i\.e|etc|vs|cf)\.$")

# (what is wrong, pattern in prose with each code span read as `CODE`)
BROKEN = [
    ("a sentence that starts lowercase", re.compile(r"\. [a-z]")),
    ("doubled spaces", re.compile(r"\S  +\S")),
    ("doubled punctuation", re.compile(r"[,;:]\s*[,;:.]|(?<!\.)\.\.(?!\.)|\(\s*\)")),
    ("a space before punctuation", re.compile(r"\w [,;:.](?:\s|$)")),
    (
        "a plural verb after a single name",
        re.compile(r"(?<!\band )(?<!\bor )(?<!, )\bCODE (?:are|were|have)\b"),
    ),
]


def prose_lines(markdown: str):
    """(line number, text) of each line outside code, with code spans as `CODE`.

    Code is a fenced block, or an indented one (after a blank line, outside a
    list); a blank text ends a paragraph.
    """
    fenced = in_code = in_list = False
    previous_blank = True
    for number, line in enumerate(markdown.splitlines(), start=1):
        blank = not line.strip()
        if FENCE.match(line) or fenced:
            fenced ^= bool(FENCE.match(line))
            yield number, ""
            continue
        indented = line.startswith(("    ", "\t"))
        in_code = indented and not in_list and (previous_blank or in_code)
        if LIST_MARKER.match(line):
            in_list = True
        elif previous_blank and not blank and not line.startswith(" "):
            in_list = False
        previous_blank = blank
        text = LINK.sub(r"\1", INLINE_CODE.sub("CODE", line)).strip()
        if in_code or text.startswith(("|", ":::", "<!--")):
            yield number, ""  # code; table rows align with spaces; mkdocstrings
        else:
            yield number, text


def sentences_across_lines(lines):
    """Each paragraph's lines joined, so that a sentence may wrap."""
    paragraph: list[tuple[int, str]] = []
    for number, text in [*lines, (0, "")]:
        starts_block = not text or text.startswith("#") or LIST_MARKER.match(text)
        if starts_block and paragraph:
            yield paragraph[0][0], " ".join(part for _, part in paragraph)
            paragraph = []
        if text:
            paragraph.append((number, text))


def problems(markdown: str) -> list[str]:
    lines = list(prose_lines(markdown))
    found = [
        f"line {number}: empty list item"
        for number, text in lines
        if LIST_MARKER.match(text) and not LIST_MARKER.sub("", text).strip()
    ]
    for number, paragraph in sentences_across_lines(lines):
        for what, pattern in BROKEN:
            for match in pattern.finditer(paragraph):
                before = paragraph[: match.start() + 1]
                if what.startswith("a sentence") and ABBREVIATIONS.search(before):
                    continue
                context = paragraph[max(0, match.start() - 40) : match.end() + 20]
                found.append(f"paragraph at line {number}: {what}: ...{context}...")
    return found


@pytest.mark.parametrize(
    "markdown",
    [
        "Seeds Python, NumPy. `PYTHONHASHSEED` are set where processes start.",
        "It runs the tests. then it stops.",
        "- first\n-\n- third",
        "Install it with  Poetry.",
        "Seeds Python, NumPy , and torch.",
        "Sessions: lint,, tests.",
    ],
    ids=[
        "plural-verb",
        "lowercase-start",
        "empty-item",
        "spaces",
        "space-comma",
        "punct",
    ],
)
def test_the_prose_check_finds_a_broken_sentence(markdown: str) -> None:
    assert problems(markdown)


def test_the_prose_check_skips_code_and_abbreviations() -> None:
    markdown = (
        "Run it, e.g. the `nox  -s . lint` session.\n\n"
        "```bash\nnox -s tests  # two spaces. fine\n```\n\n"
        "| a  | b |\n| --- | --- |\n\n"
        "Indented code:\n\n    x  = 1. y\n\n- an item\n\n    its second paragraph.\n\n"
        "`PYTHONHASHSEED` and `CUBLAS_WORKSPACE_CONFIG` are set where it starts.\n"
    )
    assert problems(markdown) == []


def test_readme_and_docs_have_no_broken_sentence(project: Project) -> None:
    pages = [project.path / "README.md", *sorted((project.path / "docs").glob("*.md"))]
    found = {
        str(page.relative_to(project.path)): problems(page.read_text(encoding="utf-8"))
        for page in pages
    }
    assert {page: issues for page, issues in found.items() if issues} == {}
