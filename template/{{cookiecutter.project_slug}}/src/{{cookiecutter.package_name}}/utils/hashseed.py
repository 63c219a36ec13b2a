"""Pipeline commands run with the project's string-hash seed, however launched.

Python fixes the seed of ``str`` hashing (and so the iteration order of sets
of strings) from ``PYTHONHASHSEED`` when the interpreter starts; nothing can
change it afterwards. So when a pipeline command starts without the project's
seed, it runs itself once more as a child process with the seed set, and
passes the child's output and exit code through. A child process, not
``os.exec*``: on Windows, ``exec`` starts a new process and ends the calling
one at once, so the caller (DVC, a scheduler) would see the command finish
before its work, with the wrong exit code.

This module imports only the standard library: the decision costs nothing
next to the imports of the command itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

PACKAGE = __name__.partition(".")[0]
HASH_SEED = "0"
# Commands whose outputs must not depend on how the process was launched: the
# stages of dvc.yaml. A new command that needs the same guarantee adds its name.
SEEDED_COMMANDS = frozenset(
    {
        "ingest",
        "prepare",
        "features",
        "train",
        "evaluate",
        "monitor",
        "register",
        "tune",
    }
)


def needs_hash_seed(args: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether the command line ``args`` must be run again with the hash seed.

    Any argument naming a seeded command counts (also after options such as
    ``--log-level DEBUG``); running a command once more is harmless.
    """
    runs_seeded_command = not SEEDED_COMMANDS.isdisjoint(args)
    return runs_seeded_command and environ.get("PYTHONHASHSEED") != HASH_SEED


def run_with_hash_seed(args: Sequence[str]) -> int:
    """Run ``python -m <package> args`` with the hash seed; its exit code.

    The child shares this process's stdin, stdout and stderr, and is asked to
    stop when this process is (SIGTERM, as schedulers and ``timeout`` send).
    """
    command = [sys.executable, "-m", PACKAGE, *args]
    env = {**os.environ, "PYTHONHASHSEED": HASH_SEED}
    with subprocess.Popen(command, env=env) as child:
        signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
        try:
            code = child.wait()
        except KeyboardInterrupt:
            # Ctrl+C reached the child too: let it stop and report its status.
            code = child.wait()
    # A child ended by signal N reports -N; a shell reports 128 + N.
    return code if code >= 0 else 128 - code
