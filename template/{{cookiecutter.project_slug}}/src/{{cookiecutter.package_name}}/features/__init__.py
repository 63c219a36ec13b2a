"""Features: the transform fitted on the training split, the model-ready
training matrix, and the targets as the models learn them.

Stage ``features`` (:mod:`.build`) fits the transform (:mod:`.transform`) and
writes ``models/transform.json`` and ``data/processed/train.parquet``
(:mod:`.processed`).
"""
