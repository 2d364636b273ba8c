"""The packages' import rules (DESIGN): ``nas`` never imports hydra/mlflow/dvc; ``knowledge_base`` never
torch/mlflow/hydra. Checked on the source, so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {"nas": {"hydra", "mlflow", "dvc"}, "knowledge_base": {"torch", "mlflow", "hydra"}}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_none_of_its_forbidden_libraries(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files
    broken = {str(f.relative_to(REPO)): sorted(imported_roots(f) & FORBIDDEN[package]) for f in files}
    assert {f: libs for f, libs in broken.items() if libs} == {}


def module_imports(path: Path, package: str) -> set[str]:
    """The modules of ``package`` that ``path`` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith(f"{package}.")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith(f"{package}."):
                names.add(node.module)
            elif node.module == package:
                names |= {f"{package}.{alias.name}" for alias in node.names}
    return names


def cycle_through(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (module → modules it imports), or [] when there is none."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node], _ = "open", stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node], _ = "done", stack.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


@pytest.mark.parametrize("package", ["nas", "knowledge_base", "workflows"])
def test_package_has_no_import_circle(package: str) -> None:
    modules = {".".join(f.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): f
               for f in sorted((REPO / package).rglob("*.py"))}
    graph = {name: module_imports(path, package) & modules.keys() for name, path in modules.items()}
    assert cycle_through(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert cycle_through({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
