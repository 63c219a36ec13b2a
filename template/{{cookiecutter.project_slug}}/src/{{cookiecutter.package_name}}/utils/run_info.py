"""A record of the environment a stage ran in, written next to its metrics.

It holds package versions, the platform, the device and the determinism
switches actually in effect, so two runs that disagree can be compared. It has
no timestamps, so re-running a stage on the same machine writes the same file.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from . import atomic

PACKAGES = ("numpy", "pandas", "scikit-learn", "pandera", "torch", "dvclive")
# Category-like names whose order as a set depends on the string-hash seed.
HASH_PROBE = ("apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel")


def package_versions() -> dict[str, str]:
    """Versions of Python and of the key packages that are installed."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def torch_state() -> dict[str, Any]:
    """Device and determinism switches of torch, if this process uses it."""
    if "torch" not in sys.modules:
        return {"device": "cpu"}
    import torch

    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda_version": torch.version.cuda,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        **distributed_state(),
    }


def string_hash_order() -> list[str]:
    """The order in which this process iterates a set of fixed names.

    It follows the string-hash seed the interpreter started with (which
    ``PYTHONHASHSEED`` sets, and nothing can change later): two runs that
    record different orders could also order a set of categories differently.
    """
    return list(set(HASH_PROBE))


def distributed_state() -> dict[str, Any]:
    """How many processes trained together (torchrun) and their backend."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return {"world_size": dist.get_world_size(), "backend": dist.get_backend()}
    return {"world_size": 1, "backend": None}


def collect(seed: int, stage: str) -> dict[str, Any]:
    """Everything about this run's environment that can change its results."""
    return {
        "stage": stage,
        "seed": seed,
        "versions": package_versions(),
        "platform": {
            "system": platform.platform(),
            "machine": platform.machine(),
            "implementation": platform.python_implementation(),
        },
        "torch": torch_state(),
        "environment": {
            name: os.environ.get(name)
            for name in ("CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED")
        },
        "string_hash_order": string_hash_order(),
    }


def write(path: Path, seed: int, stage: str) -> dict[str, Any]:
    """Collect the run information and write it to ``path`` as JSON."""
    info = collect(seed, stage)
    atomic.write_json(path, info)
    return info
