"""Save a rendered project's trained model as an MLflow pyfunc that calls the
project's own prediction path, for `mlflow models serve` to serve.

    python mlflow_pyfunc.py PROJECT_ROOT PACKAGE DESTINATION

Run it with a Python that has mlflow and sees the project's package. The
pyfunc reads the project (params.yaml, models/) from PROJECT_ROOT when the
server loads it, and answers what `predict` writes: a `prediction` column and,
for classification, `proba_<class>` columns.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import mlflow.pyfunc


class ProjectModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def __init__(self, root: str, package: str) -> None:
        self.root = root
        self.package = package

    def load_context(self, context: Any) -> None:
        config = importlib.import_module(f"{self.package}.config")
        params = importlib.import_module(f"{self.package}.params")
        predict = importlib.import_module(f"{self.package}.predict")
        settings = config.Settings(project_root=Path(self.root))
        self.predictor = predict.Predictor.load(
            settings, params.load_params(settings.params_file)
        )

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return self.predictor.predict(model_input, "The request")


def main() -> None:
    root, package, destination = sys.argv[1:4]
    mlflow.pyfunc.save_model(
        destination,
        python_model=ProjectModel(str(Path(root).resolve()), package),
        code_paths=[__file__],
    )


if __name__ == "__main__":
    main()
