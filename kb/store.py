"""The index on disk: generations, a versioned manifest, atomic publication and verification.

Layout of an index directory::

    index/
      CURRENT              name of the live generation (replaced atomically)
      gen-<id>/            one complete, immutable build
        manifest.json      format version, embedder, analyzer/chunk/BM25/vector parameters,
                           per-document checksums, and a SHA-256 of every other file
        documents.jsonl    document metadata and text (offsets refer to it)
        chunks.jsonl       passages (row i = line i)
        lexicon.json       corpus vocabulary used for conflation and decompounding
        bm25/              terms.json, indptr.npy, indices.npy, data.npy, meta.json
        vectors.faiss      FAISS index; vector_ids.txt: one passage id per line
      cache/               embedding cache, per model (cache.npz)
      .tmp-*               a build in progress (removed by the next build if left behind)
      .lock                held by the running build

A build writes a new generation under a temporary name, fsyncs it, renames it into place and
then replaces ``CURRENT``: a crash at any point leaves the previous generation live. Readers
resolve ``CURRENT`` once and read only that generation, so they never mix two builds. The
previous generation is kept for readers that still use it; older ones are removed.
Nothing is pickled.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorruptError, IndexIncompatibleError, IndexMissingError, KBError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
KEEP_GENERATIONS = 2


def default_index_dir() -> Path:
    return Path(os.environ.get("KB_INDEX") or "index")


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def current_generation(root: Path) -> Path | None:
    """The live generation folder, or None when there is no index."""
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise IndexCorruptError(f"cannot read {root / CURRENT}: {e}") from None
    gen = root / name
    if not name.startswith("gen-") or not gen.is_dir():
        raise IndexCorruptError(
            f"{root / CURRENT} names {name!r}, which does not exist; run `kb ingest` to rebuild the index"
        )
    return gen


def read_manifest(gen: Path) -> dict[str, Any]:
    try:
        return json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{gen / MANIFEST} is missing; run `kb ingest` to rebuild the index") from None
    except ValueError as e:
        raise IndexCorruptError(f"{gen / MANIFEST} is not valid JSON ({e}); run `kb ingest`") from None


def open_generation(root: Path, verify: bool = True) -> tuple[Path, dict[str, Any]]:
    """Resolve and check the live generation: exists, right format, files intact."""
    gen = current_generation(root)
    if gen is None:
        raise IndexMissingError(f"no index at {root}; build one with `kb ingest corpus/ --index {root}`")
    manifest = read_manifest(gen)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexIncompatibleError(
            f"the index at {root} has format version {manifest.get('format_version')}, this kb reads "
            f"version {FORMAT_VERSION}; re-run `kb ingest` to rebuild it"
        )
    if verify:
        verify_files(gen, manifest)
    return gen, manifest


def verify_files(gen: Path, manifest: dict[str, Any]) -> None:
    for rel, info in manifest.get("files", {}).items():
        p = gen / rel
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            raise IndexCorruptError(f"index file {rel} is missing; run `kb ingest` to rebuild the index") from None
        if size != info["bytes"] or sha256_file(p) != info["sha256"]:
            raise IndexCorruptError(
                f"index file {rel} is damaged (size or checksum differs from the manifest); "
                "run `kb ingest` to rebuild the index"
            )


def file_table(gen: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(gen.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            out[str(p.relative_to(gen))] = {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
    return out


@contextlib.contextmanager
def build_lock(root: Path):
    """Exclusive lock so that two builds never write the same index at once."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KBError(f"another `kb ingest` is building {root}; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def clean_leftovers(root: Path) -> int:
    """Remove temporary build folders left by an interrupted build (call under the lock)."""
    n = 0
    for p in root.glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        n += 1
    for p in root.glob(".*.tmp"):
        p.unlink(missing_ok=True)
        n += 1
    return n


def new_staging(root: Path) -> Path:
    staging = root / f".tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    return staging


def publish(root: Path, staging: Path, manifest: dict[str, Any]) -> Path:
    """Seal the staged build (checksums + manifest), move it into place and make it live."""
    manifest = dict(manifest, files=file_table(staging))
    atomic_write_bytes(staging / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    fsync_dir(staging)
    gen = root / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    os.rename(staging, gen)
    fsync_dir(root)
    atomic_write_bytes(root / CURRENT, (gen.name + "\n").encode("utf-8"))
    fsync_dir(root)
    prune_generations(root, keep=gen.name)
    return gen


def prune_generations(root: Path, keep: str) -> None:
    gens = sorted((p for p in root.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    survivors = [g for g in gens if g.name == keep] + [g for g in gens if g.name != keep][: KEEP_GENERATIONS - 1]
    for g in gens:
        if g not in survivors:
            shutil.rmtree(g, ignore_errors=True)


def check_embedder(manifest: dict[str, Any], embedder_id: str, root: Path) -> None:
    built = manifest.get("embedder", {}).get("id")
    if built != embedder_id:
        raise IndexIncompatibleError(
            f"the index at {root} was built with embedder {built!r}, not {embedder_id!r}; "
            f"re-run `kb ingest --embedder {embedder_id.split(':')[0]}` or open it with its own embedder"
        )
