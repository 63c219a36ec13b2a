"""Shorten a PyTorch project's training to one epoch of batches of 256.

    python short_training.py PARAMS_YAML

Run by `nox -s bench -- data` with the project's Python (PyYAML comes with every
project): the figures are about the data stages, not about how long an MLP may
train.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("params", type=Path)
    path = parser.parse_args().params
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    params["train"]["mlp"].update(epochs=1, batch_size=256)
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main()
