"""Abstention you can trust (issue 23): what a question asks for and whether a sentence holds it
(kb.answer.asked), the three verdicts in the answer, the JSON, the CLI and the UI, refused
questions counted apart by ``kb eval --answers``, and floors on the real corpus."""
from __future__ import annotations

import json

import pytest
from conftest import DEV, DEV_UNANSWERABLE, EVAL

import kb
from kb.analyze import Analyzer
from kb.answer import extract
from kb.answer.asked import Asked, asked_for, figure_near, head_word, lack, required, word_forms
from kb.answer.extract import ask, verdict_of
from kb.cli import main as kb_main
from kb.evaluate import evaluate_answers, format_answer_table, load_jsonl, score_answers
from kb.ui_helpers import verdict_badge

LEXICON = {"hemtjänst": 40, "timmar": 30, "el": 5, "bilar": 8, "elbilar": 1, "boende": 20, "platser": 25,
           "pengar": 3, "pris": 6}
A = Analyzer(lexicon=LEXICON)


def idf_of(rare: dict[str, float]):
    """An IDF function: the given terms' values, 1.0 for any other."""
    return lambda terms: [rare.get(t, 1.0) for t in terms]


def asked(question: str, rare: dict[str, float] | None = None) -> Asked:
    return asked_for(A, question, idf_of({A.term(w): v for w, v in (rare or {}).items()}))


def seen(text: str) -> frozenset[str]:
    return frozenset(A.passage_terms(text))


# -- what is asked for ----------------------------------------------------------------------


@pytest.mark.parametrize("question, head", [
    ("Hur många elbilar köpte kommunen 2023?", "elbilar"),
    ("Hur hög var sjukfrånvaron i Leanlink 2023?", "sjukfrånvaron"),
    ("Hur många nya handläggare anställdes?", "handläggare"),  # a modifier is skipped
    ("Vilket bemanningsföretag hyrde förvaltningen in personal från?", "bemanningsföretag"),
    ("Vad kostade ombyggnaden av simhallen?", "ombyggnaden"),
    ("Varför gick Leanlink med underskott?", None),  # nothing counted or named
    ("sjukfrånvaro 2019 leanlink", None),
])
def test_the_head_is_the_first_topic_word_after_the_asking_phrase(question, head):
    assert head_word(A, question) == head


def test_asked_for_is_the_head_and_the_rarest_topic_word():
    a = asked("Hur många konserter gav symfoniorkestern 2021?", {"symfoniorkestern": 7.0})
    assert a.words == ("konserter", "symfoniorkestern") and a.head == "konserter"
    # head and rarest the same word: asked for once; years and function words never are
    assert asked("Hur många elbilar fanns totalt 2023?", {"elbilar": 7.0}).words == ("elbilar",)
    assert asked("2023", {}).words == ()


def test_a_counted_thing_is_found_in_its_inflected_definite_and_compound_forms():
    a = asked("Hur många elbilar köpte kommunen?", {"elbilar": 9.0})
    assert a.missing(seen("Kommunen köpte in en elbil under året.")) == ()  # singular
    assert a.missing(seen("Elbilarna används av hemtjänsten.")) == ()  # definite plural
    assert a.missing(seen("I kommunens budget har styrelsen fått 27 stycken uppdrag.")) == ("elbilar",)
    # a compound word is found through its parts ("timmar inom hemtjänsten")
    b = asked("Hur många hemtjänsttimmar utfördes?", {"hemtjänsttimmar": 9.0})
    assert frozenset({A.term("hemtjänst"), A.term("timmar")}) in word_forms(A, "hemtjänsttimmar")
    assert b.missing(seen("Antalet utförda timmar inom hemtjänsten ökade.")) == ()
    assert b.missing(seen("Antalet utförda timmar ökade.")) == ("hemtjänsttimmar",)


def test_an_acronym_is_found_in_its_glossary_form():
    a = asked("Hur stort blev underskottet inom HSL?", {"hsl": 9.0})
    assert "hsl" in a.words
    assert "hsl" not in a.missing(seen("Underskottet inom hemsjukvården blev 12 mnkr."))


# -- an amount needs a figure of the thing ---------------------------------------------------


def test_an_amount_needs_a_figure_next_to_the_thing_not_a_year():
    a = asked("Hur många boendeplatser hade demensboendet?", {"demensboendet": 9.0})
    assert figure_near(A, a, "Den 1 mars öppnade demensboendet med 62 boendeplatser.", row=False)
    assert not figure_near(A, a, "Demensboendet öppnade 2019 med boendeplatser för alla.", row=False)  # a year
    far = "Boendeplatser finns på demensboendet som också har en dagverksamhet, ett kök och ett bibliotek sedan 12 år"
    assert not figure_near(A, a, far, row=False)
    assert figure_near(A, a, "Boendeplatser demensboende 62 64 60", row=True)  # a table row naming it


