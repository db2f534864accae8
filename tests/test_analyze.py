"""Swedish analysis: tokenisation of numbers and acronyms, de-hyphenation, stems and queries."""
from __future__ import annotations

import pytest

from kb.analyze import Analyzer, AnalyzerConfig, build_lexicon, load_glossary
from kb.text import dehyphenate, tokenize
from kb.text import nfc as normalize


def test_tokenize_keeps_acronyms_and_numbers():
    toks = tokenize("LSS, SoL och HVB 2023: underskott -46 mkr, överskott 92,5 mnkr.")
    assert toks == ["lss", "sol", "och", "hvb", "2023", "underskott", "46", "mkr", "överskott", "92,5", "mnkr"]
    assert "46" in tokenize("Underskott inom LSS uppgår till -46 mkr.")
    assert "-46" not in tokenize("-46")
    assert tokenize("3.5 procent och 8,1 procent") == ["3.5", "procent", "och", "8,1", "procent"]


def test_tokenize_lowercases_and_splits_inline_hyphens():
    assert tokenize("LSS-verksamheten") == ["lss", "verksamheten"]
    assert tokenize("Åtgärder ÄR ÖVER") == ["åtgärder", "är", "över"]
    assert tokenize("") == [] and tokenize(" \n\t-–•") == []


def test_tokenize_normalises_decomposed_letters():
    decomposed = "a\u0308ldreomsorg"  # ä as a + combining diaeresis
    assert normalize(decomposed) == "äldreomsorg"
    assert tokenize(decomposed) == ["äldreomsorg"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("verksam-\nheten", "verksamheten"),
        ("verksam- \n  heten", "verksamheten"),
        ("hemtjänst-\r\nverksamheten", "hemtjänstverksamheten"),
        ("Personalomsättningen har minskat inom hemtjänst-\nverksamheten.", "Personalomsättningen har minskat inom hemtjänstverksamheten."),
        # elided compounds keep their hyphen
        ("Kultur- och fritid", "Kultur- och fritid"),
        ("Kultur-\noch fritid", "Kultur-\noch fritid"),
        ("Barn- och\nungdomsnämnden", "Barn- och\nungdomsnämnden"),
        ("Individ-\neller familjeomsorg", "Individ-\neller familjeomsorg"),
        ("Vård-\nsamt omsorg", "Vård-\nsamt omsorg"),
        # not a word split: numbers and capitals after the break
        ("2023-\n2024", "2023-\n2024"),
        ("Ekonomi-\nRapport", "Ekonomi-\nRapport"),
    ],
)
def test_dehyphenate(text, expected):
    assert dehyphenate(text) == expected


def test_tokenize_dehyphenates():
    assert tokenize("verksam-\nheten") == ["verksamheten"]
    assert tokenize("Kultur-\noch fritid") == ["kultur", "och", "fritid"]


def test_stopwords_and_question_words_dropped_numbers_kept():
    an = Analyzer()
    terms = an.passage_terms("Varför är det ett underskott inom LSS 2023 och hur mycket?")
    assert "2023" in terms and "lss" in terms
    assert not {"varför", "är", "det", "ett", "inom", "och", "hur", "mycket"} & set(terms)
    keep = Analyzer(AnalyzerConfig(stopwords=False, question_words=False))
    assert "inom" in keep.passage_terms("underskott inom LSS")


def test_degree_word_after_hur_is_question_phrasing():
    an = Analyzer()
    assert an.query_words("Hur hög var sjukfrånvaron i Leanlink 2023?") == ["sjukfrånvaron", "leanlink", "2023"]
    assert an.query_words("Hur länge pågick projektet") == ["pågick", "projektet"]
    # elsewhere the same words keep their meaning
    assert "hög" in an.query_words("hög sjukfrånvaro 2023")
    assert an.term("hög") in dict(an.query_terms("varför är sjukfrånvaron hög"))
    assert an.term("hög") not in dict(an.query_terms("hur hög är sjukfrånvaron"))
    plain = Analyzer(AnalyzerConfig(question_words=False))
    assert "hög" in plain.query_words("hur hög är sjukfrånvaron")


def test_definite_forms_conflated():
    an = Analyzer()  # no lexicon: only a long word's "-et" is taken for the definite form
    for a, b in [("underskott", "underskottet"), ("resultat", "resultatet")]:
        assert an.term(a) == an.term(b), (a, b)
    pairs = [("underskott", "underskottet"), ("resultat", "resultatet"), ("prognos", "prognosen"),
             ("assistans", "assistansen"), ("sjukfrånvaro", "sjukfrånvaron")]
    an = Analyzer(lexicon=build_lexicon(" ".join(p) for p in pairs))
    for a, b in pairs:
        assert an.term(a) == an.term(b), (a, b)
    assert an.term("prognoser") != an.term("assistans")
    assert an.term("2023") == "2023"
    plain = Analyzer(AnalyzerConfig(stem=False))
    assert plain.term("underskottet") == "underskottet"


def test_compounds_split_with_lexicon():
    lex = build_lexicon(["hemtjänst hemtjänst verksamheten verksamheten hemtjänstverksamheten"])
    an = Analyzer(lexicon=lex)
    assert an.split_compound("hemtjänstverksamheten") == ("hemtjänst", "verksamheten")
    terms = an.passage_terms("hemtjänstverksamheten")
    assert terms[0] == an.term("hemtjänstverksamheten") and an.term("hemtjänst") in terms
    assert Analyzer().split_compound("hemtjänstverksamheten") == ()  # no lexicon: no split
    assert Analyzer(AnalyzerConfig(decompound=False), lex).split_compound("hemtjänstverksamheten") == ()


def test_query_terms_weights_and_glossary():
    an = Analyzer()
    q = dict(an.query_terms("varför underskott inom LSS 2023"))
    assert q[an.term("underskott")] == 1.0 and q["lss"] == 1.0 and q["2023"] == 1.0
    assert "varför" not in q and "inom" not in q
    expansions = {t for t, w in q.items() if w < 1.0}
    assert expansions and all(q[t] == AnalyzerConfig().expansion_weight for t in expansions)
    # the full form finds the acronym
    gl = load_glossary("# test\nLSS\tlag om stöd och service\nHVB\them för vård eller boende\n")
    an = Analyzer(glossary=gl)
    q = dict(an.query_terms("insatser enligt lag om stöd och service"))
    assert q.get("lss") == AnalyzerConfig().expansion_weight
    assert an.query_terms("") == []


def test_analysis_is_deterministic():
    text = "Underskottet inom LSS-verksamheten beror på personlig assistans, 2023."
    assert Analyzer().passage_terms(text) == Analyzer().passage_terms(text)



def test_acronym_hyphen_at_line_break_is_kept():
    assert tokenize("inom LSS-\nverksamheten") == tokenize("inom LSS-verksamheten") == ["inom", "lss", "verksamheten"]
