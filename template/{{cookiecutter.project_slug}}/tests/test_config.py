"""Settings (paths, environment overrides), params.yaml and columns.yaml
loading, and params.yaml in the style DVC writes back."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PROJECT_ROOT
from dvc.utils.hydra import apply_overrides

from {{ cookiecutter.package_name }}.config import (
    ENV_PREFIX,
    Settings,
    find_project_root,
)
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.modeling.evaluators import dvc_plots
from {{ cookiecutter.package_name }}.params import load_params


def test_paths_resolve_against_project_root(tmp_path: Path) -> None:
    settings = Settings(project_root=tmp_path)
    assert settings.data_dir == tmp_path.resolve() / "data"
    assert settings.raw_file == tmp_path.resolve() / "data" / "raw" / "dataset.parquet"
    assert settings.processed_file.parent.parent == settings.data_dir
    assert settings.live_dir == tmp_path.resolve() / "reports" / "live"
    assert settings.params_file == tmp_path.resolve() / "params.yaml"


def declared_paths(stage: dict[str, Any]) -> set[str]:
    """Every output, metric and plot path a dvc.yaml stage declares."""
    entries = [*stage.get("outs", []), *stage.get("metrics", [])]
    entries += stage.get("plots", [])
    return {entry if isinstance(entry, str) else next(iter(entry)) for entry in entries}


def test_dvc_yaml_declares_the_files_config_names() -> None:
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    settings = Settings(project_root=PROJECT_ROOT)

    def relative(*paths: Path) -> set[str]:
        return {path.relative_to(settings.project_root).as_posix() for path in paths}

    assert declared_paths(stages["ingest"]) == relative(settings.raw_file)
    assert declared_paths(stages["prepare"]) == relative(
        settings.train_file, settings.test_file
    )
    assert declared_paths(stages["features"]) == relative(
        settings.processed_file, settings.transform_file
    )
    # DVCLive lays out its own folder: metrics.json and plots/ in it.
    assert declared_paths(stages["train"]) == relative(
        settings.model_file,
        settings.training_run_info_file,
        settings.live_dir / "metrics.json",
        settings.live_dir / "plots",
    )
    assert relative(
        settings.metrics_file,
        settings.evaluation_run_info_file,
        settings.evaluation_figures_dir,
        settings.plots_dir,
    ) == declared_paths(stages["evaluate"])
    assert declared_paths(stages["monitor"]) == relative(
        settings.drift_report_file,
        settings.drift_metrics_file,
        settings.drift_figure_file,
    )


def test_environment_overrides_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_PREFIX + "PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv(ENV_PREFIX + "DATA_DIR", "/mnt/data")
    monkeypatch.setenv(ENV_PREFIX + "LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.data_dir == Path("/mnt/data")
    assert settings.log_level == "DEBUG"


def test_project_root_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == tmp_path.resolve()


def test_repository_params_are_valid() -> None:
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    assert params.data.source == "sklearn:breast_cancer"
    assert params.train.model
    assert 0 < params.data.test_size < 1


def test_unknown_key_is_a_config_error(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[1] / "params.yaml"
    params = yaml.safe_load(source.read_text())
    params["data"]["tset_size"] = 0.3
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    shutil.copy(source.with_name("columns.yaml"), tmp_path)
    with pytest.raises(ConfigError, match="tset_size"):
        load_params(path)


def test_missing_params_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_params(tmp_path / "params.yaml")


def test_dvc_sends_no_usage_analytics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's .dvc/config turns DVC's analytics off, for every clone."""
    from dvc.analytics import is_enabled

    for variable in ("DVC_NO_ANALYTICS", "DVC_TEST"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(PROJECT_ROOT)
    assert is_enabled() is False


def test_missing_columns_yaml_is_a_config_error_naming_it(tmp_path: Path) -> None:
    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path)
    with pytest.raises(ConfigError, match=r"columns\.yaml does not exist"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ("age: {kind: numerc}\n", r"columns\.yaml is invalid: age\.kind"),
        ("[age, sex]\n", r"columns\.yaml must map each feature column"),
        ("target: {kind: numeric}\n", "the target 'target' is also listed"),
    ],
    ids=["unknown-kind", "a-list", "the-target"],
)
def test_a_bad_columns_yaml_is_a_config_error_saying_what_is_wrong(
    tmp_path: Path, columns: str, message: str
) -> None:
    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path)
    (tmp_path / "columns.yaml").write_text(columns)
    with pytest.raises(ConfigError, match=message):
        load_params(tmp_path / "params.yaml")


def test_labels_dvc_writes_without_quotes_stay_text(tmp_path: Path) -> None:
    # DVC writes YAML 1.2, where `no` and `yes` are text, not booleans.
    text = (PROJECT_ROOT / "params.yaml").read_text()
    text = text.replace("  - 0\n  - 1\n", "  - no\n  - yes\n")
    (tmp_path / "params.yaml").write_text(text)
    shutil.copy(PROJECT_ROOT / "columns.yaml", tmp_path)
    assert load_params(tmp_path / "params.yaml").data.classes == ["no", "yes"]


# Values that `dvc exp run -S` may set: one per kind of line in params.yaml (a
# number, a word, an empty value) and the framework's example.
OVERRIDES = [
    "seed=7",
    "train.model=random_forest",
    "register.threshold=0.9",
    {%- if cookiecutter.ml_framework == "pytorch" %}
    "train.mlp.epochs=50",
    "train.mlp.patience=5",
    {%- else %}
    "train.logistic_regression.C=0.5",
    "train.random_forest.max_depth=8",
    {%- endif %}
]


@pytest.mark.parametrize("override", OVERRIDES)
def test_dvc_writes_params_yaml_back_changing_only_the_set_line(
    tmp_path: Path, override: str
) -> None:
    path = tmp_path / "params.yaml"
    shutil.copy(PROJECT_ROOT / "params.yaml", path)
    before = path.read_text().splitlines()
    apply_overrides(path, [override])  # what `dvc exp run -S` runs
    after = path.read_text().splitlines()
    assert len(after) == len(before)
    changed = [(old, new) for old, new in zip(before, after) if old != new]
    assert len(changed) == 1, changed
    key, value = override.rsplit("=", 1)
    old, new = changed[0]
    assert new.split("#")[0].split() == [key.rsplit(".", 1)[-1] + ":", value]
    # The line keeps its comment, at the same column.
    assert new.partition("#")[1:] == old.partition("#")[1:]
    assert new.find("#") == old.find("#")


def test_dvc_yaml_plots_are_those_of_the_default_data() -> None:
    declared = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["plots"]
    assert declared == dvc_plots(load_params(PROJECT_ROOT / "params.yaml"))
