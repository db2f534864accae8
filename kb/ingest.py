"""Read source files into :class:`~kb.records.Document` records.

Supported: ``.pdf`` (pypdf, text per page, page numbers kept, repeated running headers and
footers and bare page numbers removed), ``.txt`` and ``.md`` (UTF-8 with or without BOM, UTF-16
with BOM, cp1252/latin-1 detected and decoded; text normalised to NFC). Metadata (title,
organisation, report type, year) is inferred from the file name and the text, and a sidecar
``NAME.meta.json`` next to a file overrides any of it.

A file that cannot be read raises :class:`~kb.errors.IngestError` with a one-line reason;
:func:`read_corpus` turns those into :class:`~kb.records.Failure` records and goes on.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from .errors import IngestError
from .records import DocMeta, Document, Failure

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (".pdf", *TEXT_SUFFIXES)
SIDECAR_SUFFIX = ".meta.json"
MAX_FILE_BYTES = 200 * 1024 * 1024

# -- discovery ---------------------------------------------------------------------------


def discover(paths: list[Path]) -> list[Path]:
    """Supported files under the given files and folders, recursively, sorted, hidden skipped."""
    found: set[Path] = set()
    for p in paths:
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in files:
                    fp = Path(root) / f
                    if not f.startswith(".") and _supported(fp):
                        found.add(fp)
        elif p.is_file():
            found.add(p)
        else:
            raise IngestError(f"{p}: no such file or folder")
    return sorted(found, key=lambda x: str(x))


def _supported(p: Path) -> bool:
    name = p.name.lower()
    return name.endswith(SUFFIXES) and not name.endswith(SIDECAR_SUFFIX)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    sidecar = sidecar_path(path)
    if sidecar.exists():
        h.update(b"\0sidecar\0" + sidecar.read_bytes())
    return h.hexdigest()


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


# -- decoding ----------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """Decode bytes of a text file; raise IngestError for empty or binary data.

    Order: BOMs (UTF-8, UTF-16), strict UTF-8, then cp1252 (a superset of latin-1's printable
    range), then latin-1. Binary data (NUL bytes without a UTF-16 BOM, or many control
    characters) is refused.
    """
    if not data.strip():
        raise IngestError("empty file")
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise IngestError(f"broken UTF-16 text: {e.reason}") from None
    else:
        if b"\x00" in data[:8192]:
            raise IngestError("binary file, not text (contains NUL bytes)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    sample = text[:8192]
    ctrl = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\n\r\t\f")
    if ctrl > max(8, len(sample) // 50):
        raise IngestError("binary file, not text (many control characters)")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise IngestError("empty file (no text)")
    return text


# -- PDF ---------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^\s*(?:sida\s+)?\d{1,4}(?:\s*(?:/|av)\s*\d{1,4})?\s*$", re.I)
_DIGITS = re.compile(r"\d+")


def read_pdf_pages(path: Path) -> list[str]:
    """Text of each page of a PDF (pypdf). Raises IngestError with a clear reason."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise IngestError("encrypted PDF (needs a password); save an unprotected copy")
        pages = [(p.extract_text() or "") for p in reader.pages]
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError) as e:
        raise IngestError(f"broken or truncated PDF ({type(e).__name__}: {str(e)[:120]})") from None
    except Exception as e:  # pypdf raises many types on malformed input
        raise IngestError(f"unreadable PDF ({type(e).__name__}: {str(e)[:120]})") from None
    if not pages:
        raise IngestError("PDF has no pages")
    if sum(len(p.strip()) for p in pages) < 20 * max(1, len(pages)) // 4 and not any(
        len(p.strip()) > 40 for p in pages
    ):
        raise IngestError("scanned PDF without a text layer (needs OCR)")
    return [unicodedata.normalize("NFC", p.replace("\r\n", "\n").replace("\r", "\n")) for p in pages]


