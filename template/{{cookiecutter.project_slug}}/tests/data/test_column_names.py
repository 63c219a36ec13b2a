"""Any column name works end to end: spaces, brackets, dots, unicode, leading
digits, Python keywords. The name is the same in columns.yaml, the schema, the
transform's output, the API's JSON and the model's signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.data.init_data import columns_text
from {{ cookiecutter.package_name }}.data.schema import validate_frame
from {{ cookiecutter.package_name }}.features.transform import FeatureTransform
from {{ cookiecutter.package_name }}.params import (
    DataParams,
    FeatureSpec,
    Yaml12Loader,
    parse_columns,
)
from {{ cookiecutter.package_name }}.serving.api import request_model
from {{ cookiecutter.package_name }}.tracking.signature import data_signature

# Printable text of any script, and the names people trip over.
names = st.one_of(
    st.text(
        st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]),
        min_size=1,
        max_size=20,
    ).filter(lambda name: name.strip() == name and name),
    st.sampled_from(
        ["petal width (cm)", "2nd", "class", "def", "a.b", "x-y", "日付", "%", "None"]
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    columns=st.lists(names, min_size=3, max_size=6, unique=True),
    target=st.sampled_from(["y", "label (0/1)"]),
)
def test_any_column_name_survives_yaml_schema_transform_and_api(
    columns: list[str], target: str
) -> None:
    columns = [name for name in columns if name != target]
    numeric, categorical = columns[0], columns[1]
    kinds = {name: FeatureSpec() for name in columns} | {
        categorical: FeatureSpec(kind="categorical")
    }
    data = DataParams(target=target, classes=[0, 1], features=kinds)

    # columns.yaml as init-data writes it reads back as the same columns.
    raw = yaml.load(columns_text(data), Loader=Yaml12Loader)
    assert parse_columns(raw, Path("columns.yaml")) == data.features

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.normal(size=20) for name in columns})
    frame[categorical] = rng.choice(["a", "b"], 20)
    frame[target] = np.arange(20) % 2
    checked = validate_frame(frame, data, "rows")
    assert list(checked.columns) == [*columns, target]

    transform = FeatureTransform.fit(checked, data, "standard")
    assert numeric in transform.output_columns
    assert {f"{categorical}=a", f"{categorical}=b"} <= set(transform.output_columns)
    assert transform.transform(checked).shape[0] == 20

    # The API's request uses the names as they are in the file.
    row = {name: 1.5 for name in columns} | {categorical: "a"}
    request = request_model(data, max_rows=10).model_validate({"rows": [row]})
    assert request.model_dump(by_alias=True) == {"rows": [row]}

    assert set(data_signature(data)["features"]) == set(columns)
