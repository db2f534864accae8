"""Passages and documents of a generation, loaded eagerly when small and lazily when large.

Holding every passage and document text as Python objects costs several GB of RAM and tens of
seconds of load time at a million passages. So below ``LAZY_THRESHOLD`` passages the files are
read into lists and a dict; above it the same files are read on demand:

* :class:`LazyChunks` memory-maps ``chunks.jsonl`` and keeps only an int64 array of line
  offsets (8 bytes per passage); ``chunks[i]`` parses line i into a :class:`kb.records.Chunk`
  (a few microseconds; a small cache keeps recent ones).
* :class:`LazyDocs` is a read-only mapping ``doc_id -> Document`` over ``documents.jsonl`` the
  same way; document metadata for filters and facets comes from the manifest.
* ``chunk_doc.npy`` (int32, written by the build) gives each passage's document position
  without reading the passages; when absent (older indexes) it is computed from the passage ids.

The file formats are those of :mod:`kb.store`; nothing is pickled.
"""
from __future__ import annotations

import json
import mmap
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .manifest import Manifest
from .records import Chunk, DocHead, DocMeta, Document
from .store import doc_from_json, load_chunks, load_documents

LAZY_THRESHOLD = 100_000  # passages
_CACHE = 4096


def line_offsets(buf) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops): the byte offsets of the non-empty lines of a buffer, without their newlines."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    ends = []
    step = 1 << 26
    for a in range(0, len(arr), step):
        ends.append(np.flatnonzero(arr[a : a + step] == 10) + a)
    nl = np.concatenate(ends) if ends else np.zeros(0, np.int64)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    if len(starts) and starts[-1] >= len(arr):
        starts = starts[:-1]
    stops = np.append(starts[1:] - 1, len(arr)).astype(np.int64) if len(starts) else starts
    keep = stops > starts  # blank lines are skipped, as the eager loaders do
    return starts[keep], stops[keep]


class _Lines:
    """A memory-mapped JSON-lines file with per-line offsets."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")
        size = path.stat().st_size
        self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.starts, self.stops = line_offsets(self._mm)
        if isinstance(self._mm, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            # the offset scan touched every page: drop them from this process's resident set (they
            # stay in the OS page cache); lines are paged in again only when read
            self._mm.madvise(mmap.MADV_DONTNEED)

    def __len__(self) -> int:
        return len(self.starts)

    def json(self, i: int) -> dict[str, Any]:
        return json.loads(self._mm[int(self.starts[i]) : int(self.stops[i])])


class LazyChunks(Sequence):
    """``Sequence[Chunk]`` over ``chunks.jsonl`` without holding the passages in memory."""

    def __init__(self, path: Path) -> None:
        self._lines = _Lines(path)
        self._cache: dict[int, Chunk] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("passage row out of range")
        c = self._cache.get(i)
        if c is None:
            c = Chunk(**self._lines.json(i))
            with self._lock:
                if len(self._cache) >= _CACHE:
                    self._cache.clear()
                self._cache[i] = c
        return c

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self)):
            yield Chunk(**self._lines.json(i))


class LazyDocs(Mapping):
    """Read-only ``Mapping[str, Document]`` over ``documents.jsonl``, parsed on access."""

    def __init__(self, path: Path, doc_ids: Sequence[str]) -> None:
        self._from_json = doc_from_json
        self._lines = _Lines(path)
        if len(doc_ids) != len(self._lines):
            raise ValueError("documents.jsonl and the manifest list different numbers of documents")
        self._pos = {d: i for i, d in enumerate(doc_ids)}
        self._cache: dict[str, Document] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pos)

    def __iter__(self) -> Iterator[str]:
        return iter(self._pos)

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def __getitem__(self, key: str) -> Document:
        d = self._cache.get(key)
        if d is None:
            d = self._from_json(self._lines.json(self._pos[key]))
            if d.doc_id != key:
                raise ValueError(f"documents.jsonl is out of order at {key!r}")
            with self._lock:
                if len(self._cache) >= 256:
                    self._cache.clear()
                self._cache[key] = d
        return d


def manifest_heads(manifest: Manifest) -> list[DocHead]:
    fields = DocMeta.__dataclass_fields__
    return [
        DocHead(d["doc_id"], DocMeta(**{k: d[k] for k in fields if k in d}))
        for d in manifest.document_entries
    ]


def chunk_doc_rows(gen: Path, chunk_ids: Sequence[str], doc_pos: dict[str, int]) -> np.ndarray:
    """Document position of every passage: ``chunk_doc.npy`` if the build wrote it, else from ids
    (``<doc_id>:<ordinal>``)."""
    p = gen / "chunk_doc.npy"
    if p.exists():
        return np.load(p, allow_pickle=False)
    return np.array([doc_pos[c.rpartition(":")[0]] for c in chunk_ids], dtype=np.int32)


def open_rows(gen: Path, manifest: Manifest, n_passages: int):
    """(docs mapping, chunks sequence, document heads, lazy?) for a generation."""
    heads = manifest_heads(manifest)
    if n_passages < LAZY_THRESHOLD:
        docs = {d.doc_id: d for d in load_documents(gen)}
        return docs, load_chunks(gen), [DocHead(d.doc_id, d.meta) for d in docs.values()], False
    lazy = LazyDocs(gen / "documents.jsonl", [h.doc_id for h in heads])
    return lazy, LazyChunks(gen / "chunks.jsonl"), heads, True
