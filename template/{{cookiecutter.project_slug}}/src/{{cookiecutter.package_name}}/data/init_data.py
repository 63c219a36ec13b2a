"""Command ``init-data``: adopt a CSV, Excel or Parquet file as the project's data.

It reads the file (a CSV file's delimiter, encoding and decimal mark are
detected, see :mod:`.dialect`), infers the task, the classes, each feature
column's kind (numeric, categorical, or datetime with the form its dates are
written in) and which columns may be missing, leaves out columns that only
identify rows or hold names and free text, reports what the data checks find
(:mod:`.checks`), writes the columns to ``columns.yaml`` and rewrites
the ``data`` section of ``params.yaml`` in the style ``dvc exp run -S`` writes
back, keeping the rest of the file (comments included) as it was. Given the
task's plots, it rewrites the top-level ``plots`` section of ``dvc.yaml`` too.
The file is versioned with the project (:mod:`.versioning`): copied into
``data/external`` when it lives elsewhere, tracked by DVC, and declared as the
``ingest`` stage's dependency in ``dvc.yaml``. Nothing is written unless the
file passes every check.
"""

from __future__ import annotations

import codecs
import filecmp
import logging
import re
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..config import Settings
from ..errors import ConfigError, DataValidationError
from ..params import (
    CHECKS,
    ENGINES,
    TASKS,
    Checks,
    DataParams,
    FeatureSpec,
    Params,
    Task,
    Yaml12Dumper,
    Yaml12Loader,
    columns_path,
    parse_columns,
    parse_params,
)
from ..utils import atomic
from .checks import Finding, check_table
from .checks import report as report_findings
from .dialect import DELIMITERS, TextFormat, detect
from .formats import is_remote, is_text_table
from .schema import label_values, validate_frame
from .sources import SOURCES, get_source, local_copy
from .split import check_class_sizes
from .versioning import is_dvc_repository, track, with_source_dep

logger = logging.getLogger(__name__)

MAX_CLASSES = 20
"""An integer target with at most this many distinct values is a class label."""
NEAR_UNIQUE_SHARE = 0.5
"""A text column with more distinct values than this share of its rows (and
more than :data:`MAX_CLASSES`) names or describes rows: it is no category."""
DELIMITER_NAMES = {name: char for char, name in DELIMITERS.items()} | {"\\t": "\t"}
"""What ``--delimiter`` takes besides the character itself: tab, or a \\t."""
DATE_FORMATS = {
    "ISO8601": "ISO 8601 (2024-12-31)",
    "%d/%m/%Y": "day first (31/12/2024)",
    "%m/%d/%Y": "month first (12/31/2024)",
    "%d.%m.%Y": "day first (31.12.2024)",
    "%d-%m-%Y": "day first (31-12-2024)",
    "%Y/%m/%d": "year first (2024/12/31)",
}
"""The forms of dates recognised, in order of preference where several fit
(day first before month first)."""
TIMES = ("", " %H:%M", " %H:%M:%S")
DEFAULT_SPLIT = 0.2
"""Held-out share for testing and validation when params.yaml sets none."""


@dataclass(frozen=True)
class ColumnReport:
    """What ``init-data`` concluded about one column."""

    name: str
    kind: str
    missing: int
    note: str = ""


def infer_task(target: pd.Series) -> Task:
    """Regression for a float target; classification for text, booleans or
    integers with few distinct values."""
    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        return "classification"
    if pd.api.types.is_integer_dtype(target):
        return "classification" if target.nunique() <= MAX_CLASSES else "regression"
    return "regression"


def is_identifier(column: pd.Series) -> bool:
    """An integer or text column with one distinct value per row, e.g. an id."""
    integer_or_text = pd.api.types.is_integer_dtype(column) or not (
        pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    )
    return bool(
        len(column) > 1
        and integer_or_text
        and column.notna().all()
        and column.nunique() == len(column)
    )


