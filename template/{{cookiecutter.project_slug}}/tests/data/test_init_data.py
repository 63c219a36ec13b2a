"""``init-data``: what it infers from a file, what it writes to params.yaml,
columns.yaml and dvc.yaml (in the style DVC writes back, with the plots of the
task), and the files it refuses (leaving every file untouched)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import DATA_SETS, iris_with_names, passengers, write_data_set
from dvc.utils.hydra import apply_overrides
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.data.init_data import (
    infer_columns,
    infer_task,
    replace_section,
)
from {{ cookiecutter.package_name }}.data.schema import parse_dates
from {{ cookiecutter.package_name }}.modeling.evaluators import (
    EVALUATORS,
    FIGURES,
    TRAINING_PLOTS,
)
from {{ cookiecutter.package_name }}.params import load_params

runner = CliRunner()

# Column makers: (kind init-data must infer, values for n rows from a generator).
COLUMNS = {
    "numeric": lambda n, rng: rng.normal(size=n),
    "numeric-int": lambda n, rng: rng.integers(0, 3, size=n),
    "categorical": lambda n, rng: rng.choice(["red", "green", "blue"], size=n),
    "categorical-bool": lambda n, rng: rng.random(n) > 0.5,
    "identifier": lambda n, rng: rng.permutation(n) + 10_000,
}


@settings(max_examples=40, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=6),
    n_rows=st.integers(8, 60),
    gaps=st.lists(st.booleans(), min_size=6, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_init_data_infers_the_kind_of_every_column(
    kinds: list[str], n_rows: int, gaps: list[bool], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {f"c{i}": COLUMNS[k](n_rows, rng) for i, k in enumerate(kinds)}
    )
    for i, kind in enumerate(kinds):
        if gaps[i] and kind != "identifier":
            frame[f"c{i}"] = frame[f"c{i}"].astype(object).mask(np.arange(n_rows) == 2)
            frame[f"c{i}"] = frame[f"c{i}"].infer_objects()
    frame["y"] = np.arange(n_rows) % 2
    features, report = infer_columns(frame, "y")
    for i, kind in enumerate(kinds):
        name = f"c{i}"
        if kind == "identifier":
            assert name not in features
            assert any(line.name == name and line.kind == "left out" for line in report)
            continue
        assert features[name].kind == kind.split("-")[0], (name, frame[name].dtype)
        assert features[name].nullable == gaps[i]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0.5, 1.25, 3.0, 2.0], "regression"),
        ([0, 1, 1, 0], "classification"),
        (list(range(100)), "regression"),
        (["a", "b", "a", "c"], "classification"),
        ([True, False, True, True], "classification"),
    ],
    ids=["float", "few-integers", "many-integers", "text", "boolean"],
)
def test_the_task_follows_the_target(values: list, task: str) -> None:
    assert infer_task(pd.Series(values)) == task


def params_text(project: Path) -> str:
    return (project / "params.yaml").read_text(encoding="utf-8")


def project_files(project: Path) -> dict[str, str]:
    """The files init-data may write, as text."""
    names = ("params.yaml", "columns.yaml", "dvc.yaml")
    return {name: (project / name).read_text(encoding="utf-8") for name in names}


def top_level_sections(text: str) -> dict[str, str]:
    """Each top-level key's lines (with its comments), as text."""
    sections: dict[str, str] = {}
    key = ""
    for line in text.splitlines(keepends=True):
        if line[:1] not in ("", " ", "#", "\n"):
            key = line.split(":", 1)[0]
        sections[key] = sections.get(key, "") + line
    return sections


def test_replace_section_rewrites_only_that_section() -> None:
    head, tail = "# head\nseed: 1\n\n", "\n# about train\ntrain:\n  c: 3\n"
    text = head + "data:\n  a: 1\n  b: 2\n" + tail
    updated = replace_section(text, "data", "data:\n  z: 9\n")
    assert updated == head + "data:\n  z: 9\n" + tail


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_adopting_a_file_writes_the_data_section_only(project: Path) -> None:
    before = params_text(project)
    path = project / "data" / "external" / "passengers.csv"
    passengers().to_csv(path, index=False)

    code, output = invoke("init-data", str(path), "--target", "survived")

    assert code == 0, output
    after = params_text(project)
    old, new = top_level_sections(before), top_level_sections(after)
    assert list(old) == list(new)
    assert {key for key in old if old[key] != new[key]} == {"data"}
    assert "features" not in yaml.safe_load(after)["data"]
    columns = yaml.safe_load((project / "columns.yaml").read_text())
    assert list(columns) == ["cabin_class", "sex", "age", "port"]
    data = load_params(project / "params.yaml").data
    assert data.source == "data/external/passengers.csv"
    assert (data.task, data.target, data.classes) == (
        "classification",
        "survived",
        ["no", "yes"],
    )
    assert data.categorical == ["sex", "port"]
    assert data.numeric == ["cabin_class", "age"]
    assert [n for n, s in data.features.items() if s.nullable] == ["age", "port"]
    assert "passenger_id  left out" in output
    assert "one distinct value per row" in output


