"""Tracking: the history of runs and the model registry, with MLflow.

DVC owns the data, the pipeline and the canonical model file; MLflow keeps the
history of runs to browse and compare, and the registry. Stage ``register``
(:mod:`.registry`) records the pipeline's run (:mod:`.runs`) in the store
(:mod:`.store`) and registers its model; no other stage talks to MLflow, so
tracking costs the pipeline one process and never changes a bit of its outputs.
"""