def date_forms(column: pd.Series) -> list[tuple[str | None, str]]:
    """Every form (strptime format, or None for ISO 8601, and its words) that
    reads all the column's values as dates; empty when it holds no dates."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return [(None, "dates and times")]
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return []
    # Each distinct value once: a column of a million rows may hold a few
    # hundred dates, or a few category codes.
    present = pd.Series(column.dropna().unique()).astype(str).str.strip()
    if present.empty or not present.str.contains(r"\d", regex=True).all():
        return []
    forms: list[tuple[str | None, str]] = []
    for base, words in DATE_FORMATS.items():
        for time in ("",) if base == "ISO8601" else TIMES:
            parsed = pd.to_datetime(present, format=base + time, errors="coerce")
            if parsed.notna().all():
                forms.append((None if base == "ISO8601" else base + time, words))
                break
    return forms


def is_free_text(column: pd.Series) -> bool:
    """A text column whose values are nearly all different: names, notes, ids."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    distinct = column.nunique()
    return bool(
        distinct > MAX_CLASSES and distinct > NEAR_UNIQUE_SHARE * column.notna().sum()
    )


def infer_columns(
    frame: pd.DataFrame, target: str
) -> tuple[dict[str, FeatureSpec], list[ColumnReport]]:
    """Each feature column's description, and a report line for every column."""
    features: dict[str, FeatureSpec] = {}
    report = []
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        missing = int(column.isna().sum())
        if missing == len(column):
            report.append(ColumnReport(str(name), "left out", missing, "always empty"))
            continue
        forms = date_forms(column)
        if forms:
            (form, words), *others = forms
            spec = FeatureSpec(kind="datetime", nullable=missing > 0, format=form)
            features[str(name)] = spec
            note = f"{words}: calendar features"
            if others:
                note += f"; {others[0][1]} fits too: set its format in columns.yaml"
            if missing:
                note += "; missing: the training median"
            report.append(ColumnReport(str(name), spec.kind, missing, note))
            continue
        if is_identifier(column):
            note = "one distinct value per row: identifies rows"
            report.append(ColumnReport(str(name), "left out", missing, note))
            continue
        if is_free_text(column):
            note = (
                f"{column.nunique()} distinct values in {len(column) - missing} "
                "rows: names or free text, not a category"
            )
            report.append(ColumnReport(str(name), "left out", missing, note))
            continue
        numeric = pd.api.types.is_numeric_dtype(column) and not (
            pd.api.types.is_bool_dtype(column)
        )
        spec = FeatureSpec(
            kind="numeric" if numeric else "categorical", nullable=missing > 0
        )
        features[str(name)] = spec
        note = "" if numeric else f"{column.nunique()} categories"
        if missing:
            fill = "the training median" if numeric else "a category of its own"
            note = f"{note}; missing: {fill}" if note else f"missing: {fill}"
        report.append(ColumnReport(str(name), spec.kind, missing, note))
    return features, report


def infer_data(
    frame: pd.DataFrame,
    source: str,
    target: str,
    task: Task | None,
    splits: tuple[float, float],
    checks: Checks = "warn",
) -> tuple[DataParams, list[ColumnReport]]:
    """The ``data`` section that describes ``frame``; raises on unusable data.

    ``splits`` are the shares held out for testing and validation, which every
    class must survive.
    """
    if len(frame) == 0:
        raise DataValidationError(f"{source} has a header but no rows.")
    if target not in frame.columns:
        hint = ""
        if len(frame.columns) == 1:
            hint = (
                " It was read as a single column: if its fields are separated by "
                "another character, pass it with --delimiter."
            )
        raise DataValidationError(
            f"{source} has no column {target!r}: choose --target among "
            f"{', '.join(map(repr, map(str, frame.columns)))}.{hint}"
        )
    labels = frame[target]
    if labels.isna().any():
        rows = [int(i) + 1 for i in labels.index[labels.isna()][:3]]
        raise DataValidationError(
            f"The target column {target!r} is empty in {int(labels.isna().sum())} "
            f"row(s), e.g. row(s) {', '.join(map(str, rows))}: drop or fill them."
        )
    if labels.nunique() < 2:
        raise DataValidationError(
            f"The target column {target!r} holds a single value "
            f"({labels.iloc[0]!r}): there is nothing to learn."
        )
    task = task or infer_task(labels)
    if task == "regression" and not (
        pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
    ):
        raise DataValidationError(
            f"Regression needs a numeric target, but {target!r} holds text such as "
            f"{labels.iloc[0]!r}: use --task classification."
        )
    features, report = infer_columns(frame, target)
    if not features:
        raise DataValidationError(
            f"{source} has no feature column left besides {target!r}: the others "
            "are empty or identify rows."
        )
    classes = None
    if task == "classification":
        values = label_values(labels)
        check_class_sizes(dict(values.value_counts(sort=False).items()), *splits)
        classes = sorted(values.unique().tolist(), key=lambda v: (str(type(v)), v))
    data = DataParams(
        source=source,
        task=task,
        target=target,
        classes=classes,
        test_size=splits[0],
        checks=checks,
        features=features,
    )
    validate_frame(frame, data, source, strict="filter")
    return data, report