def ingest_deps(project: Path) -> list[str]:
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    deps: list[str] = pipeline["stages"]["ingest"]["deps"]
    return deps


def test_a_file_from_elsewhere_is_copied_to_data_external_and_ingest_depends_on_it(
    project: Path, tmp_path: Path
) -> None:
    pipeline = project / "dvc.yaml"
    before = pipeline.read_text()
    origin = tmp_path / "downloads" / "passengers.csv"
    origin.parent.mkdir()
    passengers().to_csv(origin, index=False)

    code, output = invoke("init-data", str(origin), "--target", "survived")

    assert code == 0, output
    adopted = project / "data" / "external" / "passengers.csv"
    assert adopted.read_bytes() == origin.read_bytes()
    source = load_params(project / "params.yaml").data.source
    assert source == "data/external/passengers.csv"
    # The ingest stage depends on that one file, not on data/external.
    assert ingest_deps(project)[-1] == "${data.source}"
    assert "data/external" not in ingest_deps(project)
    after = pipeline.read_text().splitlines()
    assert [line for line in after if line not in before.splitlines()] == [
        "      - ${data.source}"
    ]
    # Not a DVC repository (no .dvc folder): it says the file is not versioned.
    assert "data/external/passengers.csv is not versioned" in output

    # A bundled table is no file: the dependency goes again (the stages are as
    # before; the plots are those of the new task).
    code, output = invoke("init-data", "sklearn:iris", "--target", "species")
    assert code == 0, output
    stages = yaml.safe_load(pipeline.read_text())["stages"]
    assert stages == yaml.safe_load(before)["stages"]


def test_other_data_under_the_same_name_in_data_external_is_refused(
    project: Path, tmp_path: Path
) -> None:
    existing = project / "data" / "external" / "passengers.csv"
    passengers(seed=1).to_csv(existing, index=False)
    origin = tmp_path / "passengers.csv"
    passengers(seed=2).to_csv(origin, index=False)
    kept = (existing, project / "params.yaml", project / "dvc.yaml")
    files = {path: path.read_bytes() for path in kept}

    code, output = invoke("init-data", str(origin), "--target", "survived")

    assert code == 1
    assert "holds other data than" in " ".join(output.split())
    assert {path: path.read_bytes() for path in files} == files


def test_string_labels_are_kept_as_they_are(project: Path) -> None:
    path = project / "data" / "external" / "iris.csv"
    iris_with_names().to_csv(path, index=False)
    code, output = invoke("init-data", str(path), "--target", "species")
    assert code == 0, output
    raw = yaml.safe_load(params_text(project))
    assert raw["data"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_task_can_be_forced(project: Path) -> None:
    path = project / "data" / "external" / "counts.csv"
    frame = pd.DataFrame({"x": np.arange(60) * 0.5, "visits": np.arange(60) % 3})
    frame.to_csv(path, index=False)
    code, output = invoke(
        "init-data", str(path), "--target", "visits", "--task", "regression"
    )
    assert code == 0, output
    data = load_params(project / "params.yaml").data
    assert (data.task, data.classes) == ("regression", None)


def write(project: Path, name: str, content: bytes | pd.DataFrame) -> Path:
    path = project / "data" / "external" / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        content.to_csv(path, index=False)
    return path


GOOD = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40) % 2})
BAD_FILES = {
    "missing-file": (None, "y", "does not exist"),
    "empty-file": (b"", "y", "is empty"),
    "header-only": (b"x,y\n", "y", "has a header but no rows"),
    "not-utf8": ("x,y\ncaf\u00e9,1\n".encode("latin-1"), "y", "is not UTF-8"),
    "unreadable": (b'x,y\n"1,2\n', "y", "not a readable CSV"),
    "no-target": (GOOD, "label", "has no column 'label'"),
    "constant-target": (GOOD.assign(y=1), "y", "holds a single value"),
    "duplicated-columns": (b"x,x,y\n1,2,0\n3,4,1\n", "y", "duplicated column"),
    "no-feature-left": (
        pd.DataFrame({"id": range(40), "y": np.arange(40) % 2}),
        "y",
        "no feature column left",
    ),
    "rare-class": (GOOD.assign(y=[0] * 38 + [1, 1]), "y", "too few rows"),
    "empty-target": (GOOD.assign(y=GOOD["y"].where(GOOD["x"] != 3)), "y", "empty in 1"),
}


