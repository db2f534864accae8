"""The manifest: an index's settings and contents as one typed record, :class:`Manifest`.

A folder index writes it as ``gen-*/manifest.json`` (:mod:`kb.store`), a Milvus collection as the
``manifest`` row of ``NAME__meta`` (:mod:`kb.milvus.store`). Both are JSON objects with a
``format_version``; :meth:`Manifest.from_json` reads every version kb ever wrote (absent keys
stay ``None``, unknown keys are kept in ``extra``) and :meth:`Manifest.to_json` writes the same
keys in the same order as before the record existed, so existing indexes and collections open
unchanged and a manifest read and written again is the same JSON.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import IndexIncompatibleError

FORMAT_VERSION = 1
SELF_CHECKSUM = "manifest_sha256"


def _obj(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class EmbedderInfo:
    """The embedder an index was built with: its spec (as given), model id and dimension."""

    spec: str = ""
    id: str = ""
    dim: int = 0

    @classmethod
    def from_json(cls, d: object) -> EmbedderInfo:
        e = _obj(d)
        return cls(str(e.get("spec") or ""), str(e.get("id") or ""), int(e.get("dim") or 0))

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "id": self.id, "dim": self.dim}


@dataclass(frozen=True)
class Counts:
    documents: int = 0
    passages: int = 0
    sentences: int | None = None  # absent: the index has no evidence sentences

    @classmethod
    def from_json(cls, d: object) -> Counts:
        c = _obj(d)
        s = c.get("sentences")
        return cls(int(c.get("documents", 0)), int(c.get("passages", 0)), None if s is None else int(s))

    def to_json(self) -> dict[str, int]:
        out = {"documents": self.documents, "passages": self.passages}
        return out if self.sentences is None else {**out, "sentences": self.sentences}


# the keys of a manifest, in the order they are written (folder: format_version, created,
# embedder, config, sources, build_seconds, vectors, documents, counts, files, manifest_sha256;
# Milvus: format_version, layout, created, embedder, config, dense_index, build)
KEYS = ("format_version", "layout", "created", "embedder", "config", "dense_index", "build", "sources",
        "build_seconds", "vectors", "documents", "counts", "files", SELF_CHECKSUM)


@dataclass(frozen=True)
class Manifest:
    """An index's manifest. ``None``: the key is absent (e.g. ``layout`` in a folder manifest)."""

    format_version: int | None = FORMAT_VERSION
    embedder: EmbedderInfo = EmbedderInfo()
    config: Mapping[str, Any] = field(default_factory=dict)  # kb.ingest.build.BuildConfig.to_json()
    created: str | None = None
    layout: int | None = None  # Milvus only (kb.milvus.store.LAYOUT)
    dense_index: Mapping[str, Any] | None = None  # Milvus only: the dense index's type and parameters
    build: str | None = None  # Milvus only: the id of the ingest run that wrote it
    sources: Mapping[str, Mapping[str, Any]] | None = None  # folder: per path, sha256 and doc_id or failure
    build_seconds: float | None = None
    vectors: Mapping[str, Any] | None = None  # vector index parameters (kb.vectors.VectorParams)
    documents: tuple[Mapping[str, Any], ...] | None = None  # per document: id, path, aliases, sha256, metadata
    counts: Counts | None = None
    files: Mapping[str, Mapping[str, Any]] | None = None  # folder: size and SHA-256 of every other file
    checksum: str | None = None  # the manifest's own SHA-256 (written as manifest_sha256)
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys kb does not know (kept as they are)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Manifest:
        docs = d.get("documents")
        return cls(
            format_version=d.get("format_version"), embedder=EmbedderInfo.from_json(d.get("embedder")),
            config=_obj(d.get("config")), created=d.get("created"), layout=d.get("layout"),
            dense_index=d.get("dense_index"), build=d.get("build"), sources=d.get("sources"),
            build_seconds=d.get("build_seconds"), vectors=d.get("vectors"),
            documents=None if docs is None else tuple(docs),
            counts=None if d.get("counts") is None else Counts.from_json(d["counts"]),
            files=d.get("files"), checksum=d.get(SELF_CHECKSUM),
            extra={k: v for k, v in d.items() if k not in KEYS},
        )

    def to_json(self) -> dict[str, Any]:
        values = {
            "format_version": self.format_version, "layout": self.layout, "created": self.created,
            "embedder": self.embedder.to_json(), "config": dict(self.config), "dense_index": self.dense_index,
            "build": self.build, "sources": self.sources, "build_seconds": self.build_seconds,
            "vectors": self.vectors, "documents": None if self.documents is None else list(self.documents),
            "counts": None if self.counts is None else self.counts.to_json(), "files": self.files,
            SELF_CHECKSUM: self.checksum,
        }
        out = {k: values[k] for k in KEYS[:9] if values[k] is not None}
        out.update(self.extra)
        out.update({k: values[k] for k in KEYS[9:] if values[k] is not None})
        return out

    # -- what readers ask ---------------------------------------------------------------------
    @property
    def passages(self) -> int:
        return self.counts.passages if self.counts is not None else 0

    @property
    def document_entries(self) -> tuple[Mapping[str, Any], ...]:
        return self.documents or ()

    @property
    def source_entries(self) -> Mapping[str, Mapping[str, Any]]:
        return self.sources or {}

    @property
    def analyzer_config(self) -> Mapping[str, Any]:
        return _obj(self.config.get("analyzer"))


def checksum_of(data: Mapping[str, Any]) -> str:
    """SHA-256 of a manifest's canonical JSON without its own checksum field."""
    body = {k: v for k, v in data.items() if k != SELF_CHECKSUM}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def check_format_version(manifest: Manifest, root: Path | str) -> None:
    """Refuse an index (folder or Milvus collection) written in another format version."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexIncompatibleError(
            f"the index at {root} has format version {manifest.format_version}, this kb reads "
            f"version {FORMAT_VERSION}; re-run `kb ingest` to rebuild it"
        )


def check_embedder(manifest: Manifest, embedder_id: str, root: Path | str) -> None:
    built = manifest.embedder.id or None
    if built != embedder_id:
        raise IndexIncompatibleError(
            f"the index at {root} was built with embedder {built!r}, not {embedder_id!r}; "
            f"re-run `kb ingest --embedder {embedder_id.split(':')[0]}` or open it with its own embedder"
        )
