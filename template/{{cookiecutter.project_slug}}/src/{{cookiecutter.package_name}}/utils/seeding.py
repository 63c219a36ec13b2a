"""One place that makes a run repeatable: seeds and determinism switches.

Call :func:`seed_everything` once at the start of a stage, after the model
module is imported. It seeds Python's ``random`` and NumPy and, when the
process uses torch (the PyTorch model module imports it), seeds torch on the
CPU and every CUDA device and switches torch to deterministic algorithms. A
project that never imports torch does not pay for importing it here.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import warnings
from typing import Any

import numpy as np

from .hashseed import HASH_SEED, PACKAGE

logger = logging.getLogger(__name__)

CUBLAS_WORKSPACE_CONFIG = ":4096:8"


def seed_everything(seed: int) -> None:
    """Seed every random number generator in use and force determinism.

    Sets ``CUBLAS_WORKSPACE_CONFIG`` (needed by deterministic cuBLAS; it only
    takes effect if CUDA has not been initialised yet, so call this first)
    unless already set. Warns when ``PYTHONHASHSEED`` is not the project's
    hash seed, since hash randomisation cannot be switched off once Python
    runs: the pipeline commands of the CLI always run with it (see
    :mod:`.hashseed`), other callers must set it before starting Python.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:
        warnings.warn(
            f"PYTHONHASHSEED is not {HASH_SEED}: the iteration order of sets of "
            f"strings may differ between runs. Set PYTHONHASHSEED={HASH_SEED} "
            f"before starting Python, or run the stage through the CLI "
            f"(python -m {PACKAGE} <stage>), which sets it.",
            RuntimeWarning,
            stacklevel=2,
        )
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        _seed_torch(seed)
    logger.debug("Seeded random number generators with %d", seed)


def _seed_torch(seed: int) -> None:
    """Seed torch (CPU and all CUDA devices) and switch on deterministic mode."""
    import torch

    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    deterministic_algorithms(torch)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def deterministic_algorithms(torch: Any) -> None:
    """``torch.use_deterministic_algorithms(True)``, without its second of start-up.

    The public switch also sets the option of ``torch.compile``'s compiler,
    and imports that compiler to do so: over a second in every stage, for a
    project that never compiles. The switch itself lives in torch's core,
    which is set directly where it exists.
    """
    core_switch = getattr(torch._C, "_set_deterministic_algorithms", None)
    if core_switch is None or "torch._inductor" in sys.modules:
        torch.use_deterministic_algorithms(True)
    else:
        core_switch(True, warn_only=False)
