"""kb.reflow: text for reading (hard line breaks joined, line-break hyphens dropped) with a map
back to the exact text, on its own and on every passage of the bundled corpus."""
from __future__ import annotations

import re

import pytest

from kb.reflow import reflow

TEXT = (
    " Ekonomi\n"
    "Leanlink re-\n"
    "dovisar ett underskott inom LSS-\n"
    "verksamheten. Kultur-\n"
    "och fritid har ett överskott som är\n"
    "större än väntat.  Det beror på\n"
    "\n"
    "personlig assistans.\n"
    "\n"
    "Åtgärder:\n"
    "• Översyn av scheman för hela\n"
    "hemtjänsten\n"
    "• Fler heltider\n"
    "\n"
    "Belopp tkr\tBudget 2021\tPlan 2022\n"
    "Hemtjänst\t1 700\t1 800\n"
)


def test_lines_of_a_sentence_are_joined_and_structure_is_kept():
    r = reflow(TEXT)
    assert r.text == (
        "Ekonomi\n"
        "Leanlink redovisar ett underskott inom LSS-verksamheten. Kultur- och fritid har ett överskott som är "
        "större än väntat. Det beror på personlig assistans.\n\n"
        "Åtgärder:\n"
        "• Översyn av scheman för hela hemtjänsten\n"
        "• Fler heltider\n\n"
        "Belopp tkr\tBudget 2021\tPlan 2022\n"
        "Hemtjänst\t1 700\t1 800"
    )


def test_every_character_maps_back_to_the_source():
    r = reflow(TEXT)
    assert len(r.src) == len(r.text) + 1 and r.src[-1] == len(TEXT)
    assert list(r.src) == sorted(r.src)
    for ch, i in zip(r.text, r.src):
        assert ch == TEXT[i] or (ch in " \n" and TEXT[i].isspace()), (ch, TEXT[i])


def test_a_source_span_maps_onto_the_same_words():
    r = reflow(TEXT)
    a = TEXT.index("Leanlink")
    b = TEXT.index("verksamheten.") + len("verksamheten.")
    x, y = r.span(a, b)
    assert r.text[x:y] == "Leanlink redovisar ett underskott inom LSS-verksamheten."
    a = TEXT.index("Det beror")
    b = TEXT.index("assistans.") + len("assistans.")
    x, y = r.span(a, b)
    assert r.text[x:y] == "Det beror på personlig assistans."


def test_a_short_line_of_its_own_is_kept():
    text = ("Den ökade vårdtyngden kräver en ökad bemanning för att bibehålla kvalitet i verksamheten\n"
            "LSS funktionsstöd\n"
            "Verksamheten har ett försämrat resultat som beror på ökade kostnader för personlig assistans.")
    assert reflow(text).text.split("\n")[1] == "LSS funktionsstöd"


def _corpus_passages():
    from conftest import CORPUS

    from kb.ingest.chunk import chunk_document
    from kb.ingest.read import read_document

    for p in sorted(CORPUS.glob("*.txt")):
        doc = read_document(p, p.stem)
        yield from (c.text for c in chunk_document(doc))


@pytest.fixture(scope="module")
def passages() -> list[str]:
    return list(_corpus_passages())


def test_no_corpus_passage_keeps_a_break_inside_a_sentence(passages):
    """On every passage of the bundled corpus: no line-break hyphen before a lower-case word is
    left, no line ends in the middle of a sentence before a lower-case word, and the map holds."""
    assert len(passages) > 500
    for text in passages:
        r = reflow(text)
        assert not re.search(r"[a-zåäö]-\n[a-zåäö]", r.text), r.text
        for ch, i in zip(r.text, r.src):
            assert ch == text[i] or (ch in " \n" and text[i].isspace())
        prose = [ln for ln in r.text.split("\n") if "\t" not in ln]
        for ln, nxt in zip(prose, prose[1:]):
            assert not (ln and ln[-1].isalpha() and ln[-1].islower() and nxt[:1].islower() and len(ln) > 60), (ln, nxt)


def test_kb_search_prints_passages_for_reading(small_index, capsys):
    from kb.cli import main

    assert main(["search", "personalomsättning hemtjänst personlig assistans", "--index", str(small_index)]) == 0
    out = capsys.readouterr().out
    assert "hemtjänstverksamheten" in out and "hemtjänst-" not in out
    assert "Personal\n    Sjukfrånvaron" in out  # the heading keeps its own line
