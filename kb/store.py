"""The index on disk: generations, a versioned manifest, atomic publication and verification.

Layout of an index directory::

    index/
      CURRENT              name of the live generation (replaced atomically)
      gen-<id>/            one complete, immutable build
        manifest.json      format version, embedder, analyzer/chunk/BM25/vector parameters,
                           per-document checksums, and a SHA-256 of every other file
        documents.jsonl    document metadata and text (offsets refer to it; :func:`doc_to_json`)
        chunks.jsonl       passages (row i = line i; :class:`kb.records.Chunk` fields)
        chunk_doc.npy      int32 document row of each passage
        lexicon.json       corpus vocabulary used for conflation and decompounding
        bm25/              terms.json, indptr.npy, indices.npy, data.npy, meta.json
        vectors.faiss      FAISS index; vector_ids.txt: one passage id per line
        sentences/         evidence sentences (:func:`write_sentences`): spans.npy (int64 rows of
                           start, end, kind, page, page_end, line_start, line_end; -1 = none),
                           ptr.npy (passage row i owns spans ptr[i]:ptr[i+1]), vectors.npy (float16)
      cache/               embedding cache, per model (cache.npz)
      .tmp-*               a build in progress (removed by the next build if left behind)
      .lock                held by the running build

A build writes a new generation under a temporary name, fsyncs it, renames it into place and
then replaces ``CURRENT``: a crash at any point leaves the previous generation live. Readers
resolve ``CURRENT`` once and read only that generation, so they never mix two builds. The
previous generation is kept for readers that still use it; older ones are removed.
Nothing is pickled.

Crash safety, step by step (a SIGKILL may land anywhere):

* before the rename of the staging folder: only ``.tmp-*`` exists; the next build removes it;
* between the rename and the replacement of ``CURRENT``: an unpublished ``gen-*`` exists that
  ``CURRENT`` does not name; the next publication removes it (only the new and the previous
  live generation survive);
* ``CURRENT`` itself is replaced with an atomic rename, so it names either generation;
* old generations are first renamed to ``.tmp-old-*`` and then deleted, so a half-deleted
  generation is never mistaken for a complete one and is cleaned by the next build.

A reader that resolved ``CURRENT`` just before two quick rebuilds may find its generation
deleted while it loads: :func:`load_live` then resolves ``CURRENT`` again and loads the new
generation (every file of one generation or of the other, never a mixture).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .errors import IndexCorruptError, IndexMissingError, KBError
from .manifest import FORMAT_VERSION, SELF_CHECKSUM, Manifest, check_embedder, check_format_version, checksum_of
from .records import Chunk, DocMeta, Document, Sentence

__all__ = ["FORMAT_VERSION", "SELF_CHECKSUM", "Manifest", "check_embedder", "check_format_version"]
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
KEEP_GENERATIONS = 2


def default_index_dir() -> Path:
    return Path(os.environ.get("KB_INDEX") or "index")


# -- documents.jsonl and chunks.jsonl -------------------------------------------------------


def doc_to_json(doc: Document) -> dict[str, Any]:
    """One line of ``documents.jsonl``."""
    return {
        "doc_id": doc.doc_id,
        "path": doc.path,
        "sha256": doc.sha256,
        "meta": asdict(doc.meta),
        "page_starts": list(doc.page_starts),
        "aliases": list(doc.aliases),
        "text": doc.text,
    }


def doc_from_json(d: dict[str, Any]) -> Document:
    return Document(
        doc_id=d["doc_id"],
        path=d["path"],
        sha256=d["sha256"],
        meta=DocMeta(**d["meta"]),
        text=d["text"],
        page_starts=tuple(d.get("page_starts", ())),
        aliases=tuple(d.get("aliases", ())),
    )


def load_documents(gen: Path) -> list[Document]:
    with open(gen / "documents.jsonl", encoding="utf-8") as f:
        return [doc_from_json(json.loads(line)) for line in f if line.strip()]


def load_chunks(gen: Path) -> list[Chunk]:
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        return [Chunk(**json.loads(line)) for line in f if line.strip()]


# -- sentences/ ----------------------------------------------------------------------------

SENTENCE_KINDS = ("text", "bullet", "row", "heading")
SENTENCE_DIR = "sentences"


def write_sentences(folder: Path, sentences: Sequence[Sentence], chunk_ids: Sequence[str], vecs: np.ndarray) -> None:
    """The evidence sentences of a generation: spans, a per-passage pointer and float16 vectors.

    ``sentences`` come grouped by passage, in the order of ``chunk_ids`` (the passage rows)."""
    row_of = {c: i for i, c in enumerate(chunk_ids)}
    counts = np.zeros(len(chunk_ids) + 1, dtype=np.int64)
    spans = np.full((len(sentences), 7), -1, dtype=np.int64)
    last = -1
    for i, s in enumerate(sentences):
        row = row_of[s.chunk_id]
        if row < last:
            raise ValueError("sentences must come in passage order")
        last = row
        counts[row + 1] += 1
        spans[i] = (s.start, s.end, SENTENCE_KINDS.index(s.kind), *(-1 if v is None else v for v in
                    (s.page, s.page_end, s.line_start, s.line_end)))
    out = folder / SENTENCE_DIR
    out.mkdir(exist_ok=True)
    files.atomic_write_bytes(out / "spans.npy", files.npy_bytes(spans))
    files.atomic_write_bytes(out / "ptr.npy", files.npy_bytes(np.cumsum(counts)))
    files.atomic_write_bytes(out / "vectors.npy", files.npy_bytes(np.asarray(vecs, dtype=np.float16)))


def load_sentences(gen: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(spans, ptr, vectors) of a generation, memory-mapped; None when it has no sentences."""
    folder = gen / SENTENCE_DIR
    if not folder.is_dir():
        return None
    return tuple(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                 for name in ("spans", "ptr", "vectors"))


