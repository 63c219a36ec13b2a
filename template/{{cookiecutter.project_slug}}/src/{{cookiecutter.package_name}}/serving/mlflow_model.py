"""The file MLflow loads the pipeline's model from ("models from code").

The ``register`` stage logs this file with the model instead of a pickled
object: MLflow runs it when the model is loaded, with the package's code
beside it.
"""

from mlflow.models import set_model

from {{ cookiecutter.package_name }}.serving.pyfunc import PipelineModel

set_model(PipelineModel())
