"""Whether a worker of another host still runs: its lease on the study's PostgreSQL database.

A process that runs trials or opens runs for a PostgreSQL study holds, for the rest of its life, a session-level
advisory lock keyed by its worker id (:func:`nas.recovery.worker_id`) on a connection of its own. PostgreSQL frees
it when the session ends: at once when the process dies, within about a minute (the connection's TCP keepalives)
when its host dies or loses the network. A process that is only slow or frozen keeps it. Any host reads which
leases are held with one query, so a start can tell a lapsed writer of another host from a gone one without
waiting on a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from nas.recovery import host_name, is_dead, worker_id

_PREFIX = "nasflow-worker:"
# server-side keepalives: a lease of a host that went away is freed after about 30 + 3 * 10 s
_KEEPALIVES = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
_held: dict[str, Any] = {}  # storage URL -> the connection holding this process's lease there


def keeps_leases(storage: str | None) -> bool:
    """Whether workers on ``storage`` hold leases (PostgreSQL storages)."""
    return bool(storage) and str(storage).startswith("postgres")


def _libpq_url(storage: str) -> str:
    scheme, _, rest = storage.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else storage


def lease_key(worker: str) -> int:
    """The advisory-lock key of ``worker``'s lease (a signed 64-bit integer, as PostgreSQL takes it)."""
    return int.from_bytes(hashlib.sha256((_PREFIX + worker).encode()).digest()[:8], "big", signed=True)


def hold_lease(storage: str | None) -> None:
    """Hold this process's lease on ``storage`` until the process ends (once per storage; nothing to do for
    storages without leases)."""
    if not keeps_leases(storage) or storage in _held:
        return
    import psycopg

    from nas.errors import SearchError, one_line
    from nas.study import STORAGE_FIX

    try:
        connection = psycopg.connect(_libpq_url(str(storage)), autocommit=True, options=_KEEPALIVES)
        connection.execute("SELECT pg_advisory_lock(%s)", (lease_key(worker_id()),))
    except psycopg.Error as exc:
        raise SearchError(f"cannot hold this worker's lease in storage '{storage}': {one_line(exc)}; {STORAGE_FIX}") \
            from exc
    _held[str(storage)] = connection


def _held_keys(storage: str) -> set[int]:
    import psycopg

    with psycopg.connect(_libpq_url(storage), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
            "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchall()
    keys = {(high << 32) | low for high, low in rows}
    return {key - (1 << 64) if key >= 1 << 63 else key for key in keys}


def gone_workers(storage: str | None, workers: Collection[str]) -> set[str]:
    """Those of ``workers`` known to run no more: of this host, those whose process ended; of other hosts, those
    whose lease on ``storage`` is free (PostgreSQL storages; elsewhere another host's worker is unknown, kept)."""
    gone = {w for w in workers if is_dead(w)}
    others = {w for w in workers if w and w.partition(":")[0] != host_name()}
    if others and keeps_leases(storage):
        held = _held_keys(str(storage))
        gone |= {w for w in others if lease_key(w) not in held}
    return gone


__all__ = ["gone_workers", "hold_lease", "keeps_leases", "lease_key"]