def data_section(data: DataParams) -> str:
    """The ``data`` section of ``params.yaml``, with comments for a person, as
    DVC writes it back: lists in block style, an empty value for none."""
    lines = [
        "data:",
        "  # `init-data FILE --target COLUMN` writes this section and columns.yaml",
        "  # (each feature column's kind); edit them freely.",
        f"  source: {flow(data.source)}  # a CSV, Excel or Parquet file, or "
        "sklearn:<name>",
        f"  task: {data.task}  # classification or regression",
        f"  target: {flow(data.target)}  # the column to predict",
        "  classes:  # every label, as in the data; empty for regression",
        *(f"  - {flow(label)}" for label in data.labels),
        f"  test_size: {data.test_size}  # share of rows held out for evaluation",
        f"  checks: {data.checks}  # warn or error: what a data-quality or leakage "
        "finding does",
        f"  engine: {data.engine}  # pandas, or dask for tables larger than memory",
    ]
    if is_text_table(Path(data.source)) and data.source not in SOURCES:
        lines += [
            "  # How the CSV file is written, as init-data detected it:",
            f"  delimiter: {flow(data.delimiter)}",
            f"  encoding: {flow(data.encoding)}",
            f"  decimal: {flow(data.decimal)}",
        ]
    return "\n".join(lines) + "\n"


COLUMNS_HEADER = """\
# The feature columns of the data, in order: kind numeric, categorical or
# datetime; nullable: true where values may be missing; min/max: optional
# bounds of a numeric column; categories: optional list of the only values a
# categorical column takes; format: how a datetime column's dates are written
# (e.g. '%d/%m/%Y'; none for ISO 8601). `init-data FILE --target COLUMN`
# writes this file; edit it freely. The pipeline's stages depend on it
# (dvc.yaml), and a change re-runs them; it is not a DVC parameter file, so
# `dvc exp show` does not list it.
"""


def columns_text(data: DataParams) -> str:
    """``columns.yaml``: one line per feature column, after a comment."""
    lines = []
    for name, spec in data.features.items():
        fields = {"kind": spec.kind, **spec.model_dump(exclude_defaults=True)}
        lines.append(f"{flow(name)}: {flow(fields)}")
    return COLUMNS_HEADER + "\n".join(lines) + "\n"


class IndentedDumper(Yaml12Dumper):
    """Lists indented under their key, as ``dvc.yaml`` writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def plots_section(plots: list[Any]) -> str:
    """The top-level ``plots`` section of ``dvc.yaml`` that lists ``plots``."""
    text: str = yaml.dump(
        {"plots": plots},
        Dumper=IndentedDumper,
        sort_keys=False,
        allow_unicode=True,
        width=10**9,
    )
    return text


def flow(value: object) -> str:
    """``value`` as one line of YAML, quoted only where DVC's YAML needs it."""
    text = yaml.dump(
        value,
        Dumper=Yaml12Dumper,
        default_flow_style=True,
        allow_unicode=True,
        sort_keys=False,
        width=10**9,
    )
    return text.removesuffix("\n...\n").strip()


TOP_LEVEL_KEY = re.compile(r"^[^\s#]")


