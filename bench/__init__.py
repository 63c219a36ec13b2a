"""Benchmarks of the reproml template, run by its `nox -s bench` session.

Each part is a module with a `run(session)` function: `rendering`, `lifecycle`,
`data`, `monitor`, `serve` and `stages`. The other modules are scripts that a
part runs in another Python (a rendered project's environment, the session's or
Evidently's); each one's docstring says which, and how.
"""
