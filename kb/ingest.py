"""Read source files into :class:`~kb.records.Document` records.

Supported: ``.pdf`` (pypdf, text per page, page numbers kept, repeated running headers and
footers and bare page numbers removed), ``.txt`` and ``.md`` (UTF-8 with or without BOM, UTF-16
with BOM, cp1252/latin-1 detected and decoded; text normalised to NFC). Metadata (title,
organisation, report type, year) is inferred from the file name and the text, and a sidecar
``NAME.meta.json`` next to a file overrides any of it.

A file that cannot be read raises :class:`~kb.errors.IngestError` with a one-line reason;
:func:`kb.build.read_sources` records it as a :class:`~kb.records.Failure` and goes on.
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
from .text import HEADING_MARK, is_heading, is_numeric_line, mark_heading, years_in

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
        sample = data[:8192]
        if b"\x00" in sample:
            utf16 = _bomless_utf16(sample)
            if utf16 is None:
                raise IngestError("binary file, not text (contains NUL bytes)")
            try:
                return decode_text(data.decode(utf16).encode("utf-16"))
            except UnicodeDecodeError:
                raise IngestError("binary file, not text (contains NUL bytes)") from None
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


def _bomless_utf16(sample: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the bytes look like UTF-16 text without a BOM (mostly
    Latin text: every other byte is NUL), else None."""
    n = len(sample) // 2 * 2
    if n < 4:
        return None
    even, odd = sample[0:n:2], sample[1:n:2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.05 * len(odd):
        return "utf-16-be"
    return None


# -- PDF ---------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^\s*(?:sida\s+)?\d{1,4}(?:\s*(?:/|av)\s*\d{1,4})?\s*$", re.I)
_DIGITS = re.compile(r"\d+")


def read_pdf_pages(path: Path, worker=None) -> tuple[list[str], list[list[str]]]:
    """Text of each page of a PDF and the heading-style lines of each page, parsed in the
    limited worker process (:mod:`kb.pdfworker`).

    Raises IngestError with a one-line reason for encrypted, broken, truncated, image-only
    (scanned), hanging or memory-exploding files. An encrypted PDF with an empty user password
    is read. Lines set in a heading style (bold or larger type) are marked the way the chunker
    expects headings: a leading space after a blank line.
    """
    from .pdfworker import WorkerError, extract_pdf

    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}") from None
    if b"%PDF-" not in head:
        raise IngestError("not a PDF file (no %PDF header); broken or misnamed")
    try:
        reply = extract_pdf(str(path), worker)
    except WorkerError as e:
        raise IngestError(f"PDF could not be parsed: {e}") from None
    if not reply.get("ok"):
        kind, reason = reply.get("kind"), str(reply.get("reason", ""))[:160]
        if kind == "encrypted":
            raise IngestError("encrypted PDF (needs a password); save an unprotected copy")
        if kind == "crypto":
            raise IngestError(f"encrypted PDF that needs the 'cryptography' package to decrypt ({reason})")
        if kind == "memory":
            raise IngestError("PDF needs too much memory to parse (stopped); broken or hostile file")
        raise IngestError(f"broken or truncated PDF ({reason})")
    pages: list[str] = reply["pages"]
    if not pages:
        raise IngestError("PDF has no pages")
    if sum(len(p.strip()) for p in pages) < 5 * len(pages) and not any(len(p.strip()) > 40 for p in pages):
        if reply.get("images"):
            raise IngestError("scanned PDF: only images, no text layer (needs OCR)")
        raise IngestError("PDF has no text layer (scanned or drawn text; needs OCR)")
    return [_clean_pdf_page(p) for p in pages], [list(h) for h in reply["headings"]]


_SPACES = re.compile(r"[ \t\u00a0]{2,}")


def _clean_pdf_page(page: str) -> str:
    """NFC, unified line breaks, runs of spaces (justified text) collapsed, no trailing blanks."""
    page = unicodedata.normalize("NFC", page.replace("\r\n", "\n").replace("\r", "\n"))
    page = page.replace("\x00", "")
    return "\n".join(_SPACES.sub(" ", ln).rstrip() for ln in page.split("\n"))


def mark_headings(page: str, headings: list[str]) -> str:
    """Give lines set in a heading style a leading space and a blank line before them (the
    convention of the bundled text extractions, which :func:`kb.text.is_heading` reads)."""
    wanted = {" ".join(h.split()) for h in headings}
    if not wanted:
        return page
    lines = page.split("\n")
    out: list[str] = []
    for i, ln in enumerate(lines):
        s = " ".join(ln.split())
        nxt = next((x for x in lines[i + 1 :] if x.strip()), None)
        if s in wanted and is_heading(mark_heading(s), True, nxt if nxt is not None else "x"):
            if out and out[-1].strip():
                out.append("")
            out.append(mark_heading(s))
        else:
            out.append(ln)
    return "\n".join(out)