@pytest.mark.parametrize(
    ("content", "target", "message"), BAD_FILES.values(), ids=list(BAD_FILES)
)
def test_bad_files_are_refused_and_params_untouched(
    project: Path, content: bytes | pd.DataFrame | None, target: str, message: str
) -> None:
    before = project_files(project)
    path = (
        project / "data" / "external" / "absent.csv"
        if content is None
        else write(project, "mine.csv", content)
    )
    code, output = invoke("init-data", str(path), "--target", target)
    assert code == 1
    assert message in output
    assert output.startswith("Error: ") and "Traceback" not in output
    assert project_files(project) == before


def test_an_unknown_task_is_refused(project: Path) -> None:
    path = write(project, "mine.csv", GOOD)
    code, output = invoke("init-data", str(path), "--target", "y", "--task", "ranking")
    assert code == 1 and "--task must be one of classification, regression" in output


def adopt_data_set(project: Path, name: str) -> None:
    path, target = write_data_set(name, project / "data" / "external")
    code, output = invoke("init-data", str(path), "--target", target)
    assert code == 0, output


@pytest.mark.parametrize("name", sorted(DATA_SETS))
def test_dvc_writes_back_what_init_data_wrote_changing_only_the_set_line(
    project: Path, name: str
) -> None:
    adopt_data_set(project, name)
    path = project / "params.yaml"
    before, data = path.read_text().splitlines(), load_params(path).data
    apply_overrides(path, ["seed=7"])  # what `dvc exp run -S seed=7` runs
    after = path.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after) if old != new]
    assert len(after) == len(before) and changed == [("seed: 42", "seed: 7")]
    # Labels such as `no` and `yes`, written without quotes, stay text.
    assert load_params(path).data == data


EVALUATOR_OF = {
    "multiclass-string-labels": "multiclass",
    "categorical-with-missing": "binary",
    "regression": "regression",
    "dated": "multiclass",
}


@pytest.mark.parametrize("name", sorted(DATA_SETS))
def test_init_data_declares_the_plots_of_the_task_in_dvc_yaml(
    project: Path, name: str
) -> None:
    before = yaml.safe_load((project / "dvc.yaml").read_text())
    adopt_data_set(project, name)
    after = yaml.safe_load((project / "dvc.yaml").read_text())
    plots = EVALUATORS[EVALUATOR_OF[name]].plots
    assert after.pop("plots") == [*plots, *TRAINING_PLOTS, *FIGURES]
    del before["plots"]
    # The stages are untouched but for ingest's dependency on the adopted file.
    assert after["stages"]["ingest"]["deps"].pop() == "${data.source}"
    assert after == before


def test_an_evaluator_that_cannot_score_the_new_data_stops_init_data(
    project: Path,
) -> None:
    text = params_text(project).replace("evaluator: auto", "evaluator: binary")
    (project / "params.yaml").write_text(text)
    before = project_files(project)
    make, target, _ = DATA_SETS["regression"]
    path = write(project, "regression.csv", make())
    code, output = invoke("init-data", str(path), "--target", target)
    assert code == 1
    assert "set evaluate.evaluator to auto" in output
    assert project_files(project) == before


def test_an_excel_export_is_read_as_written_and_its_format_recorded(
    project: Path,
) -> None:
    path, target = write_data_set("multiclass-string-labels", project / "data")

    code, output = invoke("init-data", str(path), "--target", target)

    assert code == 0, output
    assert "Read as semicolon-separated, utf-8-sig (byte-order mark)" in output
    data = load_params(project / "params.yaml").data
    assert (data.delimiter, data.encoding, data.decimal) == (";", "utf-8-sig", ",")
    assert list(data.features) == list(iris_with_names().columns[:-1])
    assert data.numeric == list(data.features)


def test_a_wrong_delimiter_given_is_explained(project: Path) -> None:
    path, target = write_data_set("multiclass-string-labels", project / "data")
    before = project_files(project)
    code, output = invoke(
        "init-data", str(path), "--target", target, "--delimiter", "comma"
    )
    assert code == 1
    assert "read as a single column" in output and "--delimiter" in output
    assert project_files(project) == before


