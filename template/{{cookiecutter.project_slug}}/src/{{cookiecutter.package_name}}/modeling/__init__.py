"""Modeling: the model and how it trains, the evaluators that score it, and
the one path from raw rows to predictions.

Stages: ``train`` (:mod:`.train`) fits the model of ``params.yaml`` on the
processed training split; ``evaluate`` (:mod:`.evaluate`) scores it on the
test split against the evaluator of the task. Every prediction, here and in
serving and monitoring, goes through :class:`.predictor.Predictor`.
"""
