"""Question forms in Swedish (kb.answer.forms) and the kind of sentence each asks for."""
from __future__ import annotations

import pytest

from kb.answer.forms import answers_form, question_form


@pytest.mark.parametrize("question, form", [
    ("varför underskott inom LSS 2023", "cause"),
    ("Vad beror underskottet inom hemtjänsten på?", "cause"),
    ("Vad förklarar Leanlinks underskott på 86 miljoner 2023?", "cause"),
    ("Hur mycket prispengar fick Linköping?", "amount"),
    ("Hur många portioner mat om dagen produceras?", "amount"),
    ("Hur stor var avvikelsen mot budget?", "amount"),
    ("Hur hög var sjukfrånvaron 2019?", "amount"),
    ("Vad blev nettokostnaden för räddningstjänst?", "amount"),
    ("HVB kostnader 2019", "amount"),
    ("När öppnade Vallastadens demensboende?", "time"),
    ("Vilket år infördes heltid som norm?", "time"),
    ("Kommer Leanlink att nå en budget i balans 2024?", "yesno"),
    ("Blev det ett överskott 2023?", "yesno"),
    ("Har kommunen använt en robot när de anställer personal", "yesno"),
    ("vilket mobilbolag bytte kommunen till", "name"),
    ("I vilket område har nära socialtjänst etablerats 2023?", "name"),
    ("Vilka förvaltningar gick med underskott?", "name"),
    ("Vem leder arbetet med totalförsvarsplanering?", "name"),
    ("Var ligger det nya demensboendet?", "name"),
    ("Var sjukfrånvaron högre 2023?", "yesno"),  # "var" the verb, not "where"
    ("Vilka rapporter tar upp sjukfrånvaron?", "other"),  # "-orter" inside a word is no place
    ("Vilken sort av insatser ökade?", "other"),
    ("Vilka åtgärder vidtogs mot underskottet?", "other"),
    ("internbank kommunkoncernen", "other"),
])
def test_question_forms(question, form):
    assert question_form(question) == form


def test_causes_are_causal_phrases():
    assert answers_form("cause", "text", "Underskottet beror på högre kostnader för personlig assistans.")
    assert answers_form("cause", "text", "Avvikelsen förklaras av tomträttsförsäljningar.")
    assert answers_form("cause", "bullet", "Minskningen skedde till följd av färre brukare.")
    assert answers_form("cause", "text", "Det blev dyrare på grund av inflationen.")
    assert not answers_form("cause", "text", "Leanlink redovisar ett underskott inom LSS.")
    # an adverb between the verb and its particle, and other causal verbs
    assert answers_form("cause", "text", "Det försämrade resultatet beror främst på kostnader för särskilda behov.")
    assert answers_form("cause", "text", "Ökningen beror till stor del på fler brukare.")
    assert answers_form("cause", "text", "Främst påverkas resultatet av tomträttsförsäljningar.")
    assert answers_form("cause", "text", "Kostnaderna minskade tack vare färre placeringar.")
    assert not answers_form("cause", "text", "Beslutet påverkar många människor i kommunen.")


def test_amounts_are_numbers_with_units_or_table_rows():
    assert answers_form("amount", "text", "Underskottet uppgår till 17 mkr.")
    assert answers_form("amount", "text", "Sjukfrånvaron var 8,1 procent.")
    assert answers_form("amount", "text", "Andelen var 54 % vid årets slut.")
    assert answers_form("amount", "text", "Måltidsservice, ca 25 000 portioner/dag produceras.")
    assert answers_form("amount", "row", "Total sjukfrånvaro 6,7 6,6 5,3")
    assert answers_form("amount", "text", "Vinsten består av 500 000 euro.")
    assert not answers_form("amount", "text", "Linköping vann ett pris i Europa 2023.")
    assert not answers_form("amount", "text", "Sjukfrånvaron har minskat under året.")


def test_times_are_dates_months_seasons_and_years_in_context():
    assert answers_form("time", "text", "Den 1 mars öppnade Vallastadens demensboende.")
    assert answers_form("time", "text", "Arbetet blir klart under hösten 2024.")
    assert answers_form("time", "text", "Beslutet fattades 2023-11-14.")
    assert answers_form("time", "text", "Boendet har funnits sedan 2019.")
    assert not answers_form("time", "text", "Boendet har 62 platser.")


def test_names_are_capitalised_words_inside_the_sentence():
    assert answers_form("name", "text", "Modell/metod för samverkan är etablerad i Skäggetorp.")
    assert answers_form("name", "text", "LKDATA har bytt telefonoperatör från Telia till Telenor.")
    assert answers_form("name", "bullet", "Nära socialtjänst Skäggetorp etablerad.")
    assert not answers_form("name", "text", "Förberedelsearbete för nära socialtjänst har pågått.")  # only the first word
    assert not answers_form("name", "text", "Arbetet pågår. Det blev klart.")  # a sentence start is no name


def test_yes_no_questions_want_a_statement_and_other_questions_no_particular_kind():
    assert answers_form("yesno", "text", "Förvaltningen använde roboten Tengai vid rekrytering.")
    assert answers_form("yesno", "bullet", "Användning av robot vid anställningsintervjuer")
    assert not answers_form("yesno", "row", "Robotar 2 3 4")
    assert not answers_form("other", "text", "Underskottet beror på personlig assistans.")
