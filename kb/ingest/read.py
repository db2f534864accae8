"""Read source files into :class:`~kb.records.Document` records.

Supported: ``.pdf`` (pypdf, text per page, page numbers kept, repeated running headers and
footers and bare page numbers removed), ``.txt`` and ``.md`` (UTF-8 with or without BOM, UTF-16
with BOM, cp1252/latin-1 detected and decoded; text normalised to NFC). Metadata (title,
organisation, report type, year) is inferred from the file name and the text, and a sidecar
``NAME.meta.json`` next to a file overrides any of it.

A file that cannot be read raises :class:`~kb.errors.IngestError` with a one-line reason;
:func:`kb.ingest.build.read_sources` records it as a :class:`~kb.records.Failure` and goes on.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
from collections import Counter
from dataclasses import replace
from pathlib import Path

from .. import files
from ..errors import IngestError
from ..records import DocMeta, Document, Failure
from ..sanitize import has_control, one_line
from ..text import HEADING_MARK, is_heading, is_numeric_line, mark_heading, years_in

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (".pdf", *TEXT_SUFFIXES)
SIDECAR_SUFFIX = ".meta.json"
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_SIDECAR_BYTES = 64 * 1024

# -- discovery ---------------------------------------------------------------------------


SYSTEM_DIRS = ("/dev", "/proc", "/sys")  # never read, even through a symlink the user allows
OUTSIDE = "symlink to outside the given folders; use --follow-symlinks to index it"


def discover(paths: list[Path], follow_symlinks: bool = False) -> list[Path]:
    """Supported files under the given files and folders (see :func:`discover_files`); a path
    that was skipped raises IngestError."""
    files, skipped = discover_files(paths, follow_symlinks)
    if skipped:
        raise IngestError(f"{skipped[0].path}: {skipped[0].reason}")
    return files


def discover_files(paths: list[Path], follow_symlinks: bool = False) -> tuple[list[Path], list[Failure]]:
    """Supported files under the given files and folders, recursively, sorted, hidden skipped;
    and the entries skipped, each with a one-line reason.

    Only regular files are returned: named pipes, devices and sockets are skipped (reading
    them would hang or never end), and so is anything under /dev, /proc or /sys. A symlink
    (to a file or a folder) found in a folder is followed only when its target lies inside one
    of the given folders, or with ``follow_symlinks``; a file named on the command line is
    taken as asked for. A path that does not exist raises IngestError before anything else.
    """
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise IngestError(f"{missing[0]}: no such file or folder")
    roots = [os.path.realpath(p) for p in paths if os.path.isdir(p)]
    found: set[Path] = set()
    skipped: list[Failure] = []
    seen_dirs: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            _walk(p, roots, follow_symlinks, found, skipped, seen_dirs)
        else:
            problem = entry_problem(p, roots, follow=True)
            if problem:
                skipped.append(Failure(str(p), problem))
            else:
                found.add(p)
    return sorted(found, key=str), sorted(skipped, key=lambda f: f.path)


def _walk(top: Path, roots: list[str], follow: bool, found: set[Path], skipped: list[Failure],
          seen_dirs: set[str]) -> None:
    for root, dirs, files in os.walk(top, followlinks=follow):
        real = os.path.realpath(root)
        if real in seen_dirs:  # a symlink loop, or a folder reached twice
            dirs[:] = []
            continue
        seen_dirs.add(real)
        keep = []
        for d in sorted(x for x in dirs if not x.startswith(".")):
            dp = Path(root) / d
            if dp.is_symlink():
                problem = entry_problem(dp, roots, follow)
                if problem:
                    skipped.append(Failure(str(dp), problem))
                    continue
            keep.append(d)
        dirs[:] = keep
        for f in files:
            fp = Path(root) / f
            if f.startswith(".") or not _supported(fp):
                continue
            problem = entry_problem(fp, roots, follow)
            if problem:
                skipped.append(Failure(str(fp), problem))
            else:
                found.add(fp)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def entry_problem(p: Path, roots: list[str], follow: bool) -> str | None:
    """Why a found file or folder is not read (None: read it). See :func:`discover_files`."""
    try:
        st = os.stat(p)
    except OSError as e:
        return "broken symlink (its target does not exist)" if p.is_symlink() else f"cannot read: {e.strerror or e}"
    target = os.path.realpath(p)
    if any(_inside(target, d) for d in SYSTEM_DIRS):
        return f"{'symlink to ' if p.is_symlink() else ''}a system file ({target}); never read"
    if p.is_symlink() and not follow and not any(_inside(target, r) for r in roots):
        return OUTSIDE
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({files.file_kind(st.st_mode)})"
    return None


def _supported(p: Path) -> bool:
    name = p.name.lower()
    return name.endswith(SUFFIXES) and not name.endswith(SIDECAR_SUFFIX)


def regular_size(path: Path) -> int:
    """Size in bytes of a regular file (symlinks followed); named pipes, devices, sockets and
    folders are refused with their kind named, before anything is opened."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"not a regular file ({files.file_kind(st.st_mode)})")
    return st.st_size


