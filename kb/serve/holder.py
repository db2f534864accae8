"""The index a server process answers from, re-opened when ``kb ingest`` publishes a new one.

Each worker process opens the index once (a folder's arrays are memory-mapped, so the workers
share their pages). Before a request is answered the live generation is looked up (a folder's
``CURRENT``: one small file read; a Milvus collection's build id: one query, at most once every
``check_every`` seconds); when it changed, one request re-opens the index (the embedder is kept)
while the others go on with the open one, so no request waits or fails because of an ingest.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..errors import KBError
from ..location import Location, MilvusLocation, as_location, generation_of, open_index

log = logging.getLogger("kb.serve")


class IndexHolder:
    def __init__(self, location: Location | str | None, check_every: float | None = None) -> None:
        self.location = as_location(location)
        remote = isinstance(self.location, MilvusLocation)
        self.check_every = check_every if check_every is not None else (1.0 if remote else 0.0)
        self._kb = open_index(self.location)
        self._checked = time.monotonic()
        self._reopen = threading.Lock()

    def get(self) -> Any:
        """The open :class:`kb.search.KnowledgeBase`, re-opened first if a new generation is live."""
        kb = self._kb
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return kb
        self._checked = now
        try:
            live = generation_of(self.location)
        except KBError:
            return kb  # being replaced or briefly unreadable: keep answering from the open one
        if live == kb.generation or not self._reopen.acquire(blocking=False):
            return kb
        try:
            self._kb = self._open(kb)
            log.info("kb.serve: index re-opened at generation %s", self._kb.generation)
        except KBError as e:
            log.warning("kb.serve: new generation not opened yet (%s); answering from %s", e, kb.generation)
        finally:
            self._reopen.release()
        return self._kb

    def _open(self, old: Any) -> Any:
        try:
            return open_index(self.location, embedder=old.embedder)
        except KBError:
            return open_index(self.location)  # built with another embedder: open it with its own