def sentence_records(chunk_id: str, spans: np.ndarray) -> list[Sentence]:
    """Sentence records of one passage from its rows of ``spans.npy``."""
    out = []
    for start, end, kind, *where in spans.tolist():
        page, page_end, line_start, line_end = (None if v < 0 else v for v in where)
        out.append(Sentence(chunk_id, start, end, SENTENCE_KINDS[kind], page, page_end, line_start, line_end))
    return out


def manifest_documents(docs: Iterable[Document]) -> list[dict[str, Any]]:
    """The manifest's per-document entries: id, path, aliases, checksum and metadata."""
    return [
        {"doc_id": d.doc_id, "path": d.path, "aliases": list(d.aliases), "sha256": d.sha256, **asdict(d.meta)}
        for d in docs
    ]


def current_generation(root: Path) -> Path | None:
    """The live generation folder, or None when there is no index."""
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise IndexCorruptError(f"cannot read {root / CURRENT} ({e}); run `kb ingest` to rebuild the index") from None
    gen = root / name
    if not name.startswith("gen-") or not gen.is_dir():
        raise IndexCorruptError(
            f"{root / CURRENT} names {name!r}, which does not exist; run `kb ingest` to rebuild the index"
        )
    return gen


def read_manifest_json(gen: Path) -> dict[str, Any]:
    """The generation's manifest as parsed JSON (:func:`read_manifest` checks and types it)."""
    try:
        data = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{gen / MANIFEST} is missing; run `kb ingest` to rebuild the index") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise IndexCorruptError(f"{gen / MANIFEST} is not valid JSON ({e}); run `kb ingest`") from None
    except OSError as e:
        raise IndexCorruptError(f"cannot read {gen / MANIFEST} ({e}); run `kb ingest`") from None
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{gen / MANIFEST} is damaged (not a JSON object); run `kb ingest`")
    return data


def read_manifest(gen: Path, root: Path | str | None = None) -> Manifest:
    """The generation's manifest: of this kb's format version (else IndexIncompatibleError naming
    ``root``) and matching its own checksum (else IndexCorruptError); :func:`verify_files` checks
    every other file against it."""
    data = read_manifest_json(gen)
    manifest = Manifest.from_json(data)
    check_format_version(manifest, gen.parent if root is None else root)
    want = data.get(SELF_CHECKSUM)
    if want is not None and want != checksum_of(data):
        raise IndexCorruptError(f"{gen / MANIFEST} is damaged (checksum differs); run `kb ingest` to rebuild the index")
    return manifest


def open_generation(root: Path, verify: bool = True) -> tuple[Path, Manifest]:
    """Resolve and check the live generation: exists, right format, files intact."""
    gen = current_generation(root)
    if gen is None:
        raise IndexMissingError(f"no index at {root}; build one with `kb ingest corpus/ --index {root}`")
    manifest = read_manifest(gen, root)
    if verify:
        verify_files(gen, manifest)
    return gen, manifest


def verify_files(gen: Path, manifest: Manifest) -> None:
    table = manifest.files
    if not isinstance(table, dict) or not table:
        raise IndexCorruptError(f"{gen / MANIFEST} lists no checksums; run `kb ingest` to rebuild the index")
    for rel, info in table.items():
        p = gen / rel
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            raise IndexCorruptError(f"index file {rel} is missing; run `kb ingest` to rebuild the index") from None
        if not isinstance(info, dict) or size != info.get("bytes") or files.sha256_file(p) != info.get("sha256"):
            raise IndexCorruptError(
                f"index file {rel} is damaged (size or checksum differs from the manifest); "
                "run `kb ingest` to rebuild the index"
            )