def replace_section(
    text: str, key: str, section: str, where: str = "params.yaml"
) -> str:
    """``text`` (of the file ``where``) with the top-level mapping ``key:``
    replaced by ``section``.

    Comment lines and blank lines just before the next top-level key belong
    to that key and stay.
    """
    lines = text.splitlines(keepends=True)
    start = next(
        (i for i, line in enumerate(lines) if re.match(rf"^{key}:(\s|$)", line)), None
    )
    if start is None:
        raise ConfigError(f"{where} has no top-level {key!r} section to rewrite.")
    end = next(
        (i for i in range(start + 1, len(lines)) if TOP_LEVEL_KEY.match(lines[i])),
        len(lines),
    )
    while end > start + 1 and (
        not lines[end - 1].strip() or lines[end - 1].startswith("#")
    ):
        end -= 1
    tail = lines[end:]
    gap = "\n" if tail and tail[0].strip() else ""
    return "".join(lines[:start]) + section + gap + "".join(tail)


def source_name(path: str, project_root: Path) -> str:
    """How params.yaml refers to ``path``: relative to the project when inside;
    a bundled table or a URL as it is."""
    if path in SOURCES or is_remote(path):
        return path
    absolute = Path(path).expanduser().resolve()
    try:
        return absolute.relative_to(project_root).as_posix()
    except ValueError:
        return absolute.as_posix()


def in_project(settings: Settings, source: str) -> Path:
    """The file ``source`` names: as it is if absolute, else in the project."""
    path = Path(source)
    return path if path.is_absolute() else settings.project_root / path


def placement(settings: Settings, source: str) -> Path:
    """Where the adopted file lives: where it is when inside ``data/external``,
    else a file of the same name there, which must not hold other data."""
    path = in_project(settings, source).resolve()
    external = settings.external_dir.resolve()
    if external in path.parents:
        return path
    destination = external / path.name
    if destination.exists() and not filecmp.cmp(path, destination, shallow=False):
        raise ConfigError(
            f"{destination} exists and holds other data than {path}: rename one "
            "of them, or adopt that one."
        )
    return destination


@dataclass(frozen=True)
class Adoption:
    """The outcome of ``init-data``: the data section written and why, and
    where the adopted file went."""

    data: DataParams
    report: list[ColumnReport]
    rows: int
    findings: list[Finding]
    """What the data-quality and leakage checks found."""
    text: TextFormat | None = None
    """How the file's text is written, for a CSV file."""
    copied_from: Path | None = None
    """The file adopted, when it was copied into ``data/external``."""
    tracked: Path | None = None
    """The ``.dvc`` file that versions the data, when DVC tracks it."""


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist.") from None


