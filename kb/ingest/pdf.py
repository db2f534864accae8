"""PDF text: pages parsed in the limited worker process (:mod:`kb.ingest.pdfworker`), running
headers, footers and bare page numbers dropped (:func:`strip_running_lines`), heading-style lines
marked for the chunker (:func:`mark_headings`) and pages joined with their start offsets
(:func:`join_pages`)."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

from .. import files
from ..errors import IngestError
from ..text import HEADING_MARK, is_heading, is_numeric_line, mark_heading
from .discover import regular_size


def pdf_head(path: Path) -> bytes:
    """The first KiB of a file (a regular file only)."""
    regular_size(path)
    try:
        with files.open_regular(path) as f:
            return f.read(1024)
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror or e}") from None


_PAGE_NUMBER = re.compile(r"^\s*(?:sida\s+)?\d{1,4}(?:\s*(?:/|av)\s*\d{1,4})?\s*$", re.I)
_DIGITS = re.compile(r"\d+")


def read_pdf_pages(path: Path, worker=None) -> tuple[list[str], list[list[str]]]:
    """Text of each page of a PDF and the heading-style lines of each page, parsed in the
    limited worker process (:mod:`kb.ingest.pdfworker`).

    Raises IngestError with a one-line reason for encrypted, broken, truncated, image-only
    (scanned), hanging or memory-exploding files. An encrypted PDF with an empty user password
    is read. Lines set in a heading style (bold or larger type) are marked the way the chunker
    expects headings: a leading space after a blank line.
    """
    from .pdfworker import WorkerError, extract_pdf

    head = pdf_head(path)
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
    return [clean_pdf_page(p) for p in pages], [list(h) for h in reply["headings"]]


_SPACES = re.compile(r"[ \t\u00a0]{2,}")


def clean_pdf_page(page: str) -> str:
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
    starts: list[int] = []
    parts: list[str] = []
    pos = 0
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
