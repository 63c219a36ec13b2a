"""After `copier update`: carry the user's edits of moved modules to their new place.

copier.yml runs this on update (it needs `--trust`), in the project folder:

    python hooks/relayout.py TEMPLATE_ROOT PREVIOUS_REF ANSWERS_FILE

Release 0.2.0 moved the package's flat modules into sub-packages by stage of
the model's life (`train.py` -> `modeling/train.py`, ...) and split some of
them (`data.py` -> `data/sources.py`, `data/split.py`, ...). Copier removes a
file the new release no longer has, edits and all, and renders the new files
from the template. So after the merge, for every module of MOVES that the
project's last commit holds and the update removed:

1. the previous release is rendered again with the project's answers: the
   module as the template wrote it (the base);
2. the project's own version is read from its last commit (the user's);
3. where they differ, the user's changes are merged into the new file (or,
   for a module that was split, into its new files, in the order their code
   had in the old module) with `git merge-file`, as copier merges any file.

A conflict leaves the usual markers in the new file, named on stderr; a change
that touches no line the template moved merges cleanly. Like every migration,
this one never fails the update (see hooks/README.md): when it cannot merge,
it says which files to compare by hand, and exits 0.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

PACKAGE = "src/{package}/"
TESTS = "tests/"
# Where each module of the flat layout went, in the order its code had there.
MOVES: dict[str, list[str]] = {
    PACKAGE + "adopt.py": [PACKAGE + "data/init_data.py"],
    PACKAGE + "api.py": [PACKAGE + "serving/api.py"],
    PACKAGE + "atomic.py": [PACKAGE + "utils/atomic.py"],
    PACKAGE
    + "data.py": [
        PACKAGE + "data/sources.py",
        PACKAGE + "data/tables.py",
        PACKAGE + "data/split.py",
        PACKAGE + "features/targets.py",
        PACKAGE + "data/ingest.py",
        PACKAGE + "data/prepare.py",
    ],
    PACKAGE
    + "evaluate.py": [
        PACKAGE + "modeling/evaluators.py",
        PACKAGE + "modeling/evaluate.py",
    ],
    PACKAGE
    + "features.py": [
        PACKAGE + "features/transform.py",
        PACKAGE + "features/targets.py",
        PACKAGE + "features/build.py",
        PACKAGE + "features/processed.py",
    ],
    PACKAGE + "hashseed.py": [PACKAGE + "utils/hashseed.py"],
    PACKAGE
    + "interfaces.py": [
        PACKAGE + "utils/arrays.py",
        PACKAGE + "modeling/interfaces.py",
    ],
    PACKAGE + "log.py": [PACKAGE + "utils/log.py"],
    PACKAGE + "mlflow_model.py": [PACKAGE + "serving/mlflow_model.py"],
    PACKAGE
    + "model.py": [
        PACKAGE + "modeling/batching.py",
        PACKAGE + "modeling/checkpoints.py",
        PACKAGE + "modeling/model.py",
    ],
    PACKAGE
    + "monitor.py": [
        PACKAGE + "monitoring/statistics.py",
        PACKAGE + "monitoring/monitor.py",
        PACKAGE + "monitoring/report.py",
    ],
    PACKAGE + "plots.py": [PACKAGE + "modeling/plots.py"],
    PACKAGE
    + "predict.py": [
        PACKAGE + "serving/loading.py",
        PACKAGE + "modeling/predictor.py",
        PACKAGE + "data/tables.py",
        PACKAGE + "serving/batch.py",
    ],
    PACKAGE + "run_info.py": [PACKAGE + "utils/run_info.py"],
    PACKAGE + "schema.py": [PACKAGE + "data/schema.py"],
    PACKAGE + "seeding.py": [PACKAGE + "utils/seeding.py"],
    PACKAGE
    + "tracking.py": [
        PACKAGE + "tracking/store.py",
        PACKAGE + "tracking/runs.py",
        PACKAGE + "serving/pyfunc.py",
        PACKAGE + "tracking/registry.py",
    ],
    PACKAGE + "train.py": [PACKAGE + "modeling/train.py"],
    TESTS + "test_adopt.py": [TESTS + "data/test_init_data.py"],
    TESTS + "test_data.py": [TESTS + "data/test_sources_and_split.py"],
    TESTS + "test_schema.py": [TESTS + "data/test_schema.py"],
    TESTS + "test_features.py": [TESTS + "features/test_transform.py"],
    TESTS + "test_model.py": [TESTS + "modeling/test_model.py"],
    TESTS + "test_evaluate.py": [TESTS + "modeling/test_evaluate.py"],
    TESTS + "test_framework.py": [TESTS + "modeling/test_framework.py"],
    TESTS + "test_scale_out.py": [TESTS + "modeling/test_scale_out.py"],
    TESTS + "test_tracking.py": [TESTS + "tracking/test_tracking.py"],
    TESTS + "test_serving.py": [TESTS + "serving/test_serving.py"],
    TESTS + "test_monitor.py": [TESTS + "monitoring/test_monitor.py"],
    TESTS + "test_hashseed.py": [TESTS + "utils/test_hashseed.py"],
    TESTS + "test_seeding.py": [TESTS + "utils/test_seeding.py"],
}
# Between the new files while they are merged as one text; no module has it.
SEPARATOR = "# ---- reproml: the next moved file starts here ----\n"
LABELS = ("after updating", "before the move", "before updating")
RULE = "=" * 78


def committed(path: str) -> bytes | None:
    """The file at `path` in the project's last commit, or None."""
    shown = subprocess.run(["git", "show", f"HEAD:./{path}"], capture_output=True)
    return shown.stdout if shown.returncode == 0 else None


