"""The pipeline as an MLflow model: raw feature columns in, the columns of
``predict`` out (``prediction`` and, for classification, ``proba_<class>``).

The ``register`` stage logs it with ``params.yaml``, ``columns.yaml``, the
fitted transform and the model file as artifacts, and :mod:`.mlflow_model` as
the code MLflow runs to load it ("models from code": no pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from ..modeling.predictor import Predictor


class PipelineModel(PythonModel):
    """Predicts with the same :class:`Predictor` as every other path."""

    def load_context(self, context: PythonModelContext) -> None:
        files = {key: Path(path) for key, path in context.artifacts.items()}
        self.predictor = Predictor.from_files(
            files["params"], files["transform"], files["model"]
        )

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        # A DataFrame hint: MLflow checks the input against the signature only.
        return self.predictor.predict(pd.DataFrame(model_input), "The input")
