"""Test-document generator: real PDFs (fpdf2) from the corpus texts, with ground truth.

:func:`render_pdf` lays out headings and paragraphs with a running header, a running footer
with page numbers ("Sida 3 av 12" or a bare "3"), optionally two text columns and a multi-page
table with a caption and a repeated column-heading row, and returns a :class:`PdfTruth`: the
page every paragraph-internal sentence was put on, the table rows with their pages, and the
header/footer strings, so tests can check what ingestion made of the file.

Fonts: a Unicode TrueType font (DejaVu Sans, Debian/Ubuntu package ``fonts-dejavu-core``)
when one is installed; otherwise fpdf2's core Helvetica with the text reduced to latin-1
(å, ä, ö, é survive; dashes, bullets and quotes are replaced), so the tests run anywhere.

Also builds bad inputs: encrypted (empty or real password), truncated, corrupt, image-only
("scanned"), and PDFs that are slow or huge to parse.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ])")
_LATIN1 = str.maketrans({"–": "-", "—": "-", "•": "*", "●": "*", "”": '"', "“": '"', "’": "'", "‘": "'",
                         "…": "...", "\u2212": "-", "\u00ad": "", "\u200b": ""})


def find_font() -> tuple[Path, Path] | None:
    for d in FONT_DIRS:
        reg, bold = Path(d) / "DejaVuSans.ttf", Path(d) / "DejaVuSans-Bold.ttf"
        if reg.exists() and bold.exists():
            return reg, bold
    return None


@dataclass
class PdfTruth:
    path: Path
    pages: int
    header: str
    footer: str  # the footer's fixed text (besides the page number)
    sentences: list[tuple[str, int]] = field(default_factory=list)  # (sentence, page it is on)
    table_caption: str | None = None
    table_rows: list[tuple[tuple[str, ...], int]] = field(default_factory=list)  # (cells, page)
    unicode_font: bool = True


def parse_corpus_text(text: str) -> list[tuple[str, str]]:
    """Blocks of a corpus text file: ("heading", line) and ("para", joined paragraph) and
    ("line", bullet or number line kept as its own line)."""
    out: list[tuple[str, str]] = []
    for raw in re.split(r"\n\s*\n", text):
        lines = [ln for ln in raw.split("\n") if ln.strip()]
        para: list[str] = []

        def flush(para: list[str] = para) -> None:
            if para:
                joined = ""
                for ln in para:
                    ln = ln.strip()
                    if joined.endswith("-") and ln[:1].islower():
                        joined = joined[:-1] + ln
                    else:
                        joined = f"{joined} {ln}" if joined else ln
                out.append(("para", joined))
                para.clear()

        for ln in lines:
            s = ln.strip()
            if ln.startswith(" ") and len(s) <= 80 and not s.endswith("."):
                flush()
                out.append(("heading", s))
            elif s.startswith(("•", "●", "-", "–")) or sum(c.isdigit() for c in s) * 3 > len(s):
                flush()
                out.append(("line", s))
            else:
                para.append(ln)
        flush()
    return out


class _Doc(FPDF):
    def __init__(self, header_text: str, footer_text: str, footer_style: str, font: str):
        super().__init__(format="A4")
        self.header_text, self.footer_text, self.footer_style, self.fam = header_text, footer_text, footer_style, font
        self.set_auto_page_break(True, margin=22)

    def header(self):
        self.set_font(self.fam, "", 8)
        self.cell(0, 6, self.header_text, align="C", new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def footer(self):
        self.set_y(-16)
        self.set_font(self.fam, "", 8)
        self.cell(0, 4, self.footer_text, align="L", new_x="LMARGIN", new_y="NEXT")
        num = f"Sida {self.page_no()} av {{nb}}" if self.footer_style == "sida" else str(self.page_no())
        self.cell(0, 4, num, align="C")


def render_pdf(
    blocks: list[tuple[str, str]],
    out: Path,
    *,
    header: str = "Linköpings kommun – Verksamhetsberättelse 2019",
    footer: str = "linkoping.se | Leanlink",
    footer_style: str = "sida",
    two_columns: bool = False,
    table_after: int | None = None,
    table_rows: int = 70,
    force_core_font: bool = False,
) -> PdfTruth:
    """Render blocks (see :func:`parse_corpus_text`) to ``out``; returns the ground truth.

    ``table_after``: insert a multi-page table after that many blocks. ``two_columns``: set
    the body in two columns (headings and tables full width).
    """
    font = None if force_core_font else find_font()
    fam = "DejaVu" if font else "Helvetica"

    def fix(s: str) -> str:
        s = re.sub("[\ue000-\uf8ff]", "•", s)  # private-use bullet glyphs of the source extraction
        if font:
            return s
        return s.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    pdf = _Doc(fix(header), fix(footer), footer_style, fam)
    if font:
        pdf.add_font("DejaVu", "", str(font[0]))
        pdf.add_font("DejaVu", "B", str(font[1]))
    pdf.add_page()
    truth = PdfTruth(path=out, pages=0, header=fix(header), footer=fix(footer), unicode_font=bool(font))

    def paragraph(text: str, writer):
        before = pdf.page_no()
        writer(text)
        after = pdf.page_no()
        if before == after:
            for s in _SENT.split(text):
                s = s.strip()
                if 40 <= len(s) <= 220 and s.endswith("."):
                    truth.sentences.append((s, before))

    def table():
        caption = "Tabell 1. Nyckeltal per verksamhet"
        truth.table_caption = caption
        pdf.set_font(fam, "B", 11)
        pdf.multi_cell(0, 6, caption, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(fam, "", 9)
        names = ["Hemtjänst", "Särskilt boende", "Personlig assistans", "Daglig verksamhet", "Måltidsservice",
                 "Lokalvård", "Fritidsgårdar", "Arbetsmarknad"]
        rows = [("Verksamhet", "Budget", "Utfall", "Avvikelse")]
        for i in range(table_rows):
            b, u = 1000 + 37 * i, 980 + 41 * i
            rows.append((f"{names[i % len(names)]} område {i + 1}", f"{b} tkr", f"{u} tkr", f"{u - b} tkr"))
        with pdf.table(col_widths=(70, 35, 35, 35), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
                       repeat_headings=1, first_row_as_headings=True) as t:
            for r in rows:
                row = t.row()
                before = pdf.page_no()
                for c in r:
                    row.cell(fix(c))
                if r is not rows[0]:
                    truth.table_rows.append((tuple(fix(c) for c in r), before))
        # rows were laid out when the table closed: recompute their pages from the output later
        pdf.ln(4)

    def record(text: str, page: int):
        for s in _SENT.split(text):
            s = s.strip()
            if 40 <= len(s) <= 220 and s.endswith("."):
                truth.sentences.append((s, page))

    def columns(texts: list[str]):
        """One section's body in two columns; its sentences count only if it fit one page."""
        if not texts:
            return
        pdf.set_font(fam, "", 10)
        before = pdf.page_no()
        with pdf.text_columns(ncols=2, gutter=8, text_align="LEFT", balance=True) as cols:
            for t in texts:
                cols.write(t + "\n")
                cols.ln()
        if pdf.page_no() == before:
            for t in texts:
                record(t, before)

    pending: list[str] = []
    for i, (kind, text) in enumerate(blocks):
        if table_after is not None and i == table_after:
            columns(pending)
            pending = []
            table()
        text = fix(text)
        if two_columns and kind != "heading":
            pending.append(text)
            continue
        if kind == "heading":
            columns(pending)
            pending = []
            if two_columns and pdf.get_y() > pdf.h * 0.45:
                pdf.add_page()  # a new section on a new page, so that most sections fit one page
            pdf.ln(2)
            pdf.set_font(fam, "B", 12)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        else:
            pdf.set_font(fam, "", 10)
            paragraph(text, lambda t: pdf.multi_cell(0, 5, t, new_x="LMARGIN", new_y="NEXT"))
            pdf.ln(2)
    columns(pending)
    if table_after is not None and table_after >= len(blocks):
        table()
    pdf.output(str(out))
    truth.pages = pdf.page_no()
    if truth.table_rows:
        truth.table_rows = _locate_rows(out, truth.table_rows)
    return truth


