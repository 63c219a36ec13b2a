"""The package's shape: every module is documented, and the CLI loads a
stage's code only when that stage runs."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys

from conftest import PROJECT_ROOT

PACKAGE = "{{ cookiecutter.package_name }}"
# The file MLflow runs to load a registered model: no API to document.
UNDOCUMENTED = {f"{PACKAGE}.serving.mlflow_model"}


def modules() -> set[str]:
    """Every module of the package, sub-packages' own modules included."""
    package = importlib.import_module(PACKAGE)
    found = {
        module.name
        for module in pkgutil.walk_packages(package.__path__, PACKAGE + ".")
        if not module.ispkg
    }
    return found - {f"{PACKAGE}.__main__"}


def test_the_reference_documents_every_module() -> None:
    reference = (PROJECT_ROOT / "docs" / "reference.md").read_text()
    documented = set(re.findall(r"^::: (\S+)$", reference, flags=re.MULTILINE))
    assert documented == modules() - UNDOCUMENTED


def test_the_cli_loads_no_stage_until_a_command_runs() -> None:
    code = (
        f"import sys, {PACKAGE}.cli;"
        f"print(sorted(m for m in sys.modules if m.startswith('{PACKAGE}.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    layers = ("data", "features", "modeling", "tracking", "serving", "monitoring")
    assert not [layer for layer in layers if f"'{PACKAGE}.{layer}" in loaded]
