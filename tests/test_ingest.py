"""Unit tests of kb.ingest.read: discovery, decoding, metadata, ids, PDF page cleanup."""
from __future__ import annotations

import json
import unicodedata

import pdfgen
import pytest

from kb.errors import IngestError
from kb.ingest.decode import decode_text
from kb.ingest.discover import discover
from kb.ingest.meta import infer_meta
from kb.ingest.pdf import join_pages, mark_headings, strip_running_lines
from kb.ingest.read import make_doc_id, read_document
from kb.records import Document, Failure


def test_discover_skips_hidden_sidecars_and_unsupported(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.PDF").write_bytes(b"%PDF-")
    (tmp_path / "c.md").write_text("x")
    (tmp_path / "a.txt.meta.json").write_text("{}")
    (tmp_path / ".dold.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("x")
    (tmp_path / "bild.png").write_bytes(b"x")
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / "d e.txt").write_text("x")
    names = [p.name for p in discover([tmp_path])]
    assert names == ["a.txt", "b.PDF", "c.md", "d e.txt"]
    with pytest.raises(IngestError, match="no such file"):
        discover([tmp_path / "saknas"])


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"), (b"  \n\t ", "empty"), (b"abc\x00\x01\x02def" * 10, "binary"),
    (bytes(range(1, 32)) * 50, "binary"),
])
def test_decode_refuses(data, reason):
    with pytest.raises(IngestError, match=reason):
        decode_text(data)


def test_decode_normalises_line_breaks_and_nfc():
    nfd = unicodedata.normalize("NFD", "Åtgärder för äldre\r\nrad två\rrad tre")
    assert decode_text(nfd.encode()) == "Åtgärder för äldre\nrad två\nrad tre"


def test_doc_ids_are_ascii_slugs_for_any_name(tmp_path):
    nfd = unicodedata.normalize("NFD", "Äldrenämnden årsrapport 2023 (kopia) #2.txt")
    nfc = unicodedata.normalize("NFC", nfd)
    assert make_doc_id(tmp_path / nfd, tmp_path) == make_doc_id(tmp_path / nfc, tmp_path) == \
        "aldrenamnden-arsrapport-2023-kopia-2"
    assert make_doc_id(tmp_path / "sub" / "x.txt", tmp_path) == "sub-x"
    assert len(make_doc_id(tmp_path / "ÅÄÖ€.txt", tmp_path)) > 0


def test_meta_from_nfd_file_name(tmp_path):
    p = tmp_path / unicodedata.normalize("NFD", "äldrenämnden-delårsrapport-2021.txt")
    m = infer_meta(p, "text")
    assert m.organisation == "Äldrenämnden" and m.year == 2021 and m.doc_type == "delårsrapport"
    assert unicodedata.is_normalized("NFC", m.title)


def test_sidecar_overrides_and_bad_sidecar_is_a_failure(tmp_path):
    p = tmp_path / "rapport.txt"
    p.write_text("Underskott inom LSS.\n", encoding="utf-8")
    (tmp_path / "rapport.txt.meta.json").write_text(json.dumps({"year": 2020, "organisation": "Leanlink"}))
    d = read_document(p, "r")
    assert d.meta.year == 2020 and d.meta.organisation == "Leanlink"
    (tmp_path / "rapport.txt.meta.json").write_text("{trasig")
    with pytest.raises(IngestError, match="sidecar"):
        read_document(p, "r")


def test_reading_a_folder_records_failures_and_goes_on(tmp_path):
    from kb.ingest.build import BuildConfig, plan_build, read_sources

    (tmp_path / "a.txt").write_text("Hemtjänsten växer.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"")
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.4 trasig")
    (tmp_path / "d.txt").write_text("Äldreomsorgen växer.\n", encoding="utf-8")
    read = read_sources(plan_build([tmp_path], tmp_path / "index", BuildConfig(embedder="hash:64"), corpus_root=tmp_path))
    assert [d.doc_id for d in read.docs] == ["a", "d"]
    assert [f.path.rsplit("/", 1)[1] for f in read.failures] == ["b.txt", "c.pdf"]
    assert all(isinstance(f, Failure) and f.reason and "\n" not in f.reason for f in read.failures)


def test_strip_running_lines():
    pages = [f"Linköpings kommun – Årsredovisning 2023\nText om budget {i * 7}.\nMer text {i * i}.\n{i + 2} | Rapport"
             for i in range(1, 6)]
    out = strip_running_lines(pages)
    assert all("Linköpings kommun" not in p and "Rapport" not in p for p in out)
    assert out[0] == "Text om budget 7.\nMer text 1."
    assert out[3] == "Text om budget 28.\nMer text 16."
    # bare page numbers go even in short documents; body lines that repeat stay
    assert strip_running_lines(["Hej\n1", "Hej\n2"]) == ["Hej", "Hej"]


def test_mark_headings_only_marks_heading_like_lines():
    page = "Ekonomi\nUnderskottet beror på personlig assistans.\nVerksamhet 2019 2020 2021\n1 2 3"
    out = mark_headings(page, ["Ekonomi", "Verksamhet 2019 2020 2021"])
    assert out.startswith(" Ekonomi\n") and "\nVerksamhet 2019" in out
    assert mark_headings("a\nRubrik\nText som följer här.", ["Rubrik"]) == "a\n\n Rubrik\nText som följer här."


def test_join_pages_keeps_tables_and_sentences_together():
    text, starts = join_pages(["Tabell\nHemtjänst 1 200 3 400", "Särskilt boende 5 600 7 800", "Ny rubrik", "Text"])
    assert text == "Tabell\nHemtjänst 1 200 3 400\nSärskilt boende 5 600 7 800\n\nNy rubrik\n\nText"
    assert [text[s:s + 4] for s in starts] == ["Tabe", "Särs", "Ny r", "Text"]
    text, starts = join_pages(["Kostnaderna för hemtjänsten har", "ökat under året."])
    assert text == "Kostnaderna för hemtjänsten har\nökat under året."
    doc = Document("d", "d", "0", None, text, starts)  # type: ignore[arg-type]
    assert doc.page_at(text.index("ökat")) == 2 and doc.page_at(0) == 1


def test_empty_password_pdf_is_read_and_password_pdf_is_refused(tmp_path):
    d = read_document(pdfgen.encrypted_pdf(tmp_path / "open.pdf", user_password=""), "o")
    assert "tomt lösenord" in d.text and len(d.page_starts) == 2
    with pytest.raises(IngestError, match="encrypted PDF"):
        read_document(pdfgen.encrypted_pdf(tmp_path / "locked.pdf", user_password="x"), "l")


def test_pdf_failures_have_clear_reasons(tmp_path):
    cases = {
        "scanned.pdf": (pdfgen.scanned_pdf, "OCR"),
        "trunc.pdf": (pdfgen.truncated_pdf, "PDF"),
        "corrupt.pdf": (pdfgen.corrupt_pdf, "PDF"),
    }
    for name, (make, word) in cases.items():
        with pytest.raises(IngestError, match=word):
            read_document(make(tmp_path / name), name)
    (tmp_path / "zero.pdf").write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        read_document(tmp_path / "zero.pdf", "z")
