"""nasflow's knowledge base: every trained model with its task, architecture, cost, metrics and lineage.

Owns the store of tasks, models, evaluations and their relations (SQLite or PostgreSQL, Alembic migrations), the
query language and read-only SQL, task similarity and warm-start suggestions. It imports SQLAlchemy and what that
needs, never torch, MLflow, Hydra, ``nas`` or ``workflows`` (``tests/test_import_rules.py``): records come in as
plain values.

kb = KnowledgeBase("sqlite:////abs/path/kb.db")      # or postgresql://user@host/db
kb.record(EvaluationRecord(task=TaskRecord(...), kind="trial", state="complete", ...))
print(format_result(kb.query("task = 'digits' and test_accuracy >= 0.97 order by params limit 5")))
"""

from knowledge_base.advice import WarmStart
from knowledge_base.errors import BackendError, KnowledgeBaseError, QueryError, RecordError
from knowledge_base.kb import KnowledgeBase
from knowledge_base.records import COST_KEYS, KINDS, STATES, EvaluationRecord, TaskRecord
from knowledge_base.result import FORMATS, QueryResult, format_result

__all__ = [
    "COST_KEYS",
    "FORMATS",
    "KINDS",
    "STATES",
    "BackendError",
    "EvaluationRecord",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "QueryError",
    "QueryResult",
    "RecordError",
    "TaskRecord",
    "WarmStart",
    "format_result",
]
