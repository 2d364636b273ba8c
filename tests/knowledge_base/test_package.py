"""Package rules: the public API, allowed imports only, small modules, shipped migrations."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import knowledge_base

PACKAGE = Path(knowledge_base.__file__).resolve().parent
ALLOWED_THIRD_PARTY = {"sqlalchemy", "alembic", "pandas", "psycopg"}


def test_public_api_is_exported() -> None:
    for name in [
        "KnowledgeBase",
        "TaskRecord",
        "EvaluationRecord",
        "QueryResult",
        "QueryError",
        "KnowledgeBaseError",
        "format_result",
    ]:
        assert name in knowledge_base.__all__
    assert all(hasattr(knowledge_base, name) for name in knowledge_base.__all__)


def test_only_allowed_imports_and_small_modules() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        assert len(source.splitlines()) <= 300, f"{path} is too long"
        for node in ast.walk(ast.parse(source)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib | ALLOWED_THIRD_PARTY | {"knowledge_base"}, f"{path} imports {name}"


def test_import_does_not_load_heavy_frameworks() -> None:
    code = (
        "import sys, knowledge_base; "
        "print(sorted(m for m in ('torch', 'mlflow', 'hydra', 'optuna', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"


def test_migrations_ship_inside_the_package() -> None:
    assert (PACKAGE / "migrations" / "env.py").is_file()
    assert len(list((PACKAGE / "migrations" / "versions").glob("0*.py"))) >= 2
