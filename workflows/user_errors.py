"""The exception classes that are the user's to fix: printed as one line, never a traceback."""

from __future__ import annotations


def user_errors() -> tuple[type[BaseException], ...]:
    """User-facing error classes of every package (imported lazily: ``nas`` pulls in torch)."""
    from knowledge_base import KnowledgeBaseError
    from nas.errors import NasError
    from workflows.errors import WorkflowError

    return (WorkflowError, NasError, KnowledgeBaseError)
