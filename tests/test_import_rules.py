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
