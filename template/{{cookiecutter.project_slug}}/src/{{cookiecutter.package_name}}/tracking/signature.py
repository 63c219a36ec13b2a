"""What a model was trained on: its data signature.

The signature is the task, the target, the classes and the feature columns
with their kinds, as the ``data`` section of ``params.yaml`` describes them
(bounds, missing values and listed categories left out: they refine the same
data). Its SHA-256 names it: two models are of the same kind of data when
their hashes are equal. ``register`` tags every version with it and compares
a model only with a champion of the same signature; ``predict`` checks a
file's columns against the signature of the model it scores with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..params import DataParams

TAG_PREFIX = "data."
HASH_TAG = TAG_PREFIX + "signature"
# MLflow keeps at most this many characters in a model version's tag.
MAX_TAG_CHARS = 100_000
MAX_SHOWN = 5


def data_signature(data: DataParams) -> dict[str, Any]:
    """``{"task", "target", "classes", "features": {column: kind}}``, columns
    in name order, so that reordering ``params.yaml`` changes nothing."""
    return {
        "task": data.task,
        "target": data.target,
        "classes": data.classes,
        "features": {name: data.features[name].kind for name in sorted(data.features)},
    }


def signature_hash(signature: Mapping[str, Any]) -> str:
    """SHA-256 of the signature's canonical JSON."""
    text = json.dumps(signature, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def signature_tags(data: DataParams) -> dict[str, str]:
    """The model version tags: ``data.task``, ``data.target``, ``data.classes``,
    ``data.features`` (JSON) and ``data.signature``, the hash of them all."""
    signature = data_signature(data)
    tags = {
        TAG_PREFIX + key: value if isinstance(value, str) else json.dumps(value)
        for key, value in signature.items()
    }
    features = tags[TAG_PREFIX + "features"]
    if len(features) > MAX_TAG_CHARS:
        # Too wide for a tag: the hash still identifies it, and the model's
        # bundled params.yaml holds the whole description.
        tags[TAG_PREFIX + "features"] = (
            f"{len(signature['features'])} columns: see the model's params.yaml"
        )
    tags[HASH_TAG] = signature_hash(signature)
    return tags


def summary(data: DataParams) -> str:
    """``classification of 'target' from 30 columns (signature 1a2b3c4d5e6f)``."""
    signature = data_signature(data)
    return (
        f"{data.task} of {data.target!r} from {len(data.features)} column(s) "
        f"(signature {signature_hash(signature)[:12]})"
    )


def shown(names: list[str]) -> str:
    """Up to ``MAX_SHOWN`` names, quoted, and how many more there are."""
    listed = ", ".join(map(repr, names[:MAX_SHOWN]))
    more = len(names) - MAX_SHOWN
    return f"{listed} and {more} more" if more > 0 else listed


def column_mismatch(
    model: DataParams, columns: list[str], project: DataParams | None = None
) -> str | None:
    """Why a table with ``columns`` cannot be scored by a model trained on
    ``model``'s data, or None when it holds every feature column.

    Names the missing columns, the columns the model does not know, and the
    data the model was trained on beside ``project``'s when they differ.
    """
    missing = [name for name in model.features if name not in columns]
    if not missing:
        return None
    known = {*model.features, model.target}
    extra = [name for name in columns if name not in known]
    reason = f"it lacks {len(missing)} of the model's column(s) ({shown(missing)})"
    if extra:
        reason += f" and has {len(extra)} the model does not know ({shown(extra)})"
    reason += f". The model predicts {summary(model)}"
    if project is not None and signature_hash(
        data_signature(project)
    ) != signature_hash(data_signature(model)):
        reason += (
            f", but params.yaml describes {summary(project)}: the model was "
            "trained on other data. Score with a model of this data (the "
            "champion, once `dvc repro` has registered one)"
        )
    return reason
