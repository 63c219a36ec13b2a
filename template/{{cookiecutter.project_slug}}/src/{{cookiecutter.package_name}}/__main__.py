"""Allow ``python -m <package>``: the pipeline stages call the CLI this way."""

from __future__ import annotations

import os
import sys

from .utils.hashseed import needs_hash_seed, run_with_hash_seed


def main() -> None:
    """Run the CLI; pipeline commands always run with the project's hash seed."""
    args = sys.argv[1:]
    if needs_hash_seed(args, os.environ):
        sys.exit(run_with_hash_seed(args))
    from .cli import app  # after the decision: the CLI imports far more

    app()


if __name__ == "__main__":
    main()
