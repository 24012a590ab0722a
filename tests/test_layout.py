"""The package layout stays what the package map says (docs/architecture.md, in short in the README):
one path, layered, no circles.

Reads the source with `ast` (every import, function-level and TYPE_CHECKING ones included),
so a circle dodged by a late import counts as a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("taugepa", "pytest_taugepa")
MAX_LINES = 500

# What each part of taugepa may import, besides itself and the base modules
# (taugepa.errors, .files, .options, .protocol, ._lazy, ._quiet, ._imports, and the input guards in
# taugepa.guards). Read top to bottom: the one path.
LAYERS: dict[str, set[str]] = {
    "world": set(),
    "tasks": {"world"},
    "llm": set(),
    "rules": {"world", "tasks"},
    # the public agent interface: what an agent is built from and answers with, and how one is found
    "agents": {"tasks", "llm"},
    "episode": {"world", "tasks", "llm", "rules", "agents"},
    "generate": {"world", "tasks", "rules"},
    "results": {"world", "tasks", "llm", "rules", "agents", "episode"},
    "optimize": {"world", "tasks", "llm", "rules", "agents", "episode", "results"},
    "testing": {"world", "tasks", "llm", "agents", "episode"},
    # `taugepa demo` runs the scripted models (testing) through the real commands
    "commands": {
        "world",
        "tasks",
        "llm",
        "rules",
        "agents",
        "episode",
        "generate",
        "results",
        "optimize",
        "testing",
    },
}
BASE = {
    "taugepa",
    "taugepa.errors",
    "taugepa.files",
    "taugepa.options",
    "taugepa.protocol",
    "taugepa._lazy",
    "taugepa._quiet",
    "taugepa._imports",
    "taugepa.guards",
    "taugepa.guards.limits",
    "taugepa.guards.safe_text",
    "taugepa.guards.safe_json",
    "taugepa.guards.validation",
    "taugepa.guards.output_paths",
    "taugepa.guards.notices",
    "taugepa.benchmarks",  # only the packaged suite's name and folder; its conftest sits above the plugin
}
SUITE = "taugepa.benchmarks."  # the packaged pytest suite: its conftest starts the plugin's benchmark


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules `name` imports anywhere in its source."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_import_graph_has_no_circle() -> None:
    # Tarjan's strongly connected components; any component with more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert circles == []


def test_no_module_is_over_500_lines() -> None:
    lines = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in lines.items() if n > MAX_LINES} == {}


@pytest.mark.parametrize("part", sorted(LAYERS))
def test_each_part_imports_only_the_parts_below_it(part: str) -> None:
    allowed = LAYERS[part] | {part}
    wrong = set()
    for module, targets in GRAPH.items():
        if not module.startswith(f"taugepa.{part}.") and module != f"taugepa.{part}":
            continue
        for target in targets:
            if target in BASE or target.startswith("taugepa.") and target.split(".")[1] in allowed:
                continue
            wrong.add(f"{module} -> {target}")
    assert wrong == set()


def test_the_base_modules_import_no_part() -> None:
    wrong = {
        f"{module} -> {target}" for module in BASE for target in GRAPH.get(module, ()) if target not in BASE
    }
    assert wrong == set()


def test_the_library_never_imports_the_pytest_plugin_and_the_plugin_not_the_cli() -> None:
    wrong = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if module.startswith("taugepa")
        and not module.startswith(SUITE)
        and target.startswith("pytest_taugepa")
        or module.startswith("pytest_taugepa")
        and target.startswith(("taugepa.commands", "taugepa.cli"))
    }
    assert wrong == set()


def test_the_package_paths_are_the_only_paths() -> None:
    """The redirect modules of unreleased layouts are gone (no release had them)."""
    from taugepa.episode import run_episode
    from taugepa.optimize import WIKI_COMPONENT, WikiAdapter
    from taugepa.results import load_scores, to_evaluation_batch
    from taugepa.rules import audit_tasks, check_action, check_sequence, objective_score

    assert WIKI_COMPONENT == "wiki" and WikiAdapter.__module__ == "taugepa.optimize.adapter"
    functions = (run_episode, check_action, check_sequence, load_scores, to_evaluation_batch)
    assert all(callable(function) for function in (*functions, audit_tasks, objective_score))
    for old in ("audit", "compliance", "gepa_adapter", "policy_rules"):
        assert f"taugepa.{old}" not in MODULES
