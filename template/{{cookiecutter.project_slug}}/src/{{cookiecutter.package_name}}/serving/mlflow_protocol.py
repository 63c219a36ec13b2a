"""The body of MLflow's scoring protocol (``POST /invocations``) as rows.

The JSON formats of ``mlflow models serve``: ``dataframe_split``
(``{"columns": [...], "data": [[...], ...]}``), ``dataframe_records``
(``[{...}, ...]``), and ``instances`` or ``inputs`` (rows, or one list per
column); CSV with a header line; and Parquet. The rows then pass the same request
model as ``/predict``; a NaN is a missing value, as pandas (and so MLflow's
client) writes one. A body the protocol cannot read raises
:class:`ProtocolError`, answered as MLflow answers (``error_code``, ``message``).
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd
import pyarrow as pa

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
PARQUET_TYPE = "application/vnd.apache.parquet"
Rows = list[Any]


class ProtocolError(Exception):
    """A body that MLflow's protocol cannot read, and the status to answer."""

    def __init__(self, message: str, kind: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status

    def body(self) -> dict[str, str]:
        """MLflow's error shape."""
        return {"error_code": "BAD_REQUEST", "message": str(self)}


def read_rows(body: bytes, content_type: str, text_columns: list[str]) -> Rows:
    """The rows of a JSON or CSV body. ``text_columns`` are read from CSV as
    text, whatever they look like (categories, dates)."""
    media_type, *parameters = [part.strip() for part in content_type.split(";")]
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().lower() != "utf-8":
            raise ProtocolError(
                f"Content-Type parameter {parameter!r} is not served: "
                "bodies are UTF-8.",
                "content_type",
                status=415,
            )
    if media_type.lower() == JSON_TYPE:
        return missing_as_none(json_rows(body))
    if media_type.lower() == CSV_TYPE:
        return csv_rows(body, text_columns)
    if media_type.lower() == PARQUET_TYPE:
        return parquet_rows(body)
    raise ProtocolError(
        f"Content-Type {media_type!r} is not served: send {JSON_TYPE}, "
        f"{CSV_TYPE} or {PARQUET_TYPE}.",
        "content_type",
        status=415,
    )


def missing_as_none(rows: Rows) -> Rows:
    """None for each NaN of the rows that are objects (others are refused later)."""
    return [
        (
            {
                k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in row.items()
            }
            if isinstance(row, dict)
            else row
        )
        for row in rows
    ]


def json_rows(body: bytes) -> Rows:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"The body is not JSON: {exc}", "json_invalid") from exc
    keys = [key for key in FORMATS if isinstance(payload, dict) and key in payload]
    if len(keys) != 1:
        raise ProtocolError(
            f"The body must be a JSON object with exactly one of {', '.join(FORMATS)}.",
            "format",
        )
    extra = sorted(set(payload) - {keys[0], "params"})
    if extra:
        raise ProtocolError(f"Unknown key(s) beside {keys[0]}: {extra}.", "format")
    if payload.get("params"):
        raise ProtocolError("This model takes no params.", "format")
    data = payload[keys[0]]
    if keys[0] == "dataframe_split":
        return split_rows(data)
    if isinstance(data, dict):
        return column_rows(data)
    if isinstance(data, list):
        return data
    raise ProtocolError(f"{keys[0]} must hold a list of rows.", "format")


def split_rows(data: Any) -> Rows:
    """Rows of pandas' ``split`` orientation; its ``index`` is ignored."""
    columns = data.get("columns") if isinstance(data, dict) else None
    values = data.get("data") if isinstance(data, dict) else None
    if not isinstance(columns, list) or not isinstance(values, list):
        raise ProtocolError(
            'dataframe_split must be {"columns": [...], "data": [[...], ...]}.',
            "format",
        )
    if not all(isinstance(name, str) for name in columns):
        raise ProtocolError("dataframe_split columns must be names.", "format")
    for i, row in enumerate(values):
        if not isinstance(row, list) or len(row) != len(columns):
            raise ProtocolError(
                f"dataframe_split row {i} must be a list of {len(columns)} values.",
                "format",
            )
    return [dict(zip(columns, row)) for row in values]


def column_rows(data: dict[str, Any]) -> Rows:
    """Rows of one list per column (``{"inputs": {"a": [...], ...}}``)."""
    lengths = {len(v) if isinstance(v, list) else -1 for v in data.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise ProtocolError(
            "Columns must be lists of one length: one value per row.", "format"
        )
    return [dict(zip(data, row)) for row in zip(*data.values())]


def csv_rows(body: bytes, text_columns: list[str]) -> Rows:
    """Rows of CSV with a header line; an empty cell is a missing value."""
    try:
        frame = pd.read_csv(
            io.BytesIO(body),
            dtype={name: str for name in text_columns},
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
        )
    except (ValueError, UnicodeDecodeError) as exc:
        message = " ".join(str(exc).split())
        raise ProtocolError(
            f"The body is not CSV with a header line: {message}", "csv_invalid"
        ) from exc
    return frame_rows(frame)


def parquet_rows(body: bytes) -> Rows:
    """Rows of a Parquet file; a null is a missing value."""
    try:
        frame = pd.read_parquet(io.BytesIO(body))
    except (ValueError, OSError, pa.ArrowException) as exc:
        message = " ".join(str(exc).split())
        raise ProtocolError(
            f"The body is not a Parquet file: {message}", "parquet_invalid"
        ) from exc
    return frame_rows(frame)


def frame_rows(frame: pd.DataFrame) -> Rows:
    """The frame's rows as objects, None where a value is missing."""
    rows: Rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return rows
