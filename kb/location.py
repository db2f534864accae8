"""Where an index lives: a folder (the embedded index, the default) or a Milvus collection
(``milvus://HOST:PORT/COLLECTION``). A location is typed, :class:`FolderLocation` or
:class:`kb.milvus.store.MilvusLocation`, made from text by one :func:`parse_location`.

One entry point per job, whatever the store: :func:`open_index` (search), :func:`ingest_any`
(build or refresh), :func:`generation_of` (the live version), :func:`default_location`
(``--index`` not given: ``$KB_INDEX``, else ``index/``).

A scheme is matched case-insensitively (``Milvus://`` is ``milvus://``, as URI schemes are); any
other ``NAME://`` prefix is refused with one error line rather than taken as a folder name.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import KBError
from .milvus.store import SCHEME, MilvusLocation
from .milvus.store import parse_location as parse_milvus

if TYPE_CHECKING:
    from .embed import Embedder
    from .search import KnowledgeBase

_SCHEME_LIKE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")


@dataclass(frozen=True)
class FolderLocation:
    """An index folder (its generations, ``CURRENT`` and embedding cache)."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


Location = FolderLocation | MilvusLocation


def parse_location(value: Location | str | Path) -> Location:
    """The location a command-line, environment or API value names; KBError for an address kb
    cannot use (a malformed ``milvus://`` address, or a scheme kb does not know)."""
    if isinstance(value, FolderLocation | MilvusLocation):
        return value
    if isinstance(value, Path):
        return FolderLocation(value)
    text = str(value)
    m = _SCHEME_LIKE.match(text.strip())
    if m is None and text.strip().lower().startswith("milvus:"):
        return parse_milvus(text)  # "milvus:/x": a malformed address, not a folder named "milvus:"
    if m is None:
        return FolderLocation(Path(text))
    if m["scheme"].lower() + "://" != SCHEME:
        raise KBError(f"unknown index address {text!r}: kb reads an index folder (a path) or "
                      f"{SCHEME}HOST:PORT/COLLECTION, not {m['scheme']}://")
    return parse_milvus(SCHEME + text.strip()[m.end():])


def default_location() -> Location:
    """``$KB_INDEX`` (a folder or a ``milvus://`` address), else ``index/``."""
    return parse_location(os.environ.get("KB_INDEX") or "index")


def as_location(value: Location | str | Path | None) -> Location:
    """A location from a command-line or API value (None: :func:`default_location`)."""
    return default_location() if value is None else parse_location(value)


def open_index(location: Location | str | Path | None = None, embedder: Embedder | None = None,
               verify: bool = True) -> KnowledgeBase:
    """A :class:`kb.search.KnowledgeBase` over the index at ``location``: a folder path or a
    ``milvus://HOST:PORT/COLLECTION`` address (default: ``$KB_INDEX``, else ``index/``).
    ``embedder``: use this one (it must be the index's); ``verify``: check a folder's checksums."""
    from . import store
    from .search import KnowledgeBase, open_folder

    loc = as_location(location)
    if isinstance(loc, FolderLocation):
        return open_folder(loc.path, embedder=embedder, verify=verify)
    from .milvus.index import MilvusIndex

    index = MilvusIndex(loc)
    if embedder is not None:
        store.check_embedder(index.manifest, embedder.model_id, index.location)
    return KnowledgeBase(index, embedder)


def ingest_any(paths: Sequence[Path], location: Location | str | Path | None, config,
               progress: Callable[[str, int, int], None], **kwargs: Any):
    """Build or refresh the index at ``location``; returns a :class:`kb.ingest.build.BuildReport`."""
    loc = as_location(location)
    if isinstance(loc, MilvusLocation):
        from .milvus.ingest import ingest_milvus

        return ingest_milvus(paths, str(loc), config, progress=progress, cache_dir=milvus_cache_dir(), **kwargs)
    from .ingest.build import build_index

    return build_index(list(paths), loc.path, config, progress=progress, **kwargs)


def embedder_of(location: Location | str | Path | None) -> str | None:
    """The embedder spec the index at ``location`` was built with (None: there is no index yet)."""
    loc = as_location(location)
    if isinstance(loc, MilvusLocation):
        from .milvus.ingest import stored_embedder

        return stored_embedder(str(loc))
    from .ingest.build import index_embedder

    return index_embedder(loc.path)


def generation_of(location: Location | str | Path | None) -> str:
    """The live version of the index: the folder's generation or the collection's build id."""
    loc = as_location(location)
    if isinstance(loc, MilvusLocation):
        from .milvus.index import current_build

        return current_build(str(loc))
    from . import store
    from .errors import IndexMissingError

    gen = store.current_generation(loc.path)
    if gen is None:
        raise IndexMissingError(f"no index at {loc}")
    return gen.name


def milvus_cache_dir() -> Path:
    """The embedding cache of Milvus ingests (``$KB_CACHE_DIR``, else ``~/.cache/kb``): embeddings
    are kept on the ingesting machine, so a re-ingest only embeds new text."""
    return Path(os.environ.get("KB_CACHE_DIR") or Path.home() / ".cache" / "kb")