def strip_running_lines(pages: list[str]) -> list[str]:
    """Drop running headers/footers and bare page numbers ("12", "Sida 3 av 40").

    A running line is one of the first or last two lines of a page that recurs on at least
    half of the pages (3 pages or more), either identically or with only its page number
    changing (a number that grows with the page index). Body lines that merely look alike
    ("Mer text 1.", "Mer text 7.") are kept.
    """
    if not pages:
        return pages

    def edge_lines(page: str) -> list[str]:
        lines = [ln.strip() for ln in page.split("\n") if ln.strip()]
        return lines[:2] + lines[-2:]

    seen: dict[str, dict[int, str]] = {}  # masked line -> {page index: line}
    for i, page in enumerate(pages):
        for ln in set(edge_lines(page)):
            seen.setdefault(_DIGITS.sub("#", ln), {})[i] = ln
    threshold = max(2, (len(pages) + 1) // 2)
    running: set[str] = set()
    if len(pages) >= 3:
        for key, occ in seen.items():
            if len(occ) < threshold:
                continue
            if len(set(occ.values())) == 1 or _numbered_like_pages(occ):
                running.add(key)
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


def _numbered_like_pages(occ: dict[int, str]) -> bool:
    """True when some number in the line equals the page index plus a constant on (nearly)
    every page where the line occurs (page numbers, possibly offset by a cover page)."""
    nums = {i: [int(x) for x in _DIGITS.findall(ln)] for i, ln in occ.items()}
    width = min(len(v) for v in nums.values())
    for k in range(width):
        offsets = Counter(v[k] - i for i, v in nums.items())
        if offsets.most_common(1)[0][1] >= max(2, int(0.8 * len(occ))):
            return True
    return False


def join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """Join page texts; return the text and each page's start offset.

    Pages are separated by a blank line, except where the page break falls inside a table
    (number rows on both sides; a repeated column-heading row may open the next page) or inside
    a sentence (the next page goes on in lower case): there a single line break keeps the table
    or paragraph one block for the chunker.
    """
    starts, parts, pos = [], [], 0
    for i, p in enumerate(pages):
        if i:
            sep = "\n" if _continues(parts[-1], p) else "\n\n"
            parts.append(sep)
            pos += len(sep)
        starts.append(pos)
        parts.append(p)
        pos += len(p)
    return "".join(parts), tuple(starts)


def _continues(prev: str, nxt: str) -> bool:
    before = [ln for ln in prev.split("\n") if ln.strip()][-1:]
    after = [ln for ln in nxt.split("\n") if ln.strip()][:2]
    if not before or not after:
        return False
    last, first = before[0].strip(), after[0]
    if is_numeric_line(last) and any(is_numeric_line(x) for x in after) and not first.startswith(HEADING_MARK):
        return True
    return last[-1:] not in ".!?:" and first[:1].islower()


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


def infer_meta(path: Path, text: str) -> DocMeta:
    """Title, organisation, report type and reporting year from the file name, then the text.

    Year: a year in the file name wins; else the most frequent year in the first 3000
    characters of the text. Report type: file name first, then the first 3000 characters.
    Organisation: file name first (first pattern that matches), else the organisation the whole
    text names most often. Title: "<Type> <year> – <organisation>" when all three are known
    (file names are often ASCII-only), else the file name with separators as spaces.
    """
    stem = unicodedata.normalize("NFC", path.stem)
    name = stem.lower().replace("_", " ")
    head = text[:3000].lower()

    def first(table, hay):
        for pat, value in table:
            if re.search(pat, hay):
                return value
        return None

    years = years_in(name)
    if years:
        year = years[-1]
    else:
        counts = Counter(years_in(head))
        year = counts.most_common(1)[0][0] if counts else None
    org = first(ORGANISATIONS, name)
    if org is None:
        lower = text.lower()
        mentions = Counter({value: len(re.findall(pat, lower)) for pat, value in ORGANISATIONS})
        best, n = mentions.most_common(1)[0] if mentions else (None, 0)
        org = best if n else None
    doc_type = first(DOC_TYPES, name) or first(DOC_TYPES, head)
    if doc_type and org and year:
        title = f"{doc_type[:1].upper()}{doc_type[1:]} {year} – {org}"
    else:
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
        raw, headings = read_pdf_pages(path)
        pages = [mark_headings(p, h) for p, h in zip(strip_running_lines(raw), headings)]
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


def unexpected_reason(e: Exception) -> str:
    """The one-line failure reason for an error no reader foresaw (a bug or an odd input)."""
    return f"unexpected error while reading ({type(e).__name__}: {str(e)[:160]})"