def too_large(size: int, limit: int = MAX_FILE_BYTES) -> IngestError:
    return IngestError(f"file too large ({size // 2**20} MiB > {limit // 2**20} MiB)")


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked before reading and while
    reading, in case the file grows); anything else is an IngestError with a one-line reason."""
    size = regular_size(path)
    if size > limit:
        raise too_large(size, limit)
    try:
        with files.open_regular(path) as f:
            data = f.read(limit + 1)
    except files.NotRegularFileError as e:
        raise IngestError(e.strerror) from None
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror or e}") from None
    if len(data) > limit:
        raise too_large(len(data), limit)
    return data


def has_sidecar(path: Path) -> bool:
    sc = sidecar_path(path)
    return sc.is_symlink() or sc.exists()


def read_sidecar_bytes(path: Path) -> bytes | None:
    """The raw sidecar of ``path`` (None when there is none); a sidecar that is not a small
    regular file, or a symlink to a file outside the report's own folder, is an IngestError
    naming the sidecar."""
    if not has_sidecar(path):
        return None
    sc = sidecar_path(path)
    if sc.is_symlink() and not _inside(os.path.realpath(sc), os.path.realpath(path.parent)):
        raise IngestError(f"sidecar {sc.name}: symlink to outside the report's folder; copy the file instead")
    try:
        return read_regular(sc, MAX_SIDECAR_BYTES)
    except IngestError as e:
        raise IngestError(f"sidecar {sc.name}: {e}") from None


def file_sha256(path: Path) -> str:
    """Content hash of a document and its sidecar. Only regular files within
    :data:`MAX_FILE_BYTES` are read; anything else raises IngestError before a byte is read."""
    size = regular_size(path)
    if size > MAX_FILE_BYTES:
        raise too_large(size)
    sidecar = read_sidecar_bytes(path)
    tail = b"" if sidecar is None else b"\0sidecar\0" + sidecar
    try:
        return files.sha256_file(path, tail)
    except files.NotRegularFileError as e:
        raise IngestError(e.strerror) from None


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
        title = one_line(re.sub(r"[-_]+", " ", stem))[:MAX_FIELD_CHARS]
        title = title[:1].upper() + title[1:] if title else one_line(path.name) or "?"
    return DocMeta(title=title, organisation=org, doc_type=doc_type, year=year)


SIDECAR_KEYS = ("title", "organisation", "doc_type", "year")
MAX_FIELD_CHARS = 300
YEAR_RANGE = (1900, 2100)

def check_sidecar(data: object) -> dict[str, object]:
    """The validated overrides of a parsed sidecar, or an IngestError naming the first problem.

    Keys: ``title`` (text), ``organisation`` and ``doc_type`` (text or null), ``year`` (a whole
    number in :data:`YEAR_RANGE`, or null). Text is one line (no control characters or line
    breaks), 1 to :data:`MAX_FIELD_CHARS` characters after trimming, normalised to NFC. Any
    other key is refused (a typo would otherwise be ignored silently).
    """
    if not isinstance(data, dict):
        raise IngestError("must hold a JSON object such as {\"year\": 2023}")
    unknown = sorted(str(k) for k in data if k not in SIDECAR_KEYS)
    if unknown:
        raise IngestError(f"unknown key {unknown[0][:40]!r}; allowed: {', '.join(SIDECAR_KEYS)}")
    out: dict[str, object] = {}
    for key, value in data.items():
        if key == "year":
            out[key] = _check_year(value)
        elif value is None and key != "title":
            out[key] = None
        else:
            out[key] = _check_text(key, value)
    return out


def _check_year(value: object) -> int | None:
    lo, hi = YEAR_RANGE
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise IngestError(f"year must be a whole number such as 2023 or null, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise IngestError(f"year {str(value)[:12]} is outside {lo}–{hi}")
    return value


def _check_text(key: str, value: object) -> str:
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise IngestError(f"{key} must be text, not {kind}")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise IngestError(f"{key} is empty")
    if has_control(text):
        raise IngestError(f"{key} must be one line without control characters")
    if len(text) > MAX_FIELD_CHARS:
        raise IngestError(f"{key} is longer than {MAX_FIELD_CHARS} characters")
    return text


def apply_sidecar(meta: DocMeta, path: Path) -> DocMeta:
    """Override metadata from ``NAME.meta.json`` (validated by :func:`check_sidecar`)."""
    raw = read_sidecar_bytes(path)
    if raw is None:
        return meta
    name = sidecar_path(path).name
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError) as e:
        raise IngestError(f"sidecar {name} is not valid JSON: {str(e)[:120]}") from None
    try:
        return replace(meta, **check_sidecar(data))
    except IngestError as e:
        raise IngestError(f"sidecar {name}: {e}") from None


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
    size = regular_size(path)
    if size == 0:
        raise IngestError("empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise too_large(size)
    sha = sha256 or file_sha256(path)
    page_starts: tuple[int, ...] = ()
    if path.suffix.lower() == ".pdf":
        raw, headings = read_pdf_pages(path)
        pages = [mark_headings(p, h) for p, h in zip(strip_running_lines(raw), headings)]
        text, page_starts = join_pages(pages)
    else:
        data = read_regular(path, MAX_FILE_BYTES)
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
