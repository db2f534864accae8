"""Where an index lives: a folder (the embedded index, the default) or a Milvus collection
(``milvus://HOST:PORT/COLLECTION``). One entry point per job, whatever the store:
:func:`open_any` (search), :func:`ingest_any` (build or refresh), :func:`default_location`
(``--index`` not given: ``$KB_INDEX``, else ``index/``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .milvus.store import is_milvus

Location = str | Path


def default_location() -> Location:
    """``$KB_INDEX`` (a folder or a ``milvus://`` address), else ``index/``."""
    env = os.environ.get("KB_INDEX") or "index"
    return env if is_milvus(env) else Path(env)


def as_location(value: Location | None) -> Location:
    """A location from a command-line or API value (a ``milvus://`` string stays a string)."""
    if value is None:
        return default_location()
    return str(value) if is_milvus(str(value)) else Path(value)


def open_any(location: Location | None = None, embedder=None, verify: bool = True):
    """A :class:`kb.search.KnowledgeBase` over the index at ``location`` (folder or Milvus)."""
    from . import store
    from .search import KnowledgeBase, open_index

    loc = as_location(location)
    if not isinstance(loc, str):
        return open_index(loc, embedder=embedder, verify=verify)
    from .milvus.index import MilvusIndex

    index = MilvusIndex(loc)
    if embedder is not None:
        store.check_embedder(index.manifest, embedder.model_id, index.location)
    return KnowledgeBase(index, embedder)


def ingest_any(paths: Sequence[Path], location: Location | None, config, progress: Callable[[str, int, int], None],
               **kwargs: Any):
    """Build or refresh the index at ``location``; returns a :class:`kb.ingest.build.BuildReport`."""
    loc = as_location(location)
    if isinstance(loc, str):
        from .milvus.ingest import ingest_milvus

        return ingest_milvus(paths, loc, config, progress=progress, cache_dir=milvus_cache_dir(), **kwargs)
    from .ingest.build import build_index

    return build_index(list(paths), loc, config, progress=progress, **kwargs)


def generation_of(location: Location | None) -> str:
    """The live version of the index: the folder's generation or the collection's build id."""
    loc = as_location(location)
    if isinstance(loc, str):
        from .milvus.index import current_build

        return current_build(loc)
    from . import store
    from .errors import IndexMissingError

    gen = store.current_generation(loc)
    if gen is None:
        raise IndexMissingError(f"no index at {loc}")
    return gen.name


def milvus_cache_dir() -> Path:
    """The embedding cache of Milvus ingests (``$KB_CACHE_DIR``, else ``~/.cache/kb``): embeddings
    are kept on the ingesting machine, so a re-ingest only embeds new text."""
    return Path(os.environ.get("KB_CACHE_DIR") or Path.home() / ".cache" / "kb")