def file_table(gen: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(gen.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            out[str(p.relative_to(gen))] = {"bytes": p.stat().st_size, "sha256": files.sha256_file(p)}
    return out


@contextlib.contextmanager
def build_lock(root: Path):
    """Exclusive lock so that two builds never write the same index at once. A folder that
    cannot be created or written (a file in the way, no permission) is a KBError."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise KBError(f"cannot use {root} as the index folder: {files.folder_problem(e)}; "
                      "choose another folder with --index") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KBError(f"another `kb ingest` is building {root}; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def clean_leftovers(root: Path) -> int:
    """Remove what an interrupted build left behind (call under the build lock): temporary
    build folders (``.tmp-*``, including half-deleted old generations) and temporary files of
    atomic writes (``.*.tmp``) in the index folder and in the embedding cache."""
    n = 0
    for p in root.glob(".tmp-*"):
        with contextlib.suppress(OSError):  # a read-only folder: the build itself reports it
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            n += 1
    tmps = list(root.glob(".*.tmp"))
    if (root / "cache").is_dir():
        tmps += [p for p in (root / "cache").rglob(".*.tmp") if p.is_file()]
    for p in tmps:
        with contextlib.suppress(OSError):
            p.unlink(missing_ok=True)
            n += 1
    return n


def new_staging(root: Path) -> Path:
    staging = root / f".tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    return staging


def publish(root: Path, staging: Path, manifest: Manifest) -> Path:
    """Seal the staged build (checksums + manifest), move it into place and make it live.

    On an error (e.g. a full disk) before ``CURRENT`` is replaced, the new generation is
    removed again and the error propagates: the previous generation stays live.
    """
    data = dict(manifest.to_json(), files=file_table(staging))
    data[SELF_CHECKSUM] = checksum_of(data)
    files.atomic_write_bytes(staging / MANIFEST, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
    files.fsync_dir(staging)
    previous = _current_name(root)
    gen = root / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    os.rename(staging, gen)
    try:
        files.fsync_dir(root)
        files.atomic_write_bytes(root / CURRENT, (gen.name + "\n").encode("utf-8"))
    except BaseException:
        if _current_name(root) != gen.name:
            _remove_generation(root, gen)
        raise
    files.fsync_dir(root)
    prune_generations(root, keep=gen.name, previous=previous)
    return gen


def _current_name(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _remove_generation(root: Path, gen: Path) -> None:
    """Rename out of the ``gen-*`` namespace first, then delete (a crash halfway leaves only a
    ``.tmp-*`` folder, which the next build removes)."""
    trash = root / f".tmp-old-{gen.name}-{uuid.uuid4().hex[:6]}"
    try:
        os.rename(gen, trash)
    except OSError:
        trash = gen
    shutil.rmtree(trash, ignore_errors=True)


def prune_generations(root: Path, keep: str, previous: str | None = None) -> None:
    """Keep the live generation ``keep`` and the one that was live before it (``previous``; by
    default the newest other one) for readers still using it; remove all others, including
    generations a crashed build renamed into place but never published."""
    gens = sorted((p for p in root.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    others = [g for g in gens if g.name != keep]
    if previous is not None:
        survivors = {keep, previous}
    else:
        survivors = {keep, *(g.name for g in others[: KEEP_GENERATIONS - 1])}
    for g in gens:
        if g.name not in survivors:
            _remove_generation(root, g)


def load_live(root: Path, load, verify: bool = True, attempts: int = 3):
    """Resolve ``CURRENT``, verify that generation and call ``load(gen, manifest)``.

    If the generation disappears while it is being read (two builds published in quick
    succession and pruned it), ``CURRENT`` is resolved again and the new generation is loaded
    from the start, so the result always comes from exactly one complete generation. Damage that
    is not explained by a newer ``CURRENT`` is reported as :class:`IndexCorruptError`.
    """
    last: Exception | None = None
    for _ in range(max(1, attempts)):
        name = _current_name(root)
        try:
            gen, manifest = open_generation(root, verify=verify)
            name = gen.name
            return load(gen, manifest)
        except (IndexCorruptError, OSError) as e:
            last = e
            now = _current_name(root)
            if now is not None and now != name and (root / now).is_dir():
                continue  # replaced while we read it: read the new one from the start
            break
    if isinstance(last, OSError):
        raise IndexCorruptError(f"cannot read the index at {root} ({last}); run `kb ingest`") from None
    raise last  # type: ignore[misc]
