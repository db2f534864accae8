"""Read one source file into a :class:`~kb.records.Document` (:func:`read_document`), and name it
(:func:`make_doc_id`).

Supported: ``.pdf`` (:mod:`kb.ingest.pdf`: text per page, page numbers kept, running headers and
footers and bare page numbers removed), ``.txt`` and ``.md`` (:mod:`kb.ingest.decode`: UTF-8 with
or without BOM, UTF-16, cp1252/latin-1; NFC). Files are found and opened by
:mod:`kb.ingest.discover` (regular files only, sizes checked first); metadata is inferred and a
sidecar ``NAME.meta.json`` overrides it (:mod:`kb.ingest.meta`).

A file that cannot be read raises :class:`~kb.errors.IngestError` with a one-line reason;
:func:`kb.ingest.prepare.read_planned` records it as a :class:`~kb.records.Failure` and goes on.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from ..errors import IngestError
from ..records import Document
from . import discover
from .decode import decode_text
from .meta import apply_sidecar, infer_meta
from .pdf import join_pages, mark_headings, read_pdf_pages, strip_running_lines


def make_doc_id(path: Path, root: Path | None) -> str:
    """Stable id from the path relative to the corpus root: lowercase ASCII slug."""
    rel = path.relative_to(root) if root and path.is_relative_to(root) else Path(path.name)
    s = unicodedata.normalize("NFKD", str(rel.with_suffix("")))
    s = s.encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s or hashlib.sha1(str(rel).encode()).hexdigest()[:12]


def read_document(path: Path, doc_id: str, sha256: str | None = None) -> Document:
    """Read one file into a Document. Raises IngestError with a one-line reason."""
    size = discover.regular_size(path)
    if size == 0:
        raise IngestError("empty file (0 bytes)")
    if size > discover.MAX_FILE_BYTES:
        raise discover.too_large(size)
    sha = sha256 or discover.file_sha256(path)
    page_starts: tuple[int, ...] = ()
    if path.suffix.lower() == ".pdf":
        raw, headings = read_pdf_pages(path)
        pages = [mark_headings(p, h) for p, h in zip(strip_running_lines(raw), headings)]
        text, page_starts = join_pages(pages)
    else:
        data = discover.read_regular(path, discover.MAX_FILE_BYTES)
        if data[:5] == b"%PDF-":
            raise IngestError("a PDF file named as text; rename it to .pdf")
        text = decode_text(data)
    if not text.strip():
        raise IngestError("no text found")
    meta = apply_sidecar(infer_meta(path, text), path)
    return Document(doc_id=doc_id, path=str(path), sha256=sha, meta=meta, text=text, page_starts=page_starts)


def unexpected_reason(e: Exception) -> str:
    """The one-line failure reason for an error no reader foresaw (a bug or an odd input)."""
    return f"unexpected error while reading ({type(e).__name__}: {str(e)[:160]})"