def init_data(
    settings: Settings,
    path: str,
    target: str,
    task: str | None,
    plots: Callable[[Params], list[Any]] | None = None,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Adoption:
    """Infer the data's description from the file at ``path``; write it to
    params.yaml (data section) and columns.yaml, and ``plots(params)`` as the
    top-level plots of dvc.yaml when given; version the file with DVC and make
    the ingest stage depend on it.

    A CSV file's ``delimiter`` and ``encoding`` are detected unless given.

    Raises :class:`~.errors.PipelineError` (and writes nothing) when the file
    or the answers cannot make a usable data set.
    """
    if task is not None and task not in TASKS:
        raise ConfigError(f"--task must be one of {', '.join(TASKS)}, not {task!r}.")
    params_path = settings.params_file
    text = read_text(params_path, "Parameter file")
    try:
        raw = yaml.load(text, Loader=Yaml12Loader) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{params_path} is not valid YAML: {exc}") from None
    splits = (
        (raw.get("data") or {}).get("test_size", DEFAULT_SPLIT),
        (raw.get("train") or {}).get("val_size", DEFAULT_SPLIT),
    )
    source = source_name(path, settings.project_root)
    is_file = source not in SOURCES
    text_format = None
    with ExitStack() as stack:
        local = source  # an object in storage is read from one local copy
        if is_remote(source):
            local = str(stack.enter_context(local_copy(source)))
        if is_file and is_text_table(Path(source)):
            text_format = read_format(settings, local, delimiter, encoding)
        frame = get_source(local, target, settings.project_root, text_format).load()
    checks = (raw.get("data") or {}).get("checks", "warn")
    if checks not in CHECKS:
        raise ConfigError(
            f"data.checks in {params_path} must be warn or error, not {checks!r}."
        )
    engine = (raw.get("data") or {}).get("engine", "pandas")
    if engine not in ENGINES:
        raise ConfigError(
            f"data.engine in {params_path} must be pandas or dask, not {engine!r}."
        )
    data, report = infer_data(frame, source, target, task, splits, checks)
    data = data.model_copy(update={"engine": engine})
    findings = check_table(frame, data)
    if data.checks == "error":
        report_findings(findings, data, source)
    if text_format is not None:
        data = data.model_copy(
            update={
                "delimiter": text_format.delimiter,
                "encoding": text_format.encoding,
                "decimal": text_format.decimal,
            }
        )
    # An object in storage stays there: DVC follows it by its ETag.
    adopted_file = is_file and not is_remote(source)
    destination = placement(settings, source) if adopted_file else None
    if destination is not None:
        adopted = source_name(str(destination), settings.project_root)
        data = data.model_copy(update={"source": adopted})
    # What is written must read back as the description inferred.
    updated = replace_section(text, "data", data_section(data))
    columns = columns_text(data)
    columns_file = columns_path(params_path)
    written = yaml.load(updated, Loader=Yaml12Loader)
    written["data"]["features"] = parse_columns(
        yaml.load(columns, Loader=Yaml12Loader), columns_file
    )
    params = parse_params(written, params_path)
    pipeline_file = settings.pipeline_file
    before = pipeline = None
    if plots is not None or pipeline_file.is_file():
        before = read_text(pipeline_file, "Pipeline file")
        pipeline = with_source_dep(before, present=is_file)
    if pipeline is not None and plots is not None:
        section = plots_section(plots(params))
        try:
            pipeline = replace_section(pipeline, "plots", section, pipeline_file.name)
        except ConfigError:  # no plots section yet: add one
            pipeline = f"{pipeline.rstrip()}\n\n{section}"
    copied_from, tracked = place_and_track(settings, source, destination)
    atomic.write_text(columns_file, columns)
    atomic.write_text(params_path, updated)
    if pipeline is not None and pipeline != before:
        atomic.write_text(pipeline_file, pipeline)
    return Adoption(
        data, report, len(frame), findings, text_format, copied_from, tracked
    )


def read_format(
    settings: Settings, source: str, delimiter: str | None, encoding: str | None
) -> TextFormat | None:
    """How the text file ``source`` is written: detected, except what is
    given; None when there is no such file."""
    path = in_project(settings, source)
    if not path.is_file():
        return None
    if delimiter is not None:
        delimiter = DELIMITER_NAMES.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise ConfigError(
                f"--delimiter must be one character or one of "
                f"{', '.join(DELIMITER_NAMES)}, not {delimiter!r}."
            )
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(
                f"--encoding {encoding!r} is not an encoding Python knows, e.g. "
                "cp1252, latin-1, utf-16."
            ) from None
    return detect(path, "Data file", delimiter, encoding)


def place_and_track(
    settings: Settings, source: str, destination: Path | None
) -> tuple[Path | None, Path | None]:
    """Copy the file to ``destination`` unless it is there, and track it with
    DVC in a DVC repository; a failure leaves no copy behind."""
    if destination is None:
        return None, None
    origin = in_project(settings, source)
    copied = origin.resolve() != destination and not destination.exists()
    if copied:
        with atomic.replacing(destination) as tmp:
            shutil.copyfile(origin, tmp)
    try:
        tracked = track(settings, destination) if is_dvc_repository(settings) else None
    except ConfigError:
        if copied:
            destination.unlink()
        raise
    return (origin if copied else None), tracked


def format_report(adoption: Adoption) -> str:
    """A short table of what was inferred, for the terminal."""
    data, report = adoption.data, adoption.report
    what = f"classes {', '.join(map(str, data.labels))}" if data.classes else "values"
    head = (
        f"{data.source}: {adoption.rows} rows; task {data.task}; target "
        f"{data.target!r} ({what})"
    )
    if adoption.text is not None:
        head += f"\nRead as {adoption.text.describe()}."
    width = max(len("column"), *(len(line.name) for line in report))
    rows = [("column", "kind", "missing", "note")]
    rows += [(line.name, line.kind, str(line.missing), line.note) for line in report]
    table = [
        f"{name:<{width}}  {kind:<11}  {missing:>7}  {note}".rstrip()
        for name, kind, missing, note in rows
    ]
    warnings = [f"Warning: {finding.message}" for finding in adoption.findings]
    return "\n".join([head, *table, *warnings])
