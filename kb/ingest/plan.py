"""Step 1 of every build, folder or Milvus: which documents the given paths hold.

:func:`scan` finds the supported files (:func:`kb.ingest.discover.discover_files`), hashes each (its
bytes and its sidecar) and names the documents, one rule for every writer:

* a file whose name is not valid UTF-8, or that cannot be hashed (unreadable, not a regular file,
  too large, a sidecar that cannot be read), is a :class:`~kb.records.Failure`, not a document;
* identical contents under several names are one document: the first path (in sorted order)
  names it, the others are its aliases;
* a document's id is the slug of its path relative to the corpus root
  (:func:`kb.ingest.read.make_doc_id`), with a suffix of its hash when an earlier document of
  the scan has that id already.

What a writer then compares the plan with (the live manifest, the stored document rows) is its
own business; reading a planned document is :func:`kb.ingest.prepare.read_planned`.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import IngestError
from ..records import Failure
from .discover import discover_files, file_sha256
from .read import make_doc_id

Found = tuple[list[Path], list[Failure]]  # the result of kb.ingest.discover.discover_files


@dataclass(frozen=True)
class Planned:
    """A document of the corpus as planned: id, first path, content hash, other paths."""

    doc_id: str
    path: str
    sha256: str
    aliases: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.aliases)


@dataclass(frozen=True)
class Scan:
    """The files found, their hashes, the documents they make and the files that failed."""

    files: tuple[Path, ...]  # every file that could be hashed, sorted
    shas: dict[str, str]  # path -> SHA-256 of the file and its sidecar
    documents: tuple[Planned, ...]  # one per distinct content, in path order
    bad: tuple[Failure, ...]  # skipped by discovery or not hashable


def corpus_root_of(paths: Sequence[Path], corpus_root: Path | None) -> Path | None:
    """The folder document ids are relative to: the one folder given, unless named."""
    if corpus_root is None and len(paths) == 1 and Path(paths[0]).is_dir():
        return Path(paths[0])
    return corpus_root


def real_path(path: str | Path) -> str:
    """A file's real path (absolute, symlinks resolved): one name for the same file however it
    was spelled (``./corpus``, ``corpus/``, from another working folder)."""
    return os.path.realpath(path)


def printable(path: Path) -> str:
    """A file name as text, undecodable bytes shown as U+FFFD."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def hash_one(path: Path) -> str | Failure:
    """The content hash of one found file, or why it is not a document."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 in the name
        return Failure(printable(path), "file name is not valid UTF-8; rename the file")
    try:
        return file_sha256(path)
    except OSError as e:  # unreadable (permissions) or vanished since the discovery
        return Failure(str(path), f"cannot read: {e.strerror or e}")
    except IngestError as e:  # not a regular file, too large, a sidecar that cannot be read
        return Failure(str(path), str(e))


def name_documents(files: Sequence[Path], shas: dict[str, str], corpus_root: Path | None) -> tuple[Planned, ...]:
    """One :class:`Planned` per distinct content: id from the path, a hash suffix on a clash."""
    by_sha: dict[str, Planned] = {}
    used: set[str] = set()
    for p in files:
        sha = shas[str(p)]
        if sha in by_sha:  # the same content under another name: one document
            d = by_sha[sha]
            by_sha[sha] = Planned(d.doc_id, d.path, sha, (*d.aliases, str(p)))
            continue
        doc_id = make_doc_id(p, corpus_root)
        while doc_id in used:
            doc_id += "-" + sha[:6]
        used.add(doc_id)
        by_sha[sha] = Planned(doc_id, str(p), sha)
    return tuple(by_sha.values())


def scan(paths: Sequence[Path], corpus_root: Path | None, follow_symlinks: bool = False,
         found: Found | None = None) -> Scan:
    """Find, hash and name the documents under ``paths`` (or in ``found``, a discovery already
    made); ``corpus_root`` as given to the build (:func:`corpus_root_of` applies)."""
    files, skipped = found if found is not None else discover_files([Path(p) for p in paths], follow_symlinks)
    bad: list[Failure] = list(skipped)
    shas: dict[str, str] = {}
    for p in files:
        sha = hash_one(p)
        if isinstance(sha, Failure):
            bad.append(sha)
        else:
            shas[str(p)] = sha
    kept = tuple(p for p in files if str(p) in shas)
    root = corpus_root_of(list(paths), corpus_root)
    return Scan(kept, shas, name_documents(kept, shas, root), tuple(bad))