def _locate_rows(path: Path, rows):
    """Pages of the table rows, read back from the PDF's own content (fpdf2 lays out a table
    when it is closed, so the page during ``row()`` is not the final one)."""
    from pypdf import PdfReader

    texts = [p.extract_text() or "" for p in PdfReader(str(path)).pages]
    out = []
    for cells, _ in rows:
        pages = [i + 1 for i, t in enumerate(texts) if _row_on(cells, t)]
        out.append((cells, pages[0] if pages else 0))
    return out


def _row_on(cells, page_text: str) -> bool:
    return any(ln.startswith(cells[0] + " ") and ln.rstrip().endswith(cells[-1]) for ln in page_text.split("\n"))


def corpus_pdf(txt: Path, out: Path, max_blocks: int | None = None, **kw) -> PdfTruth:
    blocks = parse_corpus_text(txt.read_text(encoding="utf-8"))
    if max_blocks is not None:
        blocks = blocks[:max_blocks]
    return render_pdf(blocks, out, **kw)


# -- bad inputs --------------------------------------------------------------------------------


def simple_pdf(out: Path, text: str = "Kommunstyrelsen redovisar ett överskott för året.", pages: int = 2) -> Path:
    pdf = FPDF()
    font = find_font()
    fam = "DejaVu" if font else "Helvetica"
    if font:
        pdf.add_font("DejaVu", "", str(font[0]))
    for i in range(pages):
        pdf.add_page()
        pdf.set_font(fam, "", 11)
        pdf.multi_cell(0, 6, f"{text} Sidan {i + 1} handlar om budget och uppföljning i Linköping.")
    pdf.output(str(out))
    return out


