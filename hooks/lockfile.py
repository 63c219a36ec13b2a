"""Find and drop shadowed duplicates in a poetry.lock.

Poetry 2 can lock two versions of one package for the same platform when the
package is reached by paths whose markers are written differently: torch's CUDA
wheels reach nvidia-cublas through cuda-toolkit (pinned, with `sys_platform`
markers) and through nvidia-cudnn-cu13 (unpinned, `platform_system` markers).
`poetry install` then installs both versions into the same files, in parallel,
and the libraries it leaves can crash on load. The `lock` nox session drops
such an entry: one that applies nowhere without another version of the same
package, and whose every dependent accepts the versions that remain.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

PYTHONS = ("3.11", "3.12", "3.13", "3.14")
PLATFORMS = (
    ("linux", "Linux", "x86_64"),
    ("linux", "Linux", "aarch64"),
    ("darwin", "Darwin", "arm64"),
    ("darwin", "Darwin", "x86_64"),
    ("win32", "Windows", "AMD64"),
)
PACKAGE_HEADER = "[[package]]\n"


def environments() -> Iterator[tuple[str, dict[str, str]]]:
    """Every supported Python on every platform torch ships wheels for."""
    for python in PYTHONS:
        for sys_platform, system, machine in PLATFORMS:
            yield f"Python {python} on {system} {machine}", {
                "python_version": python,
                "python_full_version": f"{python}.0",
                "sys_platform": sys_platform,
                "platform_system": system,
                "platform_machine": machine,
                "os_name": "nt" if system == "Windows" else "posix",
                "implementation_name": "cpython",
                "platform_python_implementation": "CPython",
                "extra": "",
            }


def applies(package: dict, environment: dict[str, str]) -> bool:
    """Whether `poetry install` installs this lock entry in `environment`."""
    markers = package.get("markers")
    if markers is None:
        return True
    alternatives = [markers] if isinstance(markers, str) else markers.values()
    return any(Marker(marker).evaluate(environment) for marker in alternatives)


def duplicates(lock_text: str) -> dict[str, dict[str, list[str]]]:
    """Per environment, the packages the lock would install in several versions."""
    packages = tomllib.loads(lock_text)["package"]
    found = {}
    for label, environment in environments():
        versions: dict[str, list[str]] = {}
        for package in packages:
            if applies(package, environment):
                name = canonicalize_name(package["name"])
                versions.setdefault(name, []).append(package["version"])
        several = {name: vs for name, vs in versions.items() if len(vs) > 1}
        if several:
            found[label] = several
    return found


def accepts(constraint: str, version: str) -> bool:
    """Whether a lock file's constraint admits `version`.

    Poetry writes "*", a bare version, PEP 440 specifiers and "||" between
    alternatives, e.g. ">=1,<2 || >=3".
    """
    alternatives = [part.strip() for part in constraint.split("||")]
    for alternative in alternatives:
        if alternative == "*":
            return True
        if alternative[:1].isdigit():
            alternative = f"=={alternative}"
        if Version(version) in SpecifierSet(alternative.replace(" ", "")):
            return True
    return False


def dependents_constraints(packages: list[dict]) -> dict[str, list[str]]:
    """For each package name, the constraints that other lock entries put on it."""
    constraints: dict[str, list[str]] = {}
    for package in packages:
        for name, spec in package.get("dependencies", {}).items():
            for one in spec if isinstance(spec, list) else [spec]:
                version = one if isinstance(one, str) else one.get("version", "*")
                constraints.setdefault(canonicalize_name(name), []).append(version)
    return constraints


def shadowed(packages: list[dict]) -> list[dict]:
    """Entries never needed: wherever one applies, another version of the same
    package applies too, and every dependent it suits accepts that one."""
    constraints = dependents_constraints(packages)
    by_name: dict[str, list[dict]] = {}
    for package in packages:
        by_name.setdefault(canonicalize_name(package["name"]), []).append(package)
    dropped = []
    for name, entries in by_name.items():
        remaining = list(entries)
        for entry in entries:
            others = [other for other in remaining if other is not entry]
            covered = others and all(
                any(applies(other, environment) for other in others)
                for _, environment in environments()
                if applies(entry, environment)
            )
            suited = all(
                any(accepts(constraint, other["version"]) for other in others)
                for constraint in constraints.get(name, [])
                if accepts(constraint, entry["version"])
            )
            if covered and suited:
                remaining.remove(entry)
                dropped.append(entry)
    return dropped


def drop_shadowed(lock_text: str) -> tuple[str, list[str]]:
    """The lock without shadowed duplicates, and the "name version" of each dropped."""
    body, metadata_header, metadata = lock_text.partition("\n[metadata]\n")
    head, *blocks = body.split(PACKAGE_HEADER)
    packages = tomllib.loads(lock_text)["package"]
    if len(packages) != len(blocks):
        raise ValueError("poetry.lock: expected one [[package]] header per package")
    dropped = {id(package) for package in shadowed(packages)}
    kept = [
        PACKAGE_HEADER + block
        for block, package in zip(blocks, packages)
        if id(package) not in dropped
    ]
    names = [f"{p['name']} {p['version']}" for p in packages if id(p) in dropped]
    text = head + "".join(kept) + metadata_header + metadata
    return text, names
