"""After `copier update`: make poetry.lock agree with the updated pyproject.toml.

copier.yml runs this on update (it needs `--trust`), in the project folder:

    python hooks/relock.py TEMPLATE_ROOT ML_FRAMEWORK [PREVIOUS_REF]

The lock stays out of copier's 3-way merge, so after an update it may no longer
match pyproject.toml, or may still be the previous release's lock. In order:

1. the project's lock is the previous release's (at PREVIOUS_REF of the
   template) and the release's lock matches: the release's lock is taken, so
   fixes to a release's lock reach projects that never re-locked;
2. the project's lock still matches: it is kept as it is (the user's pins stay);
3. the release's own lock for the framework matches: it is taken, so the project
   holds exactly what a fresh render of the release holds;
4. otherwise the user changed dependencies: `poetry lock` resolves again,
   keeping every pin it can.

`poetry check --lock` passes afterwards. When it cannot re-lock (Poetry is not
on PATH, `poetry lock` fails, no network), the lock is left exactly as it was,
a block on stderr says what to run, and the exit status is still 0: the merge
is written already, so the update is complete (see hooks/README.md).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

MANUAL = "poetry lock && poetry check --lock"
RULE = "=" * 78


class RelockError(Exception):
    """The lock could not be brought in line; the message says why."""


PROJECT_FOLDER = "template/{{cookiecutter.project_slug}}"


def release_lock(template_root: Path, framework: str) -> Path:
    """The committed lock that a render for `framework` copies verbatim."""
    condition = f"cookiecutter.ml_framework == '{framework}'"
    name = f"{{% if {condition} %}}poetry.lock{{% endif %}}"
    return template_root / PROJECT_FOLDER / name


def earlier_lock_paths(framework: str) -> list[str]:
    """Where releases kept that lock: today's path, that of the commits whose
    project folder sat at the top, and that of releases before copier and
    cookiecutter shared one tree (0.1.0)."""
    today = release_lock(Path(), framework).as_posix()
    top_level = today.removeprefix("template/")
    name = f"{{% if ml_framework == '{framework}' %}}poetry.lock{{% endif %}}"
    return [today, top_level, f"template/{name}"]


def lock_matches(project: Path) -> bool:
    """Whether `poetry check --lock` accepts the project's lock."""
    check = ["poetry", "check", "--lock", "--no-interaction"]
    return subprocess.run(check, cwd=project, capture_output=True).returncode == 0


def released_lock_at(template_root: Path, ref: str, framework: str) -> bytes | None:
    """The lock the template shipped at `ref`, or None where git cannot say."""
    for path in earlier_lock_paths(framework):
        shown = subprocess.run(
            ["git", "show", f"{ref}:{path}"], cwd=template_root, capture_output=True
        )
        if shown.returncode == 0:
            return shown.stdout
    return None


def restore(lock: Path, previous: bytes | None) -> None:
    """Put the lock back as it was: these bytes, or no file."""
    if previous is None:
        lock.unlink(missing_ok=True)
    else:
        lock.write_bytes(previous)


def relock(
    project: Path, candidate: Path, previous_release: bytes | None = None
) -> str:
    """Bring the project's lock in line with its pyproject; say what was done."""
    lock = project / "poetry.lock"
    previous = lock.read_bytes() if lock.exists() else None
    if previous is not None and previous == previous_release:
        shutil.copyfile(candidate, lock)
        if lock_matches(project):
            return "poetry.lock was the previous release's: replaced by this release's."
        lock.write_bytes(previous)
    if lock.exists() and lock_matches(project):
        return "poetry.lock matches pyproject.toml: kept as it is."
    shutil.copyfile(candidate, lock)
    if lock_matches(project):
        return "poetry.lock replaced by the release's lock (dependencies as released)."
    restore(lock, previous)
    print("Dependencies differ from the release's: running poetry lock ...", flush=True)
    locking = subprocess.run(["poetry", "lock", "--no-interaction"], cwd=project)
    if locking.returncode != 0:
        raise RelockError(
            f"`poetry lock` exited {locking.returncode} (its output is above).\n"
            "Fix what it reports first (a dependency that cannot be resolved, or"
            " no network)."
        )
    if not lock_matches(project):
        raise RelockError("`poetry check --lock` still fails after `poetry lock`.")
    return "poetry.lock re-resolved: your pins were kept where possible."


def not_relocked(reason: str, project: Path) -> str:
    """The block that tells the user the update is done but the lock is not."""
    return "\n".join(
        [
            RULE,
            f"poetry.lock was NOT re-locked: {reason}",
            "The update itself is complete: the merged files are in place, and",
            "poetry.lock is left exactly as it was. To bring it in line with",
            f"pyproject.toml, run in {project}:",
            "",
            f"    {MANUAL}",
            "",
            "and commit poetry.lock.",
            RULE,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template_root", type=Path)
    parser.add_argument("ml_framework")
    parser.add_argument("previous_ref", nargs="?", help="the template's version before")
    args = parser.parse_args(argv)
    project = Path.cwd()
    if shutil.which("poetry") is None:
        reason = (
            "Poetry is not on PATH.\n"
            "Install Poetry 2 first: https://python-poetry.org/docs/#installation"
        )
        print(not_relocked(reason, project), file=sys.stderr)
        return 0
    candidate = release_lock(args.template_root, args.ml_framework)
    previous_release = None
    if args.previous_ref:
        previous_release = released_lock_at(
            args.template_root, args.previous_ref, args.ml_framework
        )
    lock = project / "poetry.lock"
    before = lock.read_bytes() if lock.exists() else None
    try:
        message = relock(project, candidate, previous_release)
    except (RelockError, OSError, subprocess.SubprocessError) as error:
        restore(lock, before)
        print(not_relocked(str(error), project), file=sys.stderr)
        return 0
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