def test_an_excel_workbook_is_adopted_without_a_text_format(project: Path) -> None:
    path = project / "data" / "external" / "iris.xlsx"
    iris_with_names().to_excel(path, index=False)

    code, output = invoke("init-data", str(path), "--target", "species")

    assert code == 0, output
    text = (project / "params.yaml").read_text()
    assert "delimiter" not in yaml.safe_load(text)["data"]
    assert load_params(project / "params.yaml").data.source == "data/external/iris.xlsx"


def test_names_and_free_text_are_left_out_with_the_reason(project: Path) -> None:
    frame = passengers()
    rng = np.random.default_rng(3)
    # Mostly distinct names, some shared: no identifier, yet no category.
    frame["name"] = [f"Passenger {i}" for i in rng.integers(0, 400, len(frame))]
    path = write(project, "named.csv", frame)

    code, output = invoke("init-data", str(path), "--target", "survived")

    assert code == 0, output
    distinct = frame["name"].nunique()
    assert f"{distinct} distinct values in {len(frame)} rows" in output
    assert "name" not in load_params(project / "params.yaml").data.features


def test_init_data_prints_what_the_checks_found(project: Path) -> None:
    frame = passengers().assign(deck="B")
    frame["outcome"] = frame["survived"].map({"yes": "saved", "no": "lost"})
    path = write(project, "leaky.csv", frame)

    code, output = invoke("init-data", str(path), "--target", "survived")

    assert code == 0, output
    warnings = [line for line in output.splitlines() if line.startswith("Warning: ")]
    assert any("'outcome' recodes the target" in line for line in warnings)
    assert any("'deck' holds one value" in line for line in warnings)


def test_with_checks_set_to_error_a_finding_stops_init_data(project: Path) -> None:
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("checks: warn", "checks: error"))
    path = write(project, "leaky.csv", passengers().assign(deck="B"))
    before = project_files(project)

    code, output = invoke("init-data", str(path), "--target", "survived")

    assert code == 1
    assert "fails its data checks" in output and "'deck'" in output
    assert project_files(project) == before
    assert not (project / "data" / "external" / "leaky.csv.dvc").exists()


# Forms of dates init-data must recognise, and the format it records for each.
DATE_WRITINGS = {
    "%Y-%m-%d": None,
    "%Y-%m-%dT%H:%M:%S": None,
    "%d/%m/%Y": "%d/%m/%Y",
    "%m/%d/%Y": "%m/%d/%Y",
    "%d.%m.%Y %H:%M": "%d.%m.%Y %H:%M",
}


@settings(max_examples=30, deadline=None)
@given(
    writing=st.sampled_from(sorted(DATE_WRITINGS)),
    days=st.lists(
        st.datetimes(
            min_value=datetime(1950, 1, 1), max_value=datetime(2050, 12, 31)
        ).map(lambda moment: moment.replace(second=0, microsecond=0)),
        min_size=3,
        max_size=30,
    ),
)
def test_dates_are_recognised_in_the_form_they_are_written(
    writing: str, days: list[datetime]
) -> None:
    # A day above 12 and a month-first date with one: the form is not ambiguous.
    days = [datetime(2024, 1, 31, 12, 30), *days]
    frame = pd.DataFrame({"when": [day.strftime(writing) for day in days]})
    frame["y"] = np.arange(len(frame)) % 2
    features, report = infer_columns(frame, "y")
    spec = features["when"]
    assert (spec.kind, spec.format) == ("datetime", DATE_WRITINGS[writing])
    line = next(line for line in report if line.name == "when")
    assert "calendar features" in line.note
    parsed = parse_dates(frame["when"], spec)
    expected = pd.Series(days)
    if "%H" not in writing:
        expected = expected.dt.normalize()
    assert parsed.tolist() == expected.tolist()


def test_an_ambiguous_date_is_read_day_first_and_the_alternative_named() -> None:
    frame = pd.DataFrame({"when": ["01/02/2024", "03/04/2024", "05/06/2024"]})
    frame["y"] = [0, 1, 0]
    features, report = infer_columns(frame, "y")
    assert features["when"].format == "%d/%m/%Y"
    (line,) = [line for line in report if line.name == "when"]
    assert "day first" in line.note and "month first (12/31/2024) fits too" in line.note


def test_a_date_that_identifies_rows_is_kept_as_a_date(project: Path) -> None:
    path, target = write_data_set("dated", project / "data" / "external")

    code, output = invoke("init-data", str(path), "--target", target)

    assert code == 0, output
    spec = load_params(project / "params.yaml").data.features["date"]
    assert (spec.kind, spec.format) == ("datetime", "%d/%m/%Y")
    assert "date" in output and "day first (31/12/2024)" in output
