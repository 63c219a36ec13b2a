"""Reading users' files as they are written: the delimiter, the encoding (a
byte-order mark, UTF-16) and the decimal mark are detected, the table reads
back as written, and a file that is not UTF-8 is refused with the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.data.dialect import DELIMITERS, TextFormat, detect
from {{ cookiecutter.package_name }}.data.tables import read_table
from {{ cookiecutter.package_name }}.errors import DataValidationError

# Column names as people write them: spaces, parentheses, dots, accents,
# leading digits, units. Never a delimiter, a quote or a line break.
NAME_CHARACTERS = st.sampled_from(list("abcxyzABC019 ().-_%/éüßµ°²€日本"))
names = st.lists(
    st.text(NAME_CHARACTERS, min_size=1, max_size=12).map(str.strip).filter(bool),
    min_size=2,
    max_size=5,
    unique=True,
)
FORMATS = st.builds(
    TextFormat,
    delimiter=st.sampled_from(sorted(DELIMITERS)),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    decimal=st.sampled_from([".", ","]),
).filter(lambda text: text.delimiter != text.decimal)


def frame_of(columns: list[str], n_rows: int, seed: int) -> pd.DataFrame:
    """Numbers with decimals in every column but the last, which holds words."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {name: rng.normal(size=n_rows).round(3) + 0.001 for name in columns[:-1]}
    )
    frame[columns[-1]] = rng.choice(["red", "green", "sky blue, light"], size=n_rows)
    return frame


def write(path: Path, frame: pd.DataFrame, text: TextFormat) -> Path:
    frame.to_csv(
        path,
        index=False,
        sep=text.delimiter,
        encoding=text.encoding,
        decimal=text.decimal,
    )
    return path


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(columns=names, text=FORMATS, n_rows=st.integers(2, 30), seed=st.integers(0, 99))
def test_the_format_a_table_was_written_in_is_detected_and_it_reads_back(
    tmp_path: Path, columns: list[str], text: TextFormat, n_rows: int, seed: int
) -> None:
    frame = frame_of(columns, n_rows, seed)
    path = write(tmp_path / "table.csv", frame, text)

    assert detect(path, "Table") == text
    pd.testing.assert_frame_equal(read_table(path, "Table"), frame)


def test_a_single_column_file_reads_as_comma_separated(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("value\n1.5\n2.5\n", encoding="utf-8")
    assert detect(path, "Table") == TextFormat()


def test_a_given_delimiter_and_encoding_are_taken_as_they_are(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", frame_of(["a", "b"], 5, 0), TextFormat(";"))
    given_format = detect(path, "Table", delimiter=",", encoding="latin-1")
    assert (given_format.delimiter, given_format.encoding) == (",", "latin-1")


@pytest.mark.parametrize(
    ("raw", "likely"),
    [
        ("Température;Ville\n12,5;Genève\n".encode("cp1252"), "cp1252"),
        # 0x81 is no character in cp1252.
        (b"x,y\n\x81,1\n", "latin-1"),
    ],
    ids=["cp1252", "latin-1"],
)
def test_text_that_is_not_utf8_is_refused_with_the_likely_encoding(
    tmp_path: Path, raw: bytes, likely: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(raw)
    with pytest.raises(DataValidationError) as info:
        read_table(path, "Data file")
    message = " ".join(str(info.value).split())
    assert "is not UTF-8 text" in message
    assert f"--encoding {likely}" in message


def test_a_cp1252_file_reads_with_its_encoding_given(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("Température;Ville\n12,5;Genève\n".encode("cp1252"))
    frame = read_table(path, "Data file", detect(path, "Data file", encoding="cp1252"))
    assert frame.to_dict("list") == {"Température": [12.5], "Ville": ["Genève"]}


def test_an_excel_workbook_reads_its_first_sheet(tmp_path: Path) -> None:
    frame = frame_of(["petal width (cm)", "2nd", "species"], 6, 1)
    path = tmp_path / "book.xlsx"
    frame.to_excel(path, index=False)
    pd.testing.assert_frame_equal(read_table(path, "Workbook"), frame)
