"""copier.yml as cookiecutter and cruft see it.

cookiecutter.json names the extension below in `_extensions`: cookiecutter and
cruft (`--directory template`) import this module from the template folder and
add the extension to every Jinja environment they create. It gives them what
copier brings along:

- the `regex_search` and `regex_replace` filters (copier ships Ansible's),
  which template/templates/names.jinja uses;
- the repository's root as the place where templates are found, as copier
  finds them, so that the defaults in cookiecutter.json import the macros of
  template/templates/names.jinja exactly as copier.yml does;
- `copier_validators(answers)`, which runs the validators of copier.yml and
  raises copier's error for the first answer they refuse. Cookiecutter has no
  validators: it renders the private variable `__validated` of
  cookiecutter.json right after the questions, so a refusal stops it (and
  cruft) before it writes anything, even a folder named after a bad slug.

`cookiecutter_json()` writes cookiecutter.json from copier.yml (`nox -s
cookiecutter_json`); a test checks that the committed file is its output.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.ext import Extension

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root, where copier.yml lives and copier looks up templates."""


def regex_search(
    value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False
) -> str | None:
    """The first match of `pattern` in `value`, or None: Ansible's filter."""
    flags = (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)
    found = re.search(pattern, str(value), flags)
    return found.group() if found else None


def regex_replace(
    value: Any,
    pattern: str,
    replacement: str = "",
    ignorecase: bool = False,
    multiline: bool = False,
) -> str:
    """Every match of `pattern` in `value` replaced: Ansible's filter."""
    flags = (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)
    return re.sub(pattern, replacement, str(value), flags=flags)


def equip(environment: jinja2.Environment) -> jinja2.Environment:
    """Give `environment` the filters, templates and global that copier.yml needs."""
    environment.filters.update(regex_search=regex_search, regex_replace=regex_replace)
    if environment.loader is None:
        environment.loader = jinja2.FileSystemLoader(ROOT)
    environment.globals["copier_validators"] = copier_validators
    return environment


class CopierQuestions(Extension):
    """The Jinja extension that cookiecutter.json names."""

    def __init__(self, environment: jinja2.Environment) -> None:
        super().__init__(environment)
        equip(environment)
        # cruft renders two releases of the template in one process (the
        # project's and the newest): forgetting this module makes each new
        # environment import the copy of the release it renders.
        sys.modules.pop(__name__, None)


def copier_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))


def questions(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The questions that copier asks, in order (computed values left out)."""
    return {
        name: question
        for name, question in config.items()
        if not name.startswith("_") and question.get("when", True) is not False
    }


def copier_refusal(answers: dict[str, Any]) -> str:
    """Copier's error for the first answer its validators refuse, else ''.

    Copier renders a question's validator with the answers and refuses the
    answer when the result is not blank.
    """
    environment = equip(
        jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    )
    for name, question in questions(copier_config()).items():
        if "validator" not in question:
            continue
        try:
            template = environment.from_string(question["validator"])
            message = template.render(answers).strip()
        except Exception as error:  # copier reports a failing validator alike
            message = str(error)
        if message:
            return f"Validation error for question '{name}': {message}"
    return ""


def copier_validators(answers: dict[str, Any]) -> str:
    """Raise copier's error (a ValueError) if copier would refuse `answers`."""
    refusal = copier_refusal(answers)
    if refusal:
        raise ValueError(refusal)
    return ""


def as_cookiecutter(source: str, names: set[str]) -> str:
    """`source` (Jinja) with each answer in `names` read as `cookiecutter.<name>`."""
    tokens = list(jinja2.Environment().lexer.tokeniter(source, None))
    if "".join(value for _, _, value in tokens) != source:
        raise ValueError(f"cannot rewrite this template: {source!r}")
    out, previous = [], ""
    for _, kind, value in tokens:
        if kind == "name" and value in names and previous != ".":
            value = f"cookiecutter.{value}"
        out.append(value)
        if kind != "whitespace":
            previous = value
    return "".join(out)


def cookiecutter_json(config: dict[str, Any]) -> dict[str, Any]:
    """cookiecutter.json for copier.yml: the same questions in the same order,
    the same defaults and choices, copier's help as the prompts.

    Cookiecutter's default choice is the first: the default moves to the front.
    """
    asked = questions(config)
    context: dict[str, Any] = {}
    prompts: dict[str, Any] = {}
    for name, question in asked.items():
        choices = question.get("choices")
        if choices is None:
            context[name] = as_cookiecutter(str(question["default"]), set(asked))
            prompts[name] = question["help"]
            continue
        if not isinstance(choices, dict):
            choices = {str(value): value for value in choices}
        labels = {value: label for label, value in choices.items()}
        default = question["default"]
        context[name] = [default, *(value for value in labels if value != default)]
        prompts[name] = {"__prompt__": question["help"], **labels}
    return {
        **context,
        "__validated": "{{ copier_validators(cookiecutter) }}",
        "__prompts__": prompts,
        "_extensions": ["local_extensions.CopierQuestions"],
        "_new_lines": "\n",
    }


def cookiecutter_json_text() -> str:
    """The text of cookiecutter.json, as `nox -s cookiecutter_json` writes it."""
    generated = cookiecutter_json(copier_config())
    return json.dumps(generated, indent=2, ensure_ascii=False) + "\n"
