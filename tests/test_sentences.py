"""Evidence sentences (kb.sentences): one unit per sentence, bullet, table row and heading, with
exact document offsets and lines."""
from __future__ import annotations

from kb.records import Chunk, DocMeta, Document
from kb.sentences import sentence_text, split_passage, split_spans
from kb.text import is_prose_line


def units(text: str) -> list[tuple[str, str]]:
    return [(sp.kind, sentence_text(text[sp.start : sp.end])) for sp in split_spans(text)]


def test_prose_is_cut_at_sentence_ends_not_at_wrapped_lines_or_abbreviations():
    text = ("Kommunstyrelsen redovisar 2023 ett överskott med 92,5 mnkr. Orsa-\nken förklaras bl.a. Av\n"
            "tomträttsförsäljningar. Underskott inom LSS uppgår till -46 mkr.")
    assert units(text) == [
        ("text", "Kommunstyrelsen redovisar 2023 ett överskott med 92,5 mnkr."),
        ("text", "Orsaken förklaras bl.a. Av tomträttsförsäljningar."),
        ("text", "Underskott inom LSS uppgår till -46 mkr."),
    ]


def test_bullets_start_units_and_their_mark_is_outside_the_span():
    text = "Åtgärder under året:\n\uf0b7 Översyn av scheman inom\ngruppbostäder\n\uf0a7 Fler heltider i hemtjänsten\n• Ny tidplan"
    spans = split_spans(text)
    assert [(sp.kind, sentence_text(text[sp.start : sp.end])) for sp in spans] == [
        ("text", "Åtgärder under året:"),
        ("bullet", "Översyn av scheman inom gruppbostäder"),
        ("bullet", "Fler heltider i hemtjänsten"),
        ("bullet", "Ny tidplan"),
    ]
    assert all(text[sp.start] not in "\uf0b7\uf0a7• " for sp in spans)


def test_a_table_paragraph_gives_one_row_per_line_and_a_heading_its_own_unit():
    text = (" Personal\nNämndindikator 2017 2018 2019\nTotal sjukfrånvaro 5,3 6,6 6,7\nChefers sjukfrånvaro 5,1 6,1 2,3\n\n"
            "Sjukfrånvaron ökade under 2019.")
    assert units(text) == [
        ("heading", "Personal"),
        ("row", "Nämndindikator 2017 2018 2019"),
        ("row", "Total sjukfrånvaro 5,3 6,6 6,7"),
        ("row", "Chefers sjukfrånvaro 5,1 6,1 2,3"),
        ("text", "Sjukfrånvaron ökade under 2019."),
    ]


def test_a_wrapped_prose_line_full_of_numbers_stays_in_its_sentence():
    text = ("Enligt prognoser kommer antalet 85-plussare i Linköping växa med 47 procent mellan år\n"
            "2022 och 2032. Ytterligare tio år framåt i tiden, år 2042, beräknas antalet ha vuxit med 74 procent\n"
            "jämfört med i dag.")
    assert units(text) == [
        ("text", "Enligt prognoser kommer antalet 85-plussare i Linköping växa med 47 procent mellan år 2022 och 2032."),
        ("text", "Ytterligare tio år framåt i tiden, år 2042, beräknas antalet ha vuxit med 74 procent jämfört med i dag."),
    ]


def test_a_paragraph_of_prose_with_many_numbers_is_sentences_not_a_row():
    # one long line holding six numbers is a numeric line by the chunker's rule, yet it is running text
    text = ("Leanlinks resultat har alltsedan organisationen bildades 2007 varit positiv, sammanlagt "
            "redovisat resultat för åren 2007-2018 uppgår till ett överskott om 17 mnkr. Under åren 2018-2020 "
            "har dock ekonomin försämrats. För år 2020 budgeteras underskott.\n\n"
            "Hemtjänst, timmar\t357 127\t341 844\t339 000")
    assert units(text) == [
        ("text", "Leanlinks resultat har alltsedan organisationen bildades 2007 varit positiv, sammanlagt "
                 "redovisat resultat för åren 2007-2018 uppgår till ett överskott om 17 mnkr."),
        ("text", "Under åren 2018-2020 har dock ekonomin försämrats."),
        ("text", "För år 2020 budgeteras underskott."),
        ("row", "Hemtjänst, timmar 357 127 341 844 339 000"),
    ]


def test_a_line_that_goes_on_with_a_sentence_is_prose_even_in_a_table_paragraph():
    # three lines are "numeric" by the chunker's rule, so the paragraph counts as a table
    text = ("Kommunfullmäktige gav i Budget 2023 med plan för 2024-2028 strategiska uppdrag till\n"
            "nämnderna. Åtgärder har inarbetats i förvaltningens internbudget som redo-\n"
            "visats till kommunfullmäktige i april 2023 (KF 2023-04-25 154) och i maj (2023-\n"
            "05-09, KS §148).\n"
            "Total sjukfrånvaro 8,0 8,1 7,0")
    assert units(text) == [
        ("text", "Kommunfullmäktige gav i Budget 2023 med plan för 2024-2028 strategiska uppdrag till nämnderna."),
        ("text", "Åtgärder har inarbetats i förvaltningens internbudget som redovisats till kommunfullmäktige i "
                 "april 2023 (KF 2023-04-25 154) och i maj (2023- 05-09, KS §148)."),  # digits keep their hyphen
        ("row", "Total sjukfrånvaro 8,0 8,1 7,0"),
    ]