def strip_running_lines(pages: list[str]) -> list[str]:
    """Drop running headers/footers (first/last lines repeated on many pages, digits ignored)
    and bare page numbers ("12", "Sida 3 av 40")."""
    if not pages:
        return pages

    def edge_lines(page: str) -> list[str]:
        lines = [ln.strip() for ln in page.split("\n") if ln.strip()]
        return lines[:2] + lines[-2:]

    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({_DIGITS.sub("#", ln) for ln in edge_lines(page)})
    threshold = max(2, (len(pages) + 1) // 2)
    running = {k for k, c in counts.items() if c >= threshold} if len(pages) >= 3 else set()
    out = []
    for page in pages:
        lines = page.split("\n")
        nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
        edges = set(nonblank[:2] + nonblank[-2:])
        kept = []
        for i, ln in enumerate(lines):
            s = ln.strip()
            if i in edges and (_PAGE_NUMBER.match(s) or _DIGITS.sub("#", s) in running):
                continue
            kept.append(ln)
        out.append("\n".join(kept).strip("\n"))
    return out


def join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """Join page texts with blank lines; return the text and each page's start offset."""
    starts, parts, pos = [], [], 0
    for i, p in enumerate(pages):
        if i:
            parts.append("\n\n")
            pos += 2
        starts.append(pos)
        parts.append(p)
        pos += len(p)
    return "".join(parts), tuple(starts)


# -- metadata ----------------------------------------------------------------------------

ORGANISATIONS = (
    # (pattern in file name or text, canonical name); order matters: first match wins
    (r"leanlink", "Leanlink"),
    (r"social-?\s*och\s*-?\s*omsorgsn[äa]mnden?|socialochomsorgsnamnden|social-och-omsorgsnamnden", "Social- och omsorgsnämnden"),
    (r"[äa]ldren[äa]mnden?", "Äldrenämnden"),
    (r"kommunstyrelsen?|kommunstyrelsens", "Kommunstyrelsen"),
    (r"kommunfullm[äa]ktige", "Kommunfullmäktige"),
    (r"verksamhetsst[öo]d\s+och\s+service", "Verksamhetsstöd och service"),
    (r"kultur-?\s*och\s*fritidsn[äa]mnden?", "Kultur- och fritidsnämnden"),
    (r"bildningsn[äa]mnden?", "Bildningsnämnden"),
)
DOC_TYPES = (
    (r"verksamhetsber[äa]ttelse", "verksamhetsberättelse"),
    (r"delårsrapport|delarsrapport", "delårsrapport"),
    (r"uppf[öo]ljning", "uppföljning"),
    (r"budget", "budget"),
    (r"verksamhetsplan", "verksamhetsplan"),
    (r"årsredovisning|arsredovisning", "årsredovisning"),
)
_YEAR = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)(?!\d)")


def infer_meta(path: Path, text: str) -> DocMeta:
    """Title, organisation, report type and reporting year from the file name, then the text.

    Year: a year in the file name wins; else the most frequent year in the first 3000
    characters of the text. Organisation and type: file name first, then the first 3000
    characters; the organisation is the first pattern that matches, the file name taking
    precedence over the text.
    """
    stem = unicodedata.normalize("NFC", path.stem)
    name = stem.lower().replace("_", " ")
    head = text[:3000].lower()

    def first(table, *haystacks):
        for hay in haystacks:
            for pat, value in table:
                if re.search(pat, hay):
                    return value
        return None

    years = [int(y) for y in _YEAR.findall(name)]
    if years:
        year = years[-1]
    else:
        counts = Counter(int(y) for y in _YEAR.findall(head))
        year = counts.most_common(1)[0][0] if counts else None
    org = first(ORGANISATIONS, name, head)
    doc_type = first(DOC_TYPES, name, head)
    title = re.sub(r"[-_]+", " ", stem).strip()
    title = title[:1].upper() + title[1:] if title else path.name
    return DocMeta(title=title, organisation=org, doc_type=doc_type, year=year)


def apply_sidecar(meta: DocMeta, path: Path) -> DocMeta:
    """Override metadata from ``NAME.meta.json`` (keys: title, organisation, doc_type, year)."""
    sc = sidecar_path(path)
    if not sc.exists():
        return meta
    try:
        data = json.loads(sc.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IngestError(f"sidecar {sc.name} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise IngestError(f"sidecar {sc.name} must hold a JSON object")
    year = data.get("year", meta.year)
    if year is not None and not isinstance(year, int):
        raise IngestError(f"sidecar {sc.name}: year must be an integer")
    return DocMeta(
        title=str(data.get("title", meta.title)),
        organisation=data.get("organisation", meta.organisation),
        doc_type=data.get("doc_type", meta.doc_type),
        year=year,
    )


# -- documents ---------------------------------------------------------------------------


def make_doc_id(path: Path, root: Path | None) -> str:
    """Stable id from the path relative to the corpus root: lowercase ASCII slug."""
    rel = path.relative_to(root) if root and path.is_relative_to(root) else Path(path.name)
    s = unicodedata.normalize("NFKD", str(rel.with_suffix("")))
    s = s.encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s or hashlib.sha1(str(rel).encode()).hexdigest()[:12]


def read_document(path: Path, doc_id: str, sha256: str | None = None) -> Document:
    """Read one file into a Document. Raises IngestError with a one-line reason."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}") from None
    if size == 0:
        raise IngestError("empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise IngestError(f"file too large ({size // 2**20} MiB > {MAX_FILE_BYTES // 2**20} MiB)")
    sha = sha256 or file_sha256(path)
    page_starts: tuple[int, ...] = ()
    if path.suffix.lower() == ".pdf":
        pages = strip_running_lines(read_pdf_pages(path))
        text, page_starts = join_pages(pages)
    else:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise IngestError(f"cannot read: {e.strerror}") from None
        if data[:5] == b"%PDF-":
            raise IngestError("a PDF file named as text; rename it to .pdf")
        text = decode_text(data)
    if not text.strip():
        raise IngestError("no text found")
    meta = apply_sidecar(infer_meta(path, text), path)
    return Document(doc_id=doc_id, path=str(path), sha256=sha, meta=meta, text=text, page_starts=page_starts)


def read_corpus(paths: list[Path], root: Path | None = None) -> Iterator[Document | Failure]:
    """Read every supported file; yield Documents and Failures (never raises for one bad file)."""
    for path in discover(paths):
        try:
            yield read_document(path, make_doc_id(path, root))
        except IngestError as e:
            yield Failure(path=str(path), reason=str(e))
