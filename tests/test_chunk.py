"""Chunking: exact slices, bounded passages, headings as sections, tables with their heading,
line/page ranges and stable ids."""
from __future__ import annotations

import pytest
from conftest import CORPUS, SMALL_DOCS

from kb.ingest.chunk import SECTION_SEP, ChunkConfig, blocks, chunk_document
from kb.ingest.read import read_document
from kb.records import DocMeta, Document
from kb.text import is_heading

LONG_PARA = "Verksamheten redovisar ett underskott som beror på personlig assistans. Kostnaderna har ökat under året. "
TEXT = (
    " Inledning\n"
    + "Nämnden ansvarar för stöd enligt LSS och SoL till personer med funktionsnedsättning. " * 3
    + "\n\n"
    " Ekonomi\n"
    + LONG_PARA * 30
    + "\n\n"
    " Resultat per verksamhet\n"
    "Verksamhet 2022 2023 Avvikelse\n"
    "LSS -30,1 -46,0 -15,9\n"
    "Hemtjänst 12,0 10,5 -1,5\n"
    "Äldreomsorg 5,2 6,1 0,9\n"
    "Individ- och familjeomsorg 3,3 2,8 -0,5\n"
    "Summa -9,6 -26,6 -17,0\n\n"
    " Personal\n"
    + "Sjukfrånvaron var 8,1 procent. Personalomsättningen har minskat inom hemtjänst-\nverksamheten. " * 4
    + "\n"
)


def doc_of(text: str, doc_id: str = "d", page_starts: tuple[int, ...] = ()) -> Document:
    return Document(doc_id, f"{doc_id}.txt", "0" * 64, DocMeta(title=doc_id), text, page_starts)


def corpus_docs() -> list[Document]:
    docs = [doc_of(TEXT, "synthetic")]
    docs += [doc_of(t, name.removesuffix(".txt")) for name, t in SMALL_DOCS.items()]
    docs += [read_document(p, p.stem) for p in sorted(CORPUS.glob("*.txt"))]
    assert len(docs) >= 6
    return docs


DOCS = corpus_docs()
CONFIGS = [ChunkConfig(), ChunkConfig(target_chars=300, max_chars=450, min_chars=80)]


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "small"])
def test_exact_slices_bounded_ordered(config):
    for doc in DOCS:
        chunks = chunk_document(doc, config)
        assert chunks, doc.doc_id
        prev_end = 0
        for i, c in enumerate(chunks):
            assert doc.text[c.start : c.end] == c.text
            assert c.text == c.text.strip() and c.text
            assert len(c.text) <= config.max_chars, (doc.doc_id, i, len(c.text))
            assert c.start >= prev_end  # in order, no overlap
            prev_end = c.end
            assert c.ordinal == i and c.chunk_id == f"{doc.doc_id}:{i}" and c.doc_id == doc.doc_id


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "small"])
def test_no_text_lost_and_no_word_cut(config):
    for doc in DOCS:
        chunks = chunk_document(doc, config)
        covered = "".join(doc.text[c.start : c.end] for c in chunks)
        # every non-space character of the document is in exactly one passage
        assert "".join(covered.split()) == "".join(doc.text.split()), doc.doc_id
        for c in chunks:
            before = doc.text[c.start - 1] if c.start else " "
            after = doc.text[c.end] if c.end < len(doc.text) else " "
            # passages start and end on word boundaries
            assert not (before.isalnum() and c.text[0].isalnum()), (doc.doc_id, c.chunk_id)
            assert not (after.isalnum() and c.text[-1].isalnum()), (doc.doc_id, c.chunk_id)


def test_long_section_split_at_sentences_with_its_section():
    doc = doc_of(TEXT)
    chunks = chunk_document(doc)
    eko = [c for c in chunks if "underskott som beror" in c.text]
    assert len(eko) >= 3  # 30 sentences pairs of ~100 chars: several passages
    for c in eko:
        assert c.section == "Ekonomi"
        assert len(c.text) <= 1400
        assert c.text.endswith("året.") or c.text.endswith("assistans.")  # cut at a sentence end


def test_headings_detected():
    assert is_heading(" Ekonomi", True, "Kommunstyrelsen redovisar ett överskott.")
    assert is_heading(" Nämndens uppdrag", True, "Text")
    assert is_heading("Ekonomisk analys", True, "Kommunstyrelsen redovisar 2023 ett överskott med 92,5 mnkr.")
    assert is_heading("2.1 Ekonomi", True, "Kommunstyrelsen redovisar ett överskott.")
    # sentences, fragments, numbers and bullets are not headings
    assert not is_heading("Kommunstyrelsen redovisar ett överskott.", True, "Mer text")
    assert not is_heading("personalomsättningen har minskat", True, "Mer text")
    assert not is_heading(" Sjukfrånvaron hemtjänst-", True, "verksamheten")
    assert not is_heading("LSS -30,1 -46,0 -15,9", True, "Hemtjänst 12,0 10,5 -1,5")
    assert not is_heading("• Ökad vårdtyngd", True, "Text")
    assert not is_heading("Kultur och", True, "fritid")
    kinds = [(TEXT[b.start : b.end].split("\n")[0], b.kind) for b in blocks(TEXT)]
    assert [k for k in kinds if k[1] == "heading"] == [
        ("Inledning", "heading"), ("Ekonomi", "heading"), ("Resultat per verksamhet", "heading"), ("Personal", "heading"),
    ]
    assert ("Verksamhet 2022 2023 Avvikelse", "table") in kinds