def test_lack_by_question_form():
    q = "Hur många elbilar köpte kommunen 2023?"
    a = asked(q, {"elbilar": 9.0})
    qterms = seen(q)
    off = lack(A, a, "amount", qterms, "I kommunens budget för 2023 har styrelsen fått 27 stycken uppdrag.", "text",
               seen("I kommunens budget för 2023 har styrelsen fått 27 stycken uppdrag."), [2023], 2019)
    assert off.words == ("elbilar",) and off.share == 1.0 and off.kind and off.total == 2.0
    fits = "Kommunen köpte 14 elbilar under 2023."
    assert lack(A, a, "amount", qterms, fits, "text", seen(fits), [2023], 2019).total == 0.0
    # a sum of money answers a word for money ("prispengar"), also without the word itself
    m = asked("Hur mycket prispengar fick staden?", {"prispengar": 9.0})
    won = "Vinsten består av 500 000 euro för att utveckla staden."
    assert lack(A, m, "amount", seen("prispengar staden"), won, "text", seen(won), [], 2019).total == 0.0


def test_a_name_question_needs_a_name_that_is_not_in_the_question():
    q = "Vilket företag levererar verksamhetssystemet Treserva?"
    a = asked(q, {"treserva": 9.0})
    assert required(a, "name") == ("treserva",)  # the head names a kind: the answer gives one of it
    only_q = "Verksamhetssystemet Treserva används av förvaltningen."
    new = "Verksamhetssystemet Treserva levereras av CGI sedan 2015."
    assert lack(A, a, "name", seen(q), only_q, "text", seen(only_q), [], None).kind
    assert not lack(A, a, "name", seen(q), new, "text", seen(new), [], None).kind


def test_a_year_before_every_report_must_stand_in_the_sentence_or_its_context():
    a = asked("Hur hög var sjukfrånvaron 2016?", {})
    row = "Total sjukfrånvaro, % 8,6 9,9 7,0"
    assert lack(A, a, "amount", seen("sjukfrånvaron"), row, "row", seen(row), [2016], 2019).year == "2016"
    assert lack(A, a, "amount", seen("sjukfrånvaron"), row, "row", seen(row + " 2016"), [2016], 2019).year == ""
    assert lack(A, a, "amount", seen("sjukfrånvaron"), row, "row", seen(row), [2019], 2019).year == ""


def test_an_amount_for_a_year_needs_that_years_report_or_the_year_in_its_context():
    a = asked("Hur stort blev underskottet i hemtjänsten 2020?", {})
    s = "Årets resultat slutar på ett underskott om 25,2 mnkr."
    assert lack(A, a, "amount", seen("underskottet"), s, "text", seen(s), [2020], 2019, report_year=2019).year == "2020"
    assert lack(A, a, "amount", seen("underskottet"), s, "text", seen(s), [2020], 2019, report_year=2020).year == ""
    assert lack(A, a, "amount", seen("underskottet"), s, "text", seen(s + " 2020"), [2020], 2019, report_year=2019).year == ""
    # a cause question about a later year is no figure for it: a report may state plans ("klart 2024")
    assert lack(A, a, "cause", seen("underskottet"), s, "text", seen(s), [2024], 2019, report_year=2023).year == ""


def test_cause_and_yes_no_questions_require_no_word():
    a = asked("Varför gick Leanlink med underskott?", {"underskott": 9.0})
    assert required(a, "cause") == () and required(a, "yesno") == ()


# -- verdicts --------------------------------------------------------------------------------


def test_verdict_levels():
    assert verdict_of(0.95, 0.95, 0.9, 0.85) == "answered"
    assert verdict_of(0.95, 0.75, 0.9, 0.85) == "uncertain"  # close match that lacks what was asked
    assert verdict_of(0.80, 0.80, 0.9, 0.85) == "none"  # nothing close in the reports
    assert verdict_of(0.10, 0.10, None, None) == "answered"  # no calibrated thresholds


def calibrate(monkeypatch, k, upper: float, lower: float) -> None:
    model = k.manifest.embedder.id
    monkeypatch.setitem(extract.THRESHOLDS, model, upper)
    monkeypatch.setitem(extract.UNCERTAIN_THRESHOLDS, model, lower)


@pytest.mark.parametrize("upper, lower, verdict", [(-5.0, -5.0, "answered"), (5.0, -5.0, "uncertain"),
                                                   (5.0, 5.0, "none")])
