"""Calls to an MLflow tracking server (``tracking.uri=http://…``): retried with backoff for a bounded time, then
one error line naming the server."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from workflows.errors import WorkflowError

if TYPE_CHECKING:
    import requests

BACKOFF_MAX_S = 120  # urllib3's longest wait between two tries
MAX_RETRIES = 10  # MLflow's limit on retries per request


def is_server(uri: str) -> bool:
    """Whether ``uri`` names an ``mlflow server`` (shared by hosts) rather than a local store."""
    return uri.startswith(("http://", "https://"))


def retries_for(retry_s: float) -> int:
    """The fewest retries whose backoff (0, 2, 4, 8 … s, at most 120 s each) adds up to ``retry_s`` (at most 10)."""
    retries, waited = 0, 0.0
    while waited < retry_s and retries < MAX_RETRIES:
        retries += 1
        waited += 0 if retries == 1 else min(2 ** (retries - 1), BACKOFF_MAX_S)
    return retries


def retry_seconds(retries: int) -> int:
    """The backoff of ``retries`` retries in seconds (the inverse of :func:`retries_for`)."""
    return sum(min(2 ** (k - 1), BACKOFF_MAX_S) for k in range(2, retries + 1))


def configured_retries() -> int:
    """The retries :func:`configure_retries` set for this process's MLflow HTTP calls (0 if never set)."""
    return int(os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"))


def configure_retries(retry_s: float, request_timeout_s: float) -> None:
    """Make every MLflow HTTP call of this process (client, fluent API, served artifacts) retry a server that refuses,
    times out or answers 429/5xx for about ``retry_s`` seconds, each request taking at most ``request_timeout_s``."""
    os.environ.update({
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries_for(retry_s)),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(request_timeout_s))),
    })


class TrackingServerError(WorkflowError):
    """The tracking server did not answer (refused, timed out or kept failing) after its retries."""


def unavailable(exc: BaseException) -> TrackingServerError | None:
    """The one-line error for ``exc`` if it (or an exception it came from) is an HTTP request to a tracking server
    that failed after its retries; None for any other error."""
    request = request_error(exc)
    return _error(request) if request is not None else None


def describe(exc: requests.exceptions.RequestException) -> tuple[str, str]:
    """The server (``scheme://host:port``) a failed request went to, and why it failed, in words."""
    import requests

    url = str(exc.request.url) if exc.request is not None and exc.request.url else ""
    parts = urlsplit(url)
    server = f"{parts.scheme}://{parts.netloc}" if url else "(unknown)"
    if isinstance(exc, requests.exceptions.Timeout):
        reason = f"no answer within tracking.request_timeout_s={os.environ.get('MLFLOW_HTTP_REQUEST_TIMEOUT', '?')}"
    elif isinstance(exc, requests.exceptions.RetryError):
        reason = "it kept answering with errors"
    else:
        reason = "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    return server, reason


def request_error(exc: BaseException) -> requests.exceptions.RequestException | None:
    """The failed HTTP request ``exc`` is (or came from), if any."""
    import requests

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.exceptions.RequestException):
            return current
        current = current.__cause__ or current.__context__
    return None


def answers(uri: str, timeout_s: float) -> bool:
    """Whether the tracking server ``uri`` answers its health check now (one request, no retries)."""
    import requests

    try:
        return requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_s).ok
    except requests.exceptions.RequestException:
        return False


def _error(exc: requests.exceptions.RequestException) -> TrackingServerError:
    server, reason = describe(exc)
    retries = configured_retries()
    return TrackingServerError(
        f"tracking server {server} is not answering ({reason}; retried {retries} times over {retry_seconds(retries)} s"
        f", tracking.retry_s); start it or fix tracking.uri, then run the same command: finished trials are kept in "
        "the study and the knowledge base")
