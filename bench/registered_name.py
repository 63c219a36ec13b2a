"""Print the name under which a project's pipeline registers its model.

    python registered_name.py

Run by `nox -s bench -- serve` with a rendered project's Python (PyYAML comes
with every project), in the project's folder: prints `register.name` from
`params.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    print(params["register"]["name"])


if __name__ == "__main__":
    main()
