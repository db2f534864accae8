"""One writer at a time per Milvus collection: a lock row ``lock`` in ``NAME__meta`` with its
owner (the ingest run), host, process and an expiry.

An ingest takes the lock before it writes anything into an existing collection (a new one right
after creating it), keeps it fresh while it writes, and deletes it at the end, whatever happened.
A second ingest finding a fresh lock of another owner is refused in one line; a lock whose expiry
has passed (its owner died) is taken over. Milvus has no compare-and-set: the lock is written,
then read back, and the ingest goes on only when it still names this run.
"""
from __future__ import annotations

import os
import socket
import time

from ..errors import KBError
from .store import Connection, meta_get, meta_put

LOCK = "lock"
LOCK_SECONDS = 900.0  # a writer that stops refreshing is taken over after this long
REFRESH_SECONDS = 60.0


def _held_by_other(conn: Connection, owner: str) -> dict | None:
    held = meta_get(conn, LOCK)
    if isinstance(held, dict) and held.get("owner") != owner and float(held.get("expires", 0)) > time.time():
        return held
    return None


def _refuse(conn: Connection, held: dict) -> KBError:
    until = time.strftime("%H:%M:%S", time.localtime(float(held.get("expires", 0))))
    return KBError(f"another `kb ingest` is writing {conn.loc} (on {held.get('host', '?')}, process "
                   f"{held.get('pid', '?')}); wait for it to finish (its lock expires at {until} at the latest)")


def take_lock(conn: Connection, owner: str) -> None:
    """Hold the collection's lock for ``owner`` or raise KBError naming the holder."""
    held = _held_by_other(conn, owner)
    if held is not None:
        raise _refuse(conn, held)
    meta_put(conn, {LOCK: {"owner": owner, "host": socket.gethostname(), "pid": os.getpid(),
                           "expires": time.time() + LOCK_SECONDS}})
    mine = meta_get(conn, LOCK)
    if not isinstance(mine, dict) or mine.get("owner") != owner:
        raise _refuse(conn, mine if isinstance(mine, dict) else {})


class LockKeeper:
    """Refreshes a held lock while an ingest writes (at most once a minute)."""

    def __init__(self, conn: Connection, owner: str) -> None:
        self.conn, self.owner, self.last = conn, owner, time.monotonic()

    def refresh(self) -> None:
        if time.monotonic() - self.last >= REFRESH_SECONDS:
            take_lock(self.conn, self.owner)
            self.last = time.monotonic()


def release_lock(conn: Connection, owner: str) -> None:
    """Delete the lock row when it is ``owner``'s (nothing when the collection does not exist)."""
    if not conn.has_collection(conn.loc.side("meta")):
        return
    held = meta_get(conn, LOCK)
    if isinstance(held, dict) and held.get("owner") == owner:
        conn.delete(conn.loc.side("meta"), ids=[LOCK])