def test_is_prose_line_tells_running_text_from_rows():
    assert is_prose_line("Facebook: ökning på 626 följare till 24 089 i december, och fler inlägg än förut.")
    assert not is_prose_line("varav HVB barn och unga 133 102 85 000 -48 102")
    assert not is_prose_line("Total sjukfrånvaro 8,0 % 8,1 % 7,0 %")
    assert not is_prose_line("Kostnadseffektiv verksamhet och ett ekonomiskt resultat i balans\t-25,7 mnkr\t0,0 mnkr")


def test_sentences_carry_document_offsets_and_lines():
    text = "Rubrik\n\n Ekonomi\nLeanlink redovisar ett underskott. Underskottet beror på\npersonlig assistans.\n"
    doc = Document("d", "d.txt", "0" * 64, DocMeta("T"), text)
    start = text.index(" Ekonomi") + 1
    chunk = Chunk("d:1", "d", 1, start, len(text) - 1, text[start : len(text) - 1], "Ekonomi", None, None, 3, 5)
    sents = split_passage(doc, chunk)
    assert [s.kind for s in sents] == ["heading", "text", "text"]
    for s in sents:
        assert text[s.start : s.end] == text[s.start : s.end].strip() and s.chunk_id == "d:1"
        assert s.line_start == text.count("\n", 0, s.start) + 1 and s.line_end == text.count("\n", 0, s.end - 1) + 1
        assert s.page is None
    assert sentence_text(text[sents[2].start : sents[2].end]) == "Underskottet beror på personlig assistans."
    assert (sents[2].line_start, sents[2].line_end) == (4, 5)


def test_pdf_sentences_know_their_page():
    text = "Första sidan har en mening.\nAndra sidan har en till mening."
    doc = Document("p", "p.pdf", "0" * 64, DocMeta("T"), text, page_starts=(0, text.index("Andra")))
    chunk = Chunk("p:0", "p", 0, 0, len(text), text, None, 1, 2, None, None)
    assert [(s.page, s.page_end, s.line_start) for s in split_passage(doc, chunk)] == [(1, 1, None), (2, 2, None)]


def test_a_short_line_ending_with_a_preposition_is_wrapped_prose_not_a_line_of_its_own():
    # a table cell wrapped in the PDF's text: "… är etablerad i" / "Skäggetorp." is one sentence
    text = "Modell/metod för\nsamverkan förskola/skola och\nsocialtjänst är\netablerad i  \nSkäggetorp.\n"
    assert units(text) == [("text", "Modell/metod för samverkan förskola/skola och socialtjänst är etablerad i Skäggetorp.")]
    # a short line without closing punctuation that could end a phrase is still a line of its own
    assert units("Det gäller alla.\nNya mål för året\nAlla ska ha heltid.") == [
        ("text", "Det gäller alla."), ("text", "Nya mål för året"), ("text", "Alla ska ha heltid.")]


def test_runs_on_knows_closing_punctuation_open_endings_and_open_words():
    from kb.sentences import runs_on

    assert runs_on("Underskottet beror på:") and runs_on("Kostnaderna ökade.") and runs_on("placeringar inom HVB,")
    assert runs_on("socialtjänst är etablerad i") and runs_on("Resultatet och") and runs_on("införandet av")
    assert not runs_on("Mål för året") and not runs_on("Ekonomi") and not runs_on("")


def test_a_table_row_is_embedded_with_its_section_path_and_prose_as_shown():
    from kb.sentences import embedding_text, evidence_units

    assert embedding_text("row", "270 - Räddningstjänst 111,2 121,7", "Ekonomi › Nettokostnader") == \
        "Ekonomi, Nettokostnader: 270 - Räddningstjänst 111,2 121,7"
    assert embedding_text("row", "Total 5,3", None) == "Total 5,3"
    assert embedding_text("text", "Sjukfrånvaron ökade.", "Personal") == "Sjukfrånvaron ökade."
    text = "Sjukfrånvaron ökade under 2019.\n\nTotal sjukfrånvaro 5,3 6,6 6,7\nChefers sjukfrånvaro 5,1 6,1 2,3\n"
    doc = Document("d", "d.txt", "0" * 64, DocMeta("T"), text)
    chunk = Chunk("d:0", "d", 0, 0, len(text), text, "Personal", None, None, 1, 4)
    sents, got = evidence_units({"d": doc}, [chunk])
    assert sents == split_passage(doc, chunk)
    assert got == ["Sjukfrånvaron ökade under 2019.", "Personal: Total sjukfrånvaro 5,3 6,6 6,7",
                   "Personal: Chefers sjukfrånvaro 5,1 6,1 2,3"]


def test_a_sentence_goes_on_across_the_blank_lines_a_pdf_conversion_leaves_in_it():
    # the 2023 report: "• Utredningen … gruppbo-" / "" / "ende har inte påbörjats." was two units, one ending mid-word
    text = ("Nedan anges avvikelserna:\n• Utredningen avseende SKR och Addas ramavtal för förskolor och gruppbo-\n\n"
            "ende har inte påbörjats.\n\nArbetet har\n\n  förskjutits något i tid.\n\nNästa stycke börjar här.\n\n"
            "men detta är ett nytt stycke efter en punkt.")
    assert units(text) == [
        ("text", "Nedan anges avvikelserna:"),
        ("bullet", "Utredningen avseende SKR och Addas ramavtal för förskolor och gruppboende har inte påbörjats."),
        ("text", "Arbetet har förskjutits något i tid."),
        # a blank line after closing punctuation, or before a capital letter, still ends the unit
        ("text", "Nästa stycke börjar här."),
        ("text", "men detta är ett nytt stycke efter en punkt."),
    ]
    # the unit's span is still an exact slice, blank lines inside it
    spans = split_spans(text)
    assert text[spans[1].start : spans[1].end].endswith("påbörjats.") and "\n\n" in text[spans[1].start : spans[1].end]
