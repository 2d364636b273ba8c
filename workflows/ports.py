"""The local port a server (``nasflow ui``, ``nasflow dashboard``) is about to bind: free, or a clear error."""

from __future__ import annotations

import socket

from workflows.errors import WorkflowError


class PortBusyError(WorkflowError):
    """The port a server should listen on is already taken."""


def require_free_port(port: int, command: str) -> None:
    """Raise :class:`PortBusyError` naming a free port if 127.0.0.1:``port`` is taken."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return
        except OSError:
            pass
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        free = spare.getsockname()[1]
    raise PortBusyError(f"port {port} on 127.0.0.1 is already in use (another server?); "
                        f"stop it or pick another port: nasflow {command} --port {free}")
