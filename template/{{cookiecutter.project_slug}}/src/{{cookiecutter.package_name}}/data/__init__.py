"""Data: where the rows come from, what they must look like, and the
reproducible split into training and test rows.

Stages: ``ingest`` (:mod:`.ingest`) reads the configured source into
``data/raw``; ``prepare`` (:mod:`.prepare`) splits it into
``data/interim/{train,test}.parquet``. ``init-data`` (:mod:`.init_data`)
adopts a user's file by writing the ``data`` section of ``params.yaml``, and
versions it with DVC (:mod:`.versioning`). ``sample`` (:mod:`.sample`) writes
rows of the test split to try the model on.
"""