def test_sections_carried():
    chunks = chunk_document(doc_of(TEXT))
    by_text = lambda s: next(c for c in chunks if s in c.text)  # noqa: E731
    # a passage spanning short sections names each of them, in order (joined by SECTION_SEP)
    assert by_text("Sjukfrånvaron").section.split(SECTION_SEP)[-1] == "Personal"
    assert by_text("underskott som beror").section.split(SECTION_SEP)[0] == "Ekonomi"
    for c in chunks:
        names = [] if c.section is None else c.section.split(SECTION_SEP)
        assert set(names) <= {"Inledning", "Ekonomi", "Resultat per verksamhet", "Personal"}
        # every heading named after the first one lies inside the passage
        for n in names[1:]:
            assert n in c.text


def test_small_fixture_sections():
    doc = doc_of(SMALL_DOCS["kommunstyrelsen-verksamhetsberattelse-2023.txt"], "ks")
    chunks = chunk_document(doc, ChunkConfig(target_chars=120, max_chars=200, min_chars=40))
    sec = {c.section for c in chunks}
    assert {"Nämndens uppdrag", "Ekonomi", "Hemtjänst"} <= sec
    assert next(c for c in chunks if "92,5 mnkr" in c.text).section == "Ekonomi"
    assert next(c for c in chunks if "fler brukare" in c.text).section == "Hemtjänst"


def test_table_kept_with_its_heading():
    for config in CONFIGS:
        chunks = chunk_document(doc_of(TEXT), config)
        tab = [c for c in chunks if "LSS -30,1 -46,0 -15,9" in c.text]
        assert len(tab) == 1
        c = tab[0]
        assert c.is_table
        assert "Resultat per verksamhet\nVerksamhet 2022 2023 Avvikelse\nLSS -30,1" in c.text
        assert "Summa -9,6 -26,6 -17,0" in c.text  # the whole small table in one passage
        assert not any(x.is_table for x in chunks if x is not c and "underskott som beror" in x.text)


def test_large_table_split_at_line_boundaries_heading_first():
    rows = "".join(f"Enhet {i} {i}0,5 {i}1,25 {i}2,0\n" for i in range(80))
    text = " Tabell över enheter\n" + rows
    doc = doc_of(text)
    chunks = chunk_document(doc, ChunkConfig(target_chars=300, max_chars=450, min_chars=80))
    assert len(chunks) > 3 and all(c.is_table for c in chunks)
    assert chunks[0].text.startswith("Tabell över enheter\nEnhet 0 ")
    for c in chunks:
        assert all(line.startswith(("Enhet", "Tabell")) for line in c.text.split("\n"))
        assert len(c.text) <= 450


def test_line_ranges():
    for doc in DOCS:
        lines = doc.text.split("\n")
        for c in chunk_document(doc):
            assert c.page is None and c.page_end is None
            assert c.line_start == doc.text.count("\n", 0, c.start) + 1
            assert c.line_end == doc.text.count("\n", 0, c.end - 1) + 1
            assert c.line_start <= c.line_end
            # the first and last line of the passage are (parts of) the lines it names
            assert c.text.split("\n")[0] in lines[c.line_start - 1]
            assert c.text.split("\n")[-1] in lines[c.line_end - 1]
            assert c.line_end - c.line_start == c.text.count("\n")
    small = chunk_document(doc_of(SMALL_DOCS["leanlink-verksamhetsberattelse-2019.txt"]))
    assert small[0].line_start == 1 and small[-1].line_end == 7


def test_pages_for_pdf_documents():
    pages = ["Sida ett med text om ekonomi. " * 20, "Sida två om personal. " * 20, "Sida tre. " * 5]
    text = "\n\n".join(pages)
    starts = (0, len(pages[0]) + 2, len(pages[0]) + len(pages[1]) + 4)
    doc = doc_of(text, page_starts=starts)
    chunks = chunk_document(doc, ChunkConfig(target_chars=300, max_chars=450, min_chars=80))
    for c in chunks:
        assert c.line_start is None and c.line_end is None
        assert c.page == doc.page_at(c.start) and c.page_end == doc.page_at(c.end - 1)
    assert chunks[0].page == 1 and chunks[-1].page_end == 3
    assert {c.page for c in chunks} == {1, 2, 3}


def test_stable_ids_across_runs():
    for doc in DOCS:
        a = chunk_document(doc)
        b = chunk_document(doc_of(doc.text, doc.doc_id))
        assert [x.to_json() for x in a] == [y.to_json() for y in b]
        assert len({c.chunk_id for c in a}) == len(a)


def test_empty_and_blank_documents():
    assert chunk_document(doc_of("")) == []
    assert chunk_document(doc_of("\n\n   \n")) == []
    one = chunk_document(doc_of("  Bara en rad.  \n"))
    assert len(one) == 1 and one[0].text == "Bara en rad." and one[0].start == 2



def test_no_passage_ends_with_an_orphan_heading():
    text = " Inledning\n" + "Nämnden ansvarar för stöd enligt LSS och SoL. " * 3 + "\n\n Ekonomi\n" + LONG_PARA * 12 + "\n"
    chunks = chunk_document(doc_of(text))
    heads = [b for b in blocks(text) if b.kind == "heading"]
    for c in chunks:
        for h in heads:
            # a heading inside a passage is followed by some of its body in that passage
            if c.start <= h.start and h.end <= c.end:
                assert c.end > h.end, (c.chunk_id, text[h.start : h.end])
    assert next(c for c in chunks if "Nämnden ansvarar" in c.text).section == "Inledning"
