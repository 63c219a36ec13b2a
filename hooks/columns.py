"""After `copier update`: move a project's own column description into columns.yaml.

copier.yml runs this on update (it needs `--trust`), in the project folder:

    python hooks/columns.py

Until this release the columns of the data were `data.features` in
`params.yaml`; now they are `columns.yaml`, and `params.yaml` is written in
DVC's style. A project that adopted its own data (`init-data`) holds its
columns in the old place, so the update leaves the template's default
`columns.yaml` and a conflict over the `data` section of `params.yaml`. When
the project's last commit has `data.features` and no `columns.yaml`, this
writes those columns to `columns.yaml` and resolves that conflict: the new
section's lines and comments, with the project's values. It then says what
DVC still needs (the adopted file under `dvc add`, and `ingest` depending on
it). Like every migration, it never fails the update (hooks/README.md).
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

RULE = "=" * 79
PARAMS = Path("params.yaml")
COLUMNS = Path("columns.yaml")
CONFLICT = re.compile(
    r"^<<<<<<< [^\n]*\n(?P<ours>.*?)^=======\n(?P<theirs>.*?)^>>>>>>> [^\n]*\n",
    re.MULTILINE | re.DOTALL,
)
# The data section's keys whose values the project keeps.
KEPT = ("source", "task", "target", "classes", "test_size")


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans, as DVC reads params.yaml: `no` and `yes` stay text."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def committed(path: Path) -> str | None:
    """The file as the project's last commit has it (None where it has none)."""
    shown = subprocess.run(
        ["git", "show", f"HEAD:{path.as_posix()}"], capture_output=True, text=True
    )
    return shown.stdout if shown.returncode == 0 else None


def scalar(value: Any) -> str:
    """A value as one YAML token that reads back the same under YAML 1.1 and 1.2."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False)
        .strip()
        .removesuffix("\n...")
        .strip()
    )


def columns_text(features: dict[str, Any], header: str) -> str:
    lines = [f"{scalar(name)}: {scalar(spec)}" for name, spec in features.items()]
    return header + "\n".join(lines) + "\n"


def header_of(text: str) -> str:
    """The comment lines that open `text`."""
    lines = text.splitlines(keepends=True)
    return "".join(itertools.takewhile(lambda line: line.startswith("#"), lines))


def with_values(section: str, data: dict[str, Any]) -> str:
    """The new data section's lines, comments kept, holding the project's values."""
    out: list[str] = []
    lines = section.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        match = re.match(r"^(\s+)(\w+):(.*?)(\s+#.*)?$", line.rstrip("\n"))
        i += 1
        if not match or match.group(2) not in KEPT or match.group(2) not in data:
            out.append(line)
            continue
        indent, key, comment = match.group(1), match.group(2), match.group(4) or ""
        while i < len(lines) and re.match(rf"^{indent}- ", lines[i]):
            i += 1  # the new section's block list: replaced below
        value = data[key]
        if isinstance(value, list):
            out.append(f"{indent}{key}:{comment}\n")
            out.extend(f"{indent}- {scalar(item)}\n" for item in value)
        else:
            shown = "" if value is None else f" {scalar(value)}"
            out.append(f"{indent}{key}:{shown}{comment}\n")
    return "".join(out)


def migrate() -> list[str]:
    """Do the move; return what was changed."""
    old_params = committed(PARAMS)
    if old_params is None or committed(COLUMNS) is not None or not COLUMNS.is_file():
        return []
    old_data = (yaml.load(old_params, Loader=Yaml12Loader) or {}).get("data") or {}
    features = old_data.get("features")
    if not isinstance(features, dict):
        return []
    changed = []
    template_columns = COLUMNS.read_text(encoding="utf-8")
    if yaml.load(template_columns, Loader=Yaml12Loader) != features:
        COLUMNS.write_text(
            columns_text(features, header_of(template_columns)), encoding="utf-8"
        )
        changed.append(f"{COLUMNS} holds your columns, from data.features of {PARAMS}")
    merged = PARAMS.read_text(encoding="utf-8")
    conflict = CONFLICT.search(merged)
    if conflict and "features:" in conflict.group("ours"):
        resolved = merged.replace(
            conflict.group(0), with_values(conflict.group("theirs"), old_data), 1
        )
        data = (yaml.load(resolved, Loader=Yaml12Loader) or {}).get("data") or {}
        if all(data.get(key) == old_data.get(key) for key in KEPT if key in old_data):
            PARAMS.write_text(resolved, encoding="utf-8")
            changed.append(f"the data section of {PARAMS} keeps your values")
    return changed


def main() -> int:
    try:
        changed = migrate()
    except Exception as error:  # a migration never fails the update
        print(
            f"{RULE}\nThe columns of your data could not be moved from params.yaml's "
            f"data.features to columns.yaml ({error}). Copy them there by hand, or "
            f"run `init-data YOUR_FILE --target COLUMN` again.\n{RULE}",
            file=sys.stderr,
        )
        return 0
    if changed:
        source = (
            (yaml.load(PARAMS.read_text(encoding="utf-8"), Loader=Yaml12Loader) or {})
            .get("data", {})
            .get("source", "")
        )
        print(
            f"{RULE}\nYour data's description moved to its new place: "
            + "; ".join(changed)
            + ". Check both files. The pipeline now versions an adopted file "
            f"with DVC: run `init-data {source} --target COLUMN` again (it "
            "rewrites both files from the data), or `dvc add` the file and add "
            "`- ${data.source}` to the deps of ingest in dvc.yaml.\n" + RULE,
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