def removed_by_the_update(moves: dict[str, list[str]]) -> list[str]:
    """Modules the last commit holds that the update removed for new ones."""
    return [
        old
        for old, new in moves.items()
        if not Path(old).exists()
        and any(Path(path).exists() for path in new)
        and committed(old) is not None
    ]


def render_previous(template: str, ref: str, answers: dict, into: Path) -> None:
    """The previous release, rendered with the project's answers."""
    import copier  # the copier that runs this migration

    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    copier.run_copy(
        template, str(into), data=data, vcs_ref=ref, defaults=True, quiet=True,
        unsafe=True, skip_tasks=True,
    )  # fmt: skip


def merge_moved(base: bytes, ours: bytes, theirs: list[str]) -> tuple[list[str], bool]:
    """The texts of the new files `theirs` with the user's changes of the old
    module (base -> ours) merged in, and whether they merged without conflict."""
    joined = SEPARATOR.join(
        text if text.endswith("\n") else text + "\n" for text in theirs
    )
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(tmp) / name for name in ("theirs", "base", "ours")]
        for path, content in zip(files, (joined.encode(), base, ours)):
            path.write_bytes(content)
        labels = [arg for label in LABELS for arg in ("-L", label)]
        done = subprocess.run(
            ["git", "merge-file", "-p", *labels, *map(str, files)], capture_output=True
        )
    if done.returncode < 0 or done.returncode >= 128:
        raise RuntimeError(f"git merge-file failed: {done.stderr.decode().strip()}")
    merged = done.stdout.decode("utf-8")
    parts = merged.split(SEPARATOR)
    if len(parts) != len(theirs):
        # A conflict took a separator with it: the whole text goes to the first.
        return [merged, *theirs[1:]], False
    return parts, done.returncode == 0


def relayout(template: str, ref: str, answers_file: Path) -> list[str]:
    """Carry the user's edits into the moved modules; the conflicts left.

    Every merge is computed before any file is written, so a failure leaves
    the project as the update left it.
    """
    answers = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    package = answers["package_name"]
    moves = {
        old.format(package=package): [path.format(package=package) for path in new]
        for old, new in MOVES.items()
    }
    removed = removed_by_the_update(moves)
    if not removed:
        return []
    contents: dict[str, str] = {}
    conflicts, carried = [], []
    with tempfile.TemporaryDirectory() as tmp:
        previous = Path(tmp) / "previous"
        render_previous(template, ref, answers, previous)
        for old in removed:
            base = (previous / old).read_bytes() if (previous / old).is_file() else None
            ours = committed(old)
            if base is None or ours is None or ours == base:
                continue  # not the template's file, or not edited: nothing to carry
            targets = [path for path in moves[old] if Path(path).exists()]
            for path in targets:
                contents.setdefault(path, Path(path).read_text(encoding="utf-8"))
            texts, clean = merge_moved(base, ours, [contents[p] for p in targets])
            contents.update(zip(targets, texts))
            carried.append(f"{old} -> {', '.join(targets)}")
            if not clean:
                conflicts.append(f"{old} -> {', '.join(targets)}")
    for path, text in contents.items():
        Path(path).write_text(text, encoding="utf-8")
    for line in carried:
        print(f"Your changes carried over: {line}", file=sys.stderr)
    return conflicts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template_root")
    parser.add_argument("previous_ref")
    parser.add_argument("answers_file", type=Path)
    args = parser.parse_args(argv)
    try:
        conflicts = relayout(args.template_root, args.previous_ref, args.answers_file)
    except Exception as error:  # a migration never fails the update
        print(
            f"{RULE}\nThe modules of the package moved into sub-packages, and your "
            f"changes to them could not be carried over ({error}). Compare your "
            "last commit with the new files: `git diff HEAD --stat` lists them.\n"
            f"{RULE}",
            file=sys.stderr,
        )
        return 0
    if conflicts:
        print(
            f"{RULE}\nYour changes conflict with the template's in: "
            + "; ".join(conflicts)
            + ". Resolve the <<<<<<< markers there.\n"
            + RULE,
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
