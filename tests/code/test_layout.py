"""The package layout holds: one-way dependencies between subpackages, no import circle, nothing of Airflow.

Read from the source (every ``import`` statement, at module level or inside a
function), so a new import that breaks the layout fails here before it ships.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pipelines"
# what each subpackage may import besides itself (DESIGN.md: flows -> reports -> governance -> model / data -> core)
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "model": {"core"},
    "governance": {"core", "data", "model"},
    "reports": {"core", "data", "model", "governance"},
    "flows": {"core", "data", "model", "governance", "reports"},
}
SUBPACKAGES = set(ALLOWED)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The ``pipelines`` modules a file imports (``from pipelines.x import y`` counts y when it is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pipelines")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipelines"):
            module = str(node.module)
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                found.add(candidate if candidate in MODULES else module)
    return {name for name in found if name in MODULES}


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_every_module_is_in_a_subpackage():
    loose = sorted(name for name in MODULES if name.count(".") == 1 and name.split(".")[1] not in SUBPACKAGES)
    assert not loose, f"modules outside the subpackages: {loose}"


@pytest.mark.parametrize("subpackage", sorted(SUBPACKAGES))
def test_dependencies_point_one_way(subpackage):
    wrong = []
    for name, path in MODULES.items():
        if name.split(".")[1:2] != [subpackage]:
            continue
        for target in _imports(path, top_level_only=False):
            other = target.split(".")[1] if target.count(".") >= 1 else ""
            if other and other != subpackage and other not in ALLOWED[subpackage]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports against the layout's direction:\n" + "\n".join(wrong)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_no_import_circle_inside_pipelines():
    """No cycle of imports, counting function-level imports too: a lazy import does not hide a circle."""
    graph = {name: _imports(path, top_level_only=False) - {name} for name, path in MODULES.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_circle_check_finds_a_circle():
    """The check above can fail: a planted circle of three modules is found, a chain is not."""
    chain = {"a": {"b"}, "b": {"c"}, "c": set()}
    assert find_cycle(chain) is None
    assert find_cycle({**chain, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_only_the_champion_module_moves_the_alias():
    movers = sorted(
        name for name, path in MODULES.items() if "set_registered_model_alias" in path.read_text(encoding="utf-8")
    )
    assert movers == ["pipelines.flows.champion"], movers
