"""Exception classes of the knowledge base; every message names the bad value and the fix."""

from __future__ import annotations


class KnowledgeBaseError(Exception):
    """Base class of every error the knowledge base raises on purpose."""


class RecordError(KnowledgeBaseError, ValueError):
    """A TaskRecord or EvaluationRecord holds a value the knowledge base cannot store."""


class QueryError(KnowledgeBaseError, ValueError):
    """A filter query or a raw SQL statement was rejected (syntax, unknown field, or an attempted write)."""


class BackendError(KnowledgeBaseError):
    """The database URL is unsupported, or the database cannot be reached or migrated."""
