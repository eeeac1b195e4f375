"""The rules people forget, held by lint and by these tests: ruff bans every private module
of the installed dagster (ruff matches a banned module and its submodules, not a pattern, so
the list in pyproject.toml must be whole), and no benchmark imports a test module."""

import ast
import pkgutil
import tomllib
from pathlib import Path

import dagster

ROOT = Path(__file__).resolve().parents[1]
TESTS = "stockmonitor_assets_tests"


def test_ruff_bans_every_private_module_of_the_installed_dagster():
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    banned = set(ruff["flake8-tidy-imports"]["banned-api"])
    private = {
        f"dagster.{module.name}"
        for module in pkgutil.iter_modules(dagster.__path__)
        if module.name.startswith("_")
    }
    assert "dagster._core" in private
    assert private - banned == set()
    assert "TID" in ruff["select"]


def test_no_benchmark_imports_a_test_module():
    offenders = [
        f"{path.name}:{node.lineno}"
        for path in sorted((ROOT / "bench").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if any(name == TESTS or name.startswith(f"{TESTS}.") for name in _imported(node))
    ]
    assert offenders == []


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module]
    return []
