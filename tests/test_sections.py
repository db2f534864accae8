"""Section names are headings, not people's names, signatures, table labels or contents entries."""
import json
import re
from pathlib import Path

from kb.ingest.chunk import SECTION_SEP
from kb.text import is_heading, is_name_or_label

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
PERSON = re.compile(r"^[A-ZÅÄÖÉ][a-zåäöéü]+(?:\s+[A-ZÅÄÖÉ][a-zåäöéü]+){1,2}$")


def test_signatures_labels_and_contents_lines_are_no_headings():
    assert is_name_or_label("Anita Lhådö", "", "Förvaltningschef")
    assert not is_heading("Anita Lhådö", True, "Förvaltningschef", "")
    assert is_name_or_label("Eva Andersson", "Kommunstyrelsens ordförande", None)
    assert is_name_or_label("Handläggare: Peter Alexanderson", None, "Organisation: Revisionskontoret")
    assert is_name_or_label("Uppnått  Uppnått  Uppnått", None, None)
    assert is_name_or_label("Utgifter Inkomster Netto", None, None)
    assert is_name_or_label("Ekonomi.....\t9", None, "Mål och inriktning.....\t11")
    # a capitalised heading without a role beside it stays a heading
    assert not is_name_or_label("Klimatsäkert Linköping", "", "Kommunen ska minska sina utsläpp av växthusgaser.")
    assert is_heading("Leanlinks uppdrag", True, "I enlighet med Linköpings kommuns reglemente och instruktion", "")


def lower_case_words(texts):
    return {w for t in texts for w in re.findall(r"\b[a-zåäöéü]+\b", t)}


def is_common(word, common):
    """The reports write the word (or, for a long one, a word of its stem: "iakttagelse" /
    "iakttagelser") in lower case somewhere: a common word, not a name."""
    w = word.lower()
    return w in common or (len(w) >= 6 and any(c.startswith(w[:6]) for c in common))


def test_no_section_of_the_bundled_index_is_a_persons_name(real_index):
    """A general rule: a section name of two or three capitalised words none of which the reports
    ever write in lower case (so no common word) is a person's name ("Anita Lhådö")."""
    gen = (real_index / "CURRENT").read_text().strip()
    names = set()
    with open(real_index / gen / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            section = json.loads(line).get("section")
            names.update(s.strip() for s in (section or "").split(SECTION_SEP) if s.strip())
    assert names, "the index holds no section names"
    common = lower_case_words(p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt"))
    people = [n for n in names if PERSON.match(n) and not any(is_common(w, common) for w in n.split())]
    assert people == []
