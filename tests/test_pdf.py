"""Real PDFs rendered from the corpus (tests/pdfgen.py): page citations, running headers and
footers, page numbers, multi-page tables, two columns, headings, and search on the result."""
from __future__ import annotations

import re

import pdfgen
import pytest
from conftest import CORPUS

from kb.ingest.chunk import chunk_document
from kb.ingest.read import read_document

SOURCE = CORPUS / "leanlink-verksamhetsberattelse-2019.txt"

VARIANTS = {
    "table": dict(table_after=12),
    "two-columns": dict(two_columns=True, footer_style="bare", table_after=30),
    "core-font": dict(force_core_font=True, table_after=3, footer_style="bare"),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, tuple[pdfgen.PdfTruth, object]]:
    folder = tmp_path_factory.mktemp("pdfs")
    out = {}
    for name, kw in VARIANTS.items():
        truth = pdfgen.corpus_pdf(SOURCE, folder / f"leanlink-verksamhetsberattelse-2019-{name}.pdf", **kw)
        out[name] = (truth, read_document(truth.path, f"doc-{name}"))
    return out


def _find(text: str, sentence: str) -> list[int]:
    pat = r"\s+".join(map(re.escape, sentence.split()))
    return [m.start() for m in re.finditer(pat, text)]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_known_sentences_cite_the_page_they_were_put_on(rendered, variant):
    truth, doc = rendered[variant]
    assert truth.pages >= 10 and len(doc.page_starts) == truth.pages
    assert len(truth.sentences) >= 80
    chunks = chunk_document(doc)
    wrong = []
    for sentence, page in truth.sentences:
        hits = _find(doc.text, sentence)
        assert hits, f"sentence lost: {sentence!r}"
        if page not in {doc.page_at(h) for h in hits}:
            wrong.append((sentence, page, [doc.page_at(h) for h in hits]))
            continue
        # the passage holding the sentence cites a page range that includes it
        h = next(h for h in hits if doc.page_at(h) == page)
        c = next(c for c in chunks if c.start <= h < c.end)
        assert c.page <= page <= c.page_end, (sentence, page, c.page, c.page_end)
    assert not wrong, wrong[:3]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_running_headers_footers_and_page_numbers_are_dropped(rendered, variant):
    truth, doc = rendered[variant]
    assert truth.header not in doc.text
    assert truth.footer not in doc.text
    assert not re.search(r"Sida \d+ av \d+", doc.text)
    # no page's text starts or ends with its page number (bare-number footers)
    for i, start in enumerate(doc.page_starts):
        end = doc.page_starts[i + 1] if i + 1 < len(doc.page_starts) else len(doc.text)
        lines = [ln.strip() for ln in doc.text[start:end].split("\n") if ln.strip()]
        assert lines[-1] != str(i + 1) and lines[0] != str(i + 1)
    for c in chunk_document(doc):
        assert truth.header not in c.text and truth.footer not in c.text


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_table_rows_are_readable_and_stay_with_their_heading(rendered, variant):
    truth, doc = rendered[variant]
    assert truth.table_rows and len({p for _, p in truth.table_rows}) >= 2, "the table must span pages"
    chunks = chunk_document(doc)
    for cells, page in truth.table_rows:
        line = " ".join(cells)
        pos = _find(doc.text, line)
        assert len(pos) == 1, f"row not one readable line: {line!r}"
        assert doc.page_at(pos[0]) == page
        (c,) = [c for c in chunks if c.start <= pos[0] < c.end]
        assert c.is_table
        assert c.section == truth.table_caption, (line, c.section)
        assert line in c.text  # never cut inside a row


def test_headings_become_sections(rendered):
    truth, doc = rendered["table"]
    sections = {c.section for c in chunk_document(doc)}
    for heading in ("Nämndens uppdrag", "Förvaltningschefens bedömning och analys"):
        assert heading in sections


def test_search_cites_the_right_page(rendered, tmp_path):
    from kb import open_index
    from kb.ingest.build import BuildConfig, build_index

    truth, _ = rendered["table"]
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / truth.path.name).write_bytes(truth.path.read_bytes())
    report = build_index([folder], tmp_path / "idx", BuildConfig(embedder="hash:64"))
    assert report.documents == 1 and not report.failed
    kb = open_index(tmp_path / "idx")
    checked = 0
    for sentence, page in truth.sentences[::15]:
        res = kb.search(sentence, k=3, mode="bm25")
        top = res.hits[0]
        assert " ".join(sentence.split()) in " ".join(top.text.split()), sentence
        assert top.page is not None and top.page <= page and f"s. {top.page}" in top.citation
        checked += 1
    assert checked >= 5