def encrypted_pdf(out: Path, user_password: str = "", owner_password: str = "ägare") -> Path:
    """RC4-encrypted (readable without optional crypto libraries). With ``user_password=""``
    anyone may open it: ingestion must read it."""
    from pypdf import PdfReader, PdfWriter

    src = out.with_suffix(".plain.tmp")
    simple_pdf(src, "Detta dokument är krypterat men kan läsas med tomt lösenord.")
    w = PdfWriter(clone_from=PdfReader(str(src)))
    w.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    with open(out, "wb") as f:
        w.write(f)
    src.unlink()
    return out


def truncated_pdf(out: Path, keep: float = 0.5) -> Path:
    src = out.with_suffix(".full.tmp")
    simple_pdf(src, pages=3)
    data = src.read_bytes()
    src.unlink()
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def corrupt_pdf(out: Path) -> Path:
    """A PDF header followed by garbage."""
    import random

    rnd = random.Random(5)
    out.write_bytes(b"%PDF-1.7\n" + bytes(rnd.randrange(256) for _ in range(4000)))
    return out


def scanned_pdf(out: Path) -> Path:
    """Pages holding only an image of text (no text layer), as a scanner produces."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (800, 1000), 255)
    d = ImageDraw.Draw(img)
    for y in range(50, 950, 30):
        d.text((40, y), "Verksamhetsberattelse skannad sida med text som bild", fill=0)
    png = out.with_suffix(".png.tmp")
    img.save(png, format="PNG")
    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.image(str(png), x=10, y=10, w=190)
    pdf.output(str(out))
    png.unlink()
    return out


def _raw_pdf(content: bytes, compress: bool = True) -> bytes:
    """A minimal one-page PDF around a content stream (built by hand, valid xref)."""
    stream = zlib.compress(content, 9) if compress else content
    filt = b"/Filter /FlateDecode " if compress else b""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< " + filt + b"/Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def slow_pdf(out: Path, ops: int = 400_000) -> Path:
    """A valid one-page PDF whose content stream holds hundreds of thousands of text
    operators: small on disk, seconds of parsing (stands in for a parser that hangs)."""
    body = b"BT /F1 1 Tf " + b"1 0 0 1 10 10 Tm (x) Tj " * ops + b"ET"
    out.write_bytes(_raw_pdf(body))
    return out


def bomb_pdf(out: Path, mb: int = 70) -> Path:
    """A compression bomb: ~70 KB on disk, a content stream of ``mb`` MB once inflated."""
    body = b"BT /F1 12 Tf 72 720 Td (Bomb) Tj ET\n" + b" " * (mb * 1024 * 1024)
    out.write_bytes(_raw_pdf(body))
    return out
