"""Settings (paths, environment overrides) and params.yaml loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.config import (
    ENV_PREFIX,
    Settings,
    find_project_root,
)
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.params import load_params


def test_paths_resolve_against_project_root(tmp_path: Path) -> None:
    settings = Settings(project_root=tmp_path)
    assert settings.data_dir == tmp_path.resolve() / "data"
    assert settings.raw_dir == tmp_path.resolve() / "data" / "raw"
    assert settings.processed_dir.parent == settings.data_dir
    assert settings.live_dir == tmp_path.resolve() / "reports" / "live"
    assert settings.params_file == tmp_path.resolve() / "params.yaml"


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
    with pytest.raises(ConfigError, match="tset_size"):
        load_params(path)


def test_missing_params_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_params(tmp_path / "params.yaml")