def test_verdict_in_the_json_of_kb_ask(small_index, monkeypatch, capsys, upper, lower, verdict):
    calibrate(monkeypatch, kb.open_index(small_index), upper, lower)
    assert kb_main(["ask", "varför underskott inom LSS", "--json", "--index", str(small_index)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == verdict and out["confident"] is (verdict == "answered")
    assert isinstance(out["confidence"], float)
    assert bool(out["answer"]) is (verdict == "answered")  # an empty answer: kb does not vouch for one
    assert bool(out["uncertain_answer"]) is (verdict == "uncertain")


def test_verdict_in_each_line_of_a_batch(small_index, monkeypatch, tmp_path, capsys):
    calibrate(monkeypatch, kb.open_index(small_index), 5.0, -5.0)
    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "a", "query": "varför underskott inom LSS"}\n{"id": "b", "query": "och 2023"}\n', encoding="utf-8")
    assert kb_main(["ask", "--queries", str(q), "--json", "--index", str(small_index)]) == 0
    a, b = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert a["verdict"] == "uncertain" and a["uncertain_answer"] and not a["answer"] and not a["confident"]
    assert b["verdict"] == "refused" and b["answer"] == [] and "error" in b


def test_the_cli_says_uncertain_and_none_in_swedish(small_index, monkeypatch, capsys):
    k = kb.open_index(small_index)
    calibrate(monkeypatch, k, 5.0, -5.0)
    assert kb_main(["ask", "varför underskott inom LSS", "--index", str(small_index)]) == 0
    assert "Osäkert – kontrollera källan" in capsys.readouterr().out
    calibrate(monkeypatch, k, 5.0, 5.0)
    assert kb_main(["ask", "varför underskott inom LSS", "--index", str(small_index)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Rapporterna verkar inte besvara frågan.") and "Svar" not in out


def test_verdict_badge_marks_uncertain_and_none_and_escapes():
    assert "Osäkert – kontrollera källan" in verdict_badge("uncertain")
    assert "Rapporterna verkar inte besvara frågan." in verdict_badge("none")
    assert verdict_badge("answered") == "" and verdict_badge("<script>") == ""
    assert "<script" not in verdict_badge("uncertain").lower()


# -- kb eval --answers: refused questions apart ----------------------------------------------


def test_refused_questions_are_counted_apart_and_abstain_over_the_tried_ones():
    gold = [{"id": "a", "relevant": [{"quote": "Sjukfrånvaron var 8,1 procent."}]},
            {"id": "u1", "relevant": []}, {"id": "u2", "relevant": []}, {"id": "u3", "relevant": []}]
    answers = {"a": ["Sjukfrånvaron var 8,1 procent."], "u1": [], "u2": ["Något."], "u3": []}
    verdicts = {"a": "answered", "u1": "uncertain", "u2": "answered", "u3": "refused"}
    got = evaluate_answers(gold, answers, verdicts)
    assert got["overall"] == score_answers(gold, answers)  # the scorer's figures stay as they are
    v = got["verdicts"]
    assert v["refused"] == 1 and v["unanswerable"]["refused"] == 1 and v["unanswerable"]["uncertain"] == 1
    assert v["abstain_tried"] == pytest.approx(1 / 2)  # u1 of the two tried (u3 was refused)
    assert got["overall"]["abstain"] == pytest.approx(2 / 3)  # the scorer counts the refused one as abstaining
    table = format_answer_table(got)
    assert "refused: 1" in table and "tried (refused left out): 0.500" in table


def test_kb_eval_answers_reports_refused(small_index, tmp_path, capsys):
    gold = [{"id": "u1", "query": "simhallens öppettider", "relevant": []},
            {"id": "u2", "query": "och 2023", "relevant": []}]
    gf = tmp_path / "gold.jsonl"
    gf.write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in gold), encoding="utf-8")
    assert kb_main(["eval", str(gf), "--answers", "--json", "--index", str(small_index)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["verdicts"]["refused"] == 1 and got["verdicts"]["unanswerable"]["refused"] == 1


# -- the real corpus -------------------------------------------------------------------------


def vouched(k, question: str) -> list[str]:
    """The quotes kb vouches for (verdict "answered"), as kb eval --answers scores them."""
    ans = ask(k, question)[1]
    return [s.sentence for s in ans.sentences] if ans.confident else []


def verdicts_on(k, gold: list[dict]) -> dict[str, str]:
    return {g["id"]: ask(k, g["query"])[1].verdict for g in gold}


@pytest.mark.slow
def test_real_elbilar_is_not_answered(real_index):
    _, ans = ask(kb.open_index(real_index), "Hur många elbilar köpte kommunen 2023?")
    assert ans.verdict != "answered" and not ans.confident and "elbilar" in ans.lack.words


@pytest.mark.slow
def test_real_unanswerable_test_split_and_dev_answered_floors(real_index):
    """Measured (docs/abstention.md): test split not answered 0.512 (21 of 41; 0.146 before the
    asked-for rule), dev answered 1.000, support@1 0.900; the floors leave about one question of
    slack. The issue's target for the test split, 0.9, is not met (the trade-off is in the doc)."""
    k = kb.open_index(real_index)
    test = load_jsonl(EVAL / "unanswerable" / "test.jsonl")
    v = verdicts_on(k, test)
    assert sum(x != "answered" for x in v.values()) / len(test) >= 0.48
    dev = load_jsonl(DEV) + load_jsonl(DEV_UNANSWERABLE)
    m = score_answers(dev, {g["id"]: vouched(k, g["query"]) for g in dev})
    assert m["answered"] >= 0.966 and m["support@1"] >= 0.866 and m["abstain"] >= 0.83
