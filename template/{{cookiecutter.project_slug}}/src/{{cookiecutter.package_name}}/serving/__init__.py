"""Serving: the trained pipeline's predictions for new rows, from the
project's model files or a registered MLflow model.

Batch ``predict`` (:mod:`.batch`), the HTTP API (:mod:`.api`, run by
``serve``) and the MLflow model (:mod:`.pyfunc`) all predict through
:class:`..modeling.predictor.Predictor`; :mod:`.loading` finds the model a
URI names.
"""
