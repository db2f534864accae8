"""Extractive answers (kb.answer.extract): candidates, scoring, forms, years, confidence, bad questions and
the `kb ask` / `kb eval --answers` commands."""
from __future__ import annotations

import os

# as app.py does: the embedding engine's OpenMP threads sleep rather than spin while waiting
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import dataclasses
import importlib.util
import json

import numpy as np
import pytest
from conftest import DEV, DEV_UNANSWERABLE, EVAL

import kb
from kb.answer.candidates import Candidate, lead_in, list_after, quotable
from kb.answer.choose import choose, explained, fitting_first, without_held_items
from kb.answer.extract import Answer, QuestionError, answer, ask, unknown_note
from kb.answer.params import AnswerParams
from kb.answer.question import check_question, coverage, question_terms
from kb.answer.quote import AnswerSentence, leans_back, quote, reach_back, without_repeats
from kb.cli import main as kb_main
from kb.evaluate import evaluate_answers, load_jsonl, score_answers
from kb.records import Chunk, Hit, Sentence
from kb.sentences import sentence_text

ALWAYS = AnswerParams(threshold=float("-inf"))  # the hash embedder has no calibrated threshold


# -- pure parts -----------------------------------------------------------------------------


def test_coverage_is_the_share_of_question_weight_and_context_counts_half():
    w = {"underskot": 2.0, "lss": 1.0, "assistans": 1.0}
    assert coverage(w, {"underskot", "lss", "assistans"}, set(), 0.5) == 1.0
    assert coverage(w, {"underskot"}, set(), 0.5) == 0.5
    assert coverage(w, {"underskot"}, {"lss"}, 0.5) == pytest.approx(0.625)
    assert coverage(w, set(), {"underskot"}, 0.0) == 0.0
    assert coverage({}, {"x"}, set(), 0.5) == 0.0


def test_quotable_sentences_rows_and_headings():
    def s(kind):
        return Sentence("d:0", 0, 1, kind)

    assert quotable(s("text"), "Underskottet beror på personlig assistans.", 4)
    assert not quotable(s("text"), "Avd. LSS", 4)
    assert quotable(s("row"), "270 - Räddningstjänst 111,2 121,7 10,5 112,4", 4)
    assert not quotable(s("row"), "Verksamhet Bokslut 2023 Budget 2023 Avvikelse Bokslut 2022", 4)  # a header row
    assert not quotable(s("row"), "111,2 121,7", 4)  # figures without a word
    assert not quotable(s("heading"), "Ekonomi och personal i förvaltningen", 4)


def cand(text, score, rank=1, order=0):
    return Candidate(Sentence("d:0", order, order + 1), text, rank, order, score, 0.0, False, score)


def test_choose_quotes_the_best_that_pass_the_threshold_and_abstains_below_it():
    cs = sorted([cand("a", 0.95), cand("b", 0.93, order=1), cand("c", 0.90, order=2), cand("d", 0.94, order=3)],
                key=lambda c: -c.score)
    assert [c.text for c in choose(cs, (), {}, AnswerParams(), 0.9)] == ["a", "d", "b"]  # max_sentences 3
    assert [c.text for c in choose(cs, (), {}, AnswerParams(), 0.935)] == ["a", "d"]  # b is below the bar
    assert [c.text for c in choose(cs, (), {}, AnswerParams(max_sentences=1), 0.9)] == ["a"]
    assert choose(cs, (), {}, AnswerParams(), 0.96) == []


def test_a_question_naming_several_years_gets_one_sentence_per_year():
    cs = [cand("Sjukfrånvaron var 9,7 procent.", 0.97, rank=1), cand("Sjukfrånvaron var 10,5 procent.", 0.96, rank=2),
          cand("Under 2019 var sjukfrånvaron 8,0 procent.", 0.93, rank=3)]
    years = {1: 2023, 2: 2023, 3: 2021}
    got = choose(cs, (2019, 2023), years, AnswerParams(), 0.9)
    assert [c.text for c in got] == ["Under 2019 var sjukfrånvaron 8,0 procent.", "Sjukfrånvaron var 9,7 procent."]
    # a year whose best sentence is below the threshold gets none
    assert [c.hit_rank for c in choose(cs, (2019, 2023), years, AnswerParams(), 0.95)] == [1]
    # turned off: the usual best sentences that pass the threshold
    assert [c.hit_rank for c in choose(cs, (2019, 2023), years, AnswerParams(per_year=False), 0.95)] == [1, 2]


def test_a_cause_question_quotes_the_cause_stated_right_after_the_best_sentence_first():
    def c(text, score, order, chunk="d:0", form=False):
        return Candidate(Sentence(chunk, order, order + 1), text, 1, order, score, 0.0, form, score)

    outcome = c("Förvaltningen redovisar 2023 ett överskott med 92,5 mnkr.", 0.95, 4)
    cause = c("Orsaken till överskottet är tomträttsförsäljningar.", 0.89, 5, form=True)
    other = c("Underskottet beror på högre kostnader.", 0.90, 9, form=True)
    got = explained([outcome, other, cause], "cause")
    assert [x.text for x in got] == [cause.text, outcome.text, other.text]
    assert got[0].score == outcome.score  # scored as the sentence it explains
    # not for other forms, not when the best sentence gives a cause itself, not from another passage
    # or a unit further on, and not when the unit after it gives no cause
    assert explained([outcome, other, cause], "amount") == [outcome, other, cause]
    assert explained([other, outcome, cause], "cause") == [other, outcome, cause]
    elsewhere = dataclasses.replace(cause, sentence=Sentence("d:1", 5, 6))
    assert explained([outcome, elsewhere], "cause") == [outcome, elsewhere]
    assert explained([outcome, dataclasses.replace(cause, order=6)], "cause")[0] is outcome
    assert explained([outcome, dataclasses.replace(cause, form=False)], "cause")[0] is outcome


def test_an_amount_time_or_name_question_quotes_a_close_sentence_that_has_one_first():
    def c(text, score, order, form=False):
        return Candidate(Sentence("d:0", order, order + 1), text, 1, order, score, 0.0, form, score)

    plan = c("Genomföra nära socialtjänst i flera områden.", 0.93, 0)
    named = c("Nära socialtjänst är etablerad i Skäggetorp.", 0.91, 3, form=True)
    far = c("Verksamheten startade i Berga.", 0.89, 5, form=True)
    got = fitting_first([plan, named, far], "name", 0.03)
    assert [x.text for x in got] == [named.text, plan.text, far.text]
    assert got[0].score == plan.score  # the confidence is the best sentence's
    for form in ("amount", "time"):
        assert fitting_first([plan, named], form, 0.03)[0].text == named.text
    # not for other forms, not when the best has the kind asked for, not beyond the margin
    assert fitting_first([plan, named, far], "cause", 0.03) == [plan, named, far]
    assert fitting_first([plan, named, far], "yesno", 0.03) == [plan, named, far]
    assert fitting_first([named, plan], "name", 0.03) == [named, plan]
    assert fitting_first([plan, far], "name", 0.03) == [plan, far]
    assert fitting_first([], "name", 0.03) == []


def test_leans_back_knows_sentences_that_point_to_the_one_before():
    assert leans_back("Det beror på omställningsarbetet för Framtidens vård i hemmet.")
    assert leans_back("Det är den främsta förklaringen till underskottet inom HSL.")
    assert leans_back("Detta är ett trendbrott.")
    assert leans_back("Bakgrunden är ett försämrat säkerhetsläge nationellt.")
    assert not leans_back("Det finns 62 platser på boendet.")  # "det" as a dummy subject
    assert not leans_back("Det försämrade resultatet beror främst på kostnader.")  # "det" as an article
    assert not leans_back("Orsaken till överskottet är tomträttsförsäljningar.")  # says of what


def test_a_quote_that_points_back_starts_at_the_sentence_before_it():
    text = "Analysen visar att debiterbar tid är 15-20 %.\nDet är den främsta förklaringen till underskottet."
    chunk = Chunk("d:0", "d", 0, 100, 100 + len(text), text, "Ekonomi", None, None, 10, 11)
    hit = Hit(1, 1.0, "d", "Rapport 2023", 2023, "Leanlink", "verksamhetsberättelse", None, 10, 11, "Ekonomi",
              chunk.start, chunk.end, text, "Rapport 2023, rad 10–11", chunk_id="d:0")
    first = Sentence("d:0", 100, 100 + text.index("\n"), "text", line_start=10, line_end=10)
    second = Sentence("d:0", 100 + text.index("Det"), 100 + len(text), "text", line_start=11, line_end=11)
    c = Candidate(second, "Det är den främsta förklaringen till underskottet.", 1, 1, 0.9, 0.5, True, 0.95, first)
    q = quote(c, hit, chunk)
    assert q.sentence == "Analysen visar att debiterbar tid är 15-20 %. Det är den främsta förklaringen till underskottet."
    assert (q.start, q.end) == (first.start, second.end) and q.where == "rad 10–11"
    assert quote(c, hit, chunk, self_contained=False).sentence == c.text
    assert quote(dataclasses.replace(c, before=None), hit, chunk).start == second.start  # nothing before it in the passage
    # the sentence before, quoted on its own as well, is not repeated: the longer quote takes its place
    alone = quote(Candidate(first, "Analysen visar att debiterbar tid är 15-20 %.", 1, 0, 0.9, 0.5, False, 0.96), hit, chunk)
    assert without_repeats([alone, q]) == (q,)
    assert without_repeats([q, alone]) == (q,)


class TwoPassages:
    """An index of one report in two passages, the second opening with a sentence that points back."""

    def __init__(self):
        self.prev_text = "Kostnaderna ökade.\nAnalysen visar att debiterbar tid är 15-20 %."
        self.text = "Det är den främsta förklaringen till underskottet.\nUnderskottet motsvarar 17 mkr."
        self.prev = Chunk("d:0", "d", 0, 100, 100 + len(self.prev_text), self.prev_text, "Ekonomi", None, None, 8, 9)
        start = self.prev.end + 2  # a blank line between the passages
        self.chunk = Chunk("d:1", "d", 1, start, start + len(self.text), self.text, "Ekonomi", None, None, 11, 12)
        self.units = {
            "d:0": [Sentence("d:0", 100, 100 + self.prev_text.index("\n"), "text", line_start=8, line_end=8),
                    Sentence("d:0", 100 + self.prev_text.index("Analysen"), self.prev.end, "text", line_start=9, line_end=9)],
            "d:1": [Sentence("d:1", start, start + self.text.index("\n"), "text", line_start=11, line_end=11),
                    Sentence("d:1", start + self.text.index("Under"), self.chunk.end, "text", line_start=12, line_end=12)],
        }

    def sentences(self, ids):
        units = [u for i in ids for u in self.units[i]]
        return units, None

    def neighbours(self, chunk_id, before, after):
        return [self.prev, self.chunk] if chunk_id == "d:1" else [self.prev]


def test_a_quote_that_points_back_at_the_start_of_its_passage_reaches_into_the_passage_before():
    index = TwoPassages()
    k = type("KB", (), {"index": index})()
    first = index.units["d:1"][0]
    c = Candidate(first, "Det är den främsta förklaringen till underskottet.", 1, 0, 0.9, 0.5, True, 0.95)
    got, prev = reach_back(k, c)
    assert prev is index.prev and got.before == index.units["d:0"][1]
    hit = Hit(1, 1.0, "d", "Rapport 2023", 2023, "Leanlink", "verksamhetsberättelse", None, 11, 12, "Ekonomi",
              index.chunk.start, index.chunk.end, index.text, "Rapport 2023, rad 11–12", chunk_id="d:1")
    q = quote(got, hit, index.chunk, True, [prev])
    assert q.sentence == "Analysen visar att debiterbar tid är 15-20 %. Det är den främsta förklaringen till underskottet."
    assert (q.start, q.end) == (got.before.start, first.end) and q.where == "rad 9–11"
    # nothing to reach for: a sentence that says what it is about, or one that does not open its passage
    plain = Candidate(index.units["d:1"][1], "Underskottet motsvarar 17 mkr.", 1, 1, 0.9, 0.5, True, 0.95)
    assert reach_back(k, plain) == (plain, None)
    not_first = dataclasses.replace(c, sentence=index.units["d:1"][1])
    assert reach_back(k, not_first) == (not_first, None)
    # the report's first passage has nothing before it
    opening = Candidate(index.units["d:0"][0], "Det beror på kostnaderna.", 1, 0, 0.9, 0.5, True, 0.95)
    assert reach_back(k, opening) == (opening, None)


def test_a_lead_in_is_a_prose_unit_that_ends_with_a_colon():
    assert lead_in(Sentence("d:0", 0, 1, "text"), "Underskottet grundar sig på följande tre delar:")
    assert lead_in(Sentence("d:0", 0, 1, "text"), "Förutsättningar för en ekonomi i balans:  ")
    assert not lead_in(Sentence("d:0", 0, 1, "text"), "Underskottet beror på personlig assistans.")
    assert not lead_in(Sentence("d:0", 0, 1, "heading"), "Ekonomi:")
    assert not lead_in(Sentence("d:0", 0, 1, "bullet"), "Mål:")


class ListIndex:
    """One report in two passages: the first ends with a lead-in, the second opens with its list."""

    def __init__(self):
        self.text0 = "Resultatet visar ett underskott.\nUnderskottet grundar sig på följande två delar:"
        self.text1 = "- Projektet Mitt Linköping som saknat finansiering\n- Ett underskott inom ekonomiservice\nKost gick bra."
        self.c0 = Chunk("d:0", "d", 0, 0, len(self.text0), self.text0, "Ekonomi", None, None, 1, 2)
        start = self.c0.end + 2
        self.c1 = Chunk("d:1", "d", 1, start, start + len(self.text1), self.text1, "Ekonomi", None, None, 4, 6)
        lines1 = self.text1.split("\n")
        a = start + len(lines1[0]) + 1
        b = a + len(lines1[1]) + 1
        self.units = {
            "d:0": [Sentence("d:0", 0, self.text0.index("\n"), "text", line_start=1, line_end=1),
                    Sentence("d:0", self.text0.index("Under"), self.c0.end, "text", line_start=2, line_end=2)],
            "d:1": [Sentence("d:1", start + 2, start + len(lines1[0]), "bullet", line_start=4, line_end=4),
                    Sentence("d:1", a + 2, a + len(lines1[1]), "bullet", line_start=5, line_end=5),
                    Sentence("d:1", b, self.c1.end, "text", line_start=6, line_end=6)],
        }
        self.vecs = {cid: np.eye(5, dtype=np.float32)[[i + 2 * (cid == "d:1") for i in range(len(u))]]
                     for cid, u in self.units.items()}

    def sentences(self, ids):
        return [u for i in ids for u in self.units[i]], np.concatenate([self.vecs[i] for i in ids])

    def neighbours(self, chunk_id, before, after):
        return [self.c0, self.c1] if chunk_id == "d:0" else [self.c1]


def test_a_lead_in_at_the_end_of_its_passage_takes_the_list_that_opens_the_next_one():
    index = ListIndex()
    k = type("KB", (), {"index": index})()
    units, vecs = index.sentences(["d:0"])
    texts = ["Resultatet visar ett underskott.", "Underskottet grundar sig på följande två delar:"]
    items, item_texts, item_vecs = list_after(k, units, texts, vecs, 1, 8)
    assert items == index.units["d:1"][:2]  # the bullets, not the prose after them
    assert item_texts == ["Projektet Mitt Linköping som saknat finansiering", "Ett underskott inom ekonomiservice"]
    assert item_vecs.shape == (2, 5) and (item_vecs == index.vecs["d:1"][:2]).all()
    assert list_after(k, units, texts, vecs, 1, 1)[0] == index.units["d:1"][:1]  # at most max_items
    assert list_after(k, units, texts, vecs, 0, 8)[0] == []  # something else follows it in its passage
    # the whole lead-in and list is quoted, across the passage break, at its lines
    c = Candidate(units[1], texts[1], 1, 1, 0.9, 0.5, True, 0.95, units[0], tuple(items))
    hit = Hit(1, 1.0, "d", "Rapport 2023", 2023, "VSS", "verksamhetsberättelse", None, 1, 2, "Ekonomi",
              index.c0.start, index.c0.end, index.text0, "Rapport 2023, rad 1–2", chunk_id="d:0")
    q = quote(c, hit, index.c0, True, [index.c1])
    assert q.sentence == ("Underskottet grundar sig på följande två delar: - Projektet Mitt Linköping som saknat "
                          "finansiering - Ett underskott inom ekonomiservice")
    assert (q.start, q.end) == (units[1].start, items[-1].end) and q.where == "rad 2–5"


def test_a_list_in_the_same_passage_stops_at_the_first_unit_that_is_not_a_bullet():
    units = [Sentence("d:0", 0, 1, "text"), Sentence("d:0", 1, 2, "bullet"), Sentence("d:0", 2, 3, "bullet"),
             Sentence("d:0", 3, 4, "text"), Sentence("d:0", 4, 5, "bullet")]
    vecs = np.eye(5, dtype=np.float32)
    texts = ["Målen är:", "ett", "två", "Sedan annat.", "tre"]
    items, item_texts, item_vecs = list_after(None, units, texts, vecs, 0, 8)
    assert items == units[1:3] and item_texts == ["ett", "två"] and len(item_vecs) == 2
    assert list_after(None, units, texts, vecs, 0, 1)[0] == units[1:2]


def test_a_lead_in_whose_list_holds_a_sentence_quoted_before_it_is_left_out():
    lead, item, other = (Sentence("d:0", i, i + 1, kind) for i, kind in enumerate(("text", "bullet", "text")))
    c_item = Candidate(item, "Måltidsservice, ca 25 000 portioner/dag.", 1, 1, 0.9, 0.5, True, 0.95)
    c_lead = Candidate(lead, "Leanlink har avtal inom följande områden:", 1, 0, 0.9, 0.5, False, 0.94, items=(item,))
    c_other = Candidate(other, "Kosten blev dyrare.", 1, 2, 0.9, 0.5, False, 0.93)
    assert without_held_items([c_item, c_lead, c_other]) == [c_item, c_other]
    assert without_held_items([c_lead, c_item, c_other]) == [c_lead, c_item, c_other]  # without_repeats drops the item


def test_a_lead_in_is_scored_as_one_unit_with_its_list(tmp_path):
    from kb.ingest.build import BuildConfig, build_index

    folder = tmp_path / "corpus"
    folder.mkdir()
    filler = "Förvaltningen har under året arbetat vidare med sitt uppdrag enligt planen. " * 10
    (folder / "vss-verksamhetsberattelse-2023.txt").write_text(
        f" Ekonomi\n{filler}\nUnderskottet grundar sig på följande två delar:\n\n"
        "- Projektet Mitt Linköping som saknat central finansiering\n"
        "- Ett underskott inom enheten ekonomiservice\n\nKost och restaurang har haft ett bra år.\n", encoding="utf-8")
    root = tmp_path / "index"
    build_index([folder], root, BuildConfig(embedder="hash:64"))
    k = kb.open_index(root)
    res = k.search("Mitt Linköping underskott", k=5)
    assert len(res.hits) >= 2  # the lead-in and its list lie in two passages
    cands = {c.text: c for c in answer(k, res, ALWAYS).candidates}
    lead = cands["Underskottet grundar sig på följande två delar:"]
    assert [u.kind for u in lead.items] == ["bullet", "bullet"]
    assert lead.items[0].chunk_id != lead.sentence.chunk_id  # the list opens the next passage
    units, vecs = k.index.sentences([lead.sentence.chunk_id, lead.items[0].chunk_id])
    v = sum(vecs[units.index(u)] for u in (lead.sentence, *lead.items))
    assert lead.dense == pytest.approx(float(v @ k.query_vector(res.info.text) / np.linalg.norm(v)), abs=1e-5)
    plain = {c.text: c for c in answer(k, res, dataclasses.replace(ALWAYS, lists=False)).candidates}
    assert plain["Underskottet grundar sig på följande två delar:"].items == ()
    assert lead.lexical > plain["Underskottet grundar sig på följande två delar:"].lexical  # the list's words count
    _, ans = ask(k, "Underskottet grundar sig på följande delar Mitt Linköping", params=dataclasses.replace(ALWAYS, max_sentences=1))
    assert ans.sentences[0].sentence.startswith("Underskottet grundar sig på följande två delar: - Projektet Mitt Linköping")
    assert ans.sentences[0].sentence.endswith("Ett underskott inom enheten ekonomiservice")


@pytest.mark.parametrize("question", ["", "   ", "varför är det så", "2023", "Hur mycket 2019?", "x " * 5000])
def test_bad_questions_get_a_clear_error(small_index, question):
    k = kb.open_index(small_index)
    with pytest.raises(QuestionError) as e:
        ask(k, question)
    assert "question" in str(e.value) and ("e.g." in str(e.value) or "at most" in str(e.value))


def test_check_question_accepts_a_topic_with_a_year():
    check_question("sjukfrånvaro 2023", ["sjukfrånvaro", "2023"])


def test_records_are_frozen_and_json_has_the_contract_fields():
    s = AnswerSentence("En mening.", 1, 0.9, "d", 3, 13, "Titel, rad 2", "d:0", "rad 2")
    a = Answer((s,), True, 0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.hit_rank = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.confident = False  # type: ignore[misc]
    assert a.to_json() == [{"sentence": "En mening.", "hit_rank": 1, "doc_id": "d", "start": 3, "end": 13,
                            "citation": "Titel, rad 2"}]


# -- answers on the small fixture index (hash embedder) -------------------------------------


def test_answer_quotes_sentences_at_their_exact_place(small_index):
    k = kb.open_index(small_index)
    res, ans = ask(k, "varför underskott inom LSS", params=ALWAYS)
    assert ans.confident and 1 <= len(ans.sentences) <= 3
    assert ans.calibrated  # a threshold the caller gives counts as calibrated, even on the hash embedder
    by_rank = {h.rank: h for h in res.hits}
    for s in ans.sentences:
        hit = by_rank[s.hit_rank]
        doc = k.document(s.doc_id)
        assert s.doc_id == hit.doc_id and hit.start <= s.start < s.end <= hit.end
        assert sentence_text(doc.text[s.start : s.end]) == s.sentence  # quoted exactly as it stands
        assert s.citation.startswith(hit.title) and s.where.startswith("rad ")
        assert s.where in s.citation
    assert "underskott" in ans.sentences[0].sentence.lower()
    scores = [c.score for c in ans.candidates]
    assert scores == sorted(scores, reverse=True)


def test_a_why_question_favours_the_sentence_that_gives_a_cause(small_index):
    k = kb.open_index(small_index)
    res = k.search("varför underskott inom LSS 2019", k=5)
    plain_params = dataclasses.replace(ALWAYS, explained=False)  # the form's weight alone
    with_form = {c.text: c.score for c in answer(k, res, plain_params).candidates}
    without = {c.text: c.score for c in answer(k, res, dataclasses.replace(plain_params, form_weight=0.0)).candidates}
    cause = "Underskottet beror på personlig assistans där ersättningen inte täcker kostnaderna."
    assert with_form[cause] - without[cause] == pytest.approx(0.03)
    plain = "Leanlink redovisar ett underskott inom LSS-verksamheten."
    assert with_form[plain] == without[plain]


def test_context_words_count_for_a_sentence_that_refers_back(small_index):
    k = kb.open_index(small_index)
    res = k.search("varför underskott inom LSS 2019", k=5)
    cause = "Underskottet beror på personlig assistans där ersättningen inte täcker kostnaderna."
    lex = {c.text: c.lexical for c in answer(k, res, ALWAYS).candidates}
    alone = {c.text: c.lexical for c in answer(k, res, dataclasses.replace(ALWAYS, context_share=0.0)).candidates}
    assert lex[cause] > alone[cause]  # "LSS" is in the sentence before it


def test_glossary_expansions_the_reports_never_use_do_not_lower_coverage(small_index):
    k = kb.open_index(small_index)
    res = k.search("underskott LSS", k=5)
    assert len(res.info.terms) > 2  # LSS brings its full form's words, which the fixture never uses
    lex = {c.text: c.lexical for c in answer(k, res, ALWAYS).candidates}
    assert lex["Leanlink redovisar ett underskott inom LSS-verksamheten."] == pytest.approx(1.0)


def test_abstains_below_the_threshold_and_says_how_sure_it_was(small_index):
    k = kb.open_index(small_index)
    res, ans = ask(k, "simhallens öppettider på lördagar", params=AnswerParams(threshold=0.99))
    assert res.hits and ans.sentences == () and not ans.confident
    assert ans.confidence < 0.99 and ans.candidates


def test_topic_words_no_report_uses_are_named_and_lower_the_confidence(small_index):
    k = kb.open_index(small_index)
    res = k.search("varför underskott inom LSS i Stockholms huvudkontor", k=5)
    terms = question_terms(k, res)
    assert terms.unknown == ("stockholms", "huvudkontor")
    assert terms.unknown_share == pytest.approx(2 / 4)  # underskott, lss, stockholms, huvudkontor
    known = question_terms(k, k.search("varför underskott inom LSS", k=5))
    assert known.unknown == () and known.unknown_share == 0.0
    ans = answer(k, res, ALWAYS)
    assert ans.unknown == terms.unknown
    assert ans.confidence == pytest.approx(ans.candidates[0].score - 0.1 * 0.5, abs=1e-4)
    free = answer(k, res, dataclasses.replace(ALWAYS, unknown_weight=0.0))
    assert free.confidence == pytest.approx(free.candidates[0].score, abs=1e-4)
    # the penalty is applied before the threshold: a best score just above it no longer answers
    edge = dataclasses.replace(ALWAYS, threshold=ans.candidates[0].score - 0.01)
    assert answer(k, res, edge).sentences == () and answer(k, res, dataclasses.replace(edge, unknown_weight=0.0)).sentences


def test_unknown_note_names_the_words_in_swedish():
    assert unknown_note(()) == ""
    assert unknown_note(("kyrka",)) == "Ordet ”kyrka” förekommer inte i rapporterna."
    assert unknown_note(("konserter", "symfoniorkestern")) == \
        "Orden ”konserter” och ”symfoniorkestern” förekommer inte i rapporterna."
    assert unknown_note(("a", "b", "c")) == "Orden ”a”, ”b” och ”c” förekommer inte i rapporterna."


def test_no_hits_means_no_answer(small_index):
    k = kb.open_index(small_index)
    res = k.search("underskott", k=5, filters=kb.Filters(years=(1999,)))
    assert not res.hits
    assert answer(k, res, ALWAYS).sentences == ()


def test_without_a_calibrated_threshold_answers_are_marked(small_index):
    k = kb.open_index(small_index)
    _, ans = ask(k, "varför underskott inom LSS")
    assert ans.confident and not ans.calibrated


def test_an_index_without_sentences_asks_for_a_rebuild(small_index):
    import shutil

    from kb.errors import IndexIncompatibleError

    gen = next(small_index.glob("gen-*"))
    shutil.rmtree(gen / "sentences")  # as an index built before sentences existed
    k = kb.open_index(small_index, verify=False)
    with pytest.raises(IndexIncompatibleError, match="kb ingest"):
        ask(k, "varför underskott inom LSS", params=ALWAYS)


# -- the commands ---------------------------------------------------------------------------


def test_kb_ask_json_contract(small_index, capsys):
    assert kb_main(["ask", "varför underskott inom LSS", "--index", str(small_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"question", "answer", "uncertain_answer", "confident", "confidence", "verdict", "hits",
                        "series"} and out["series"] == []
    assert out["question"] == "varför underskott inom LSS" and out["confident"] is True
    assert out["verdict"] == "answered" and out["uncertain_answer"] == [] and isinstance(out["confidence"], float)
    assert out["answer"] and all(set(a) == {"sentence", "hit_rank", "doc_id", "start", "end", "citation"}
                                 for a in out["answer"])
    ranks = {h["rank"] for h in out["hits"]}
    assert all(a["hit_rank"] in ranks for a in out["answer"])


def test_kb_ask_batch_one_line_per_query_in_order(small_index, tmp_path, capsys):
    q = tmp_path / "q.jsonl"
    q.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "b", "query": "varför underskott inom LSS"}, {"id": "a", "query": "2023"},
        {"id": "c", "query": "sjukfrånvaro 2019"}]) + "\n", encoding="utf-8")
    assert kb_main(["ask", "--queries", str(q), "--json", "--index", str(small_index)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["query_id"] for x in lines] == ["b", "a", "c"]
    assert {"query_id", "answer", "confident", "hits"} <= set(lines[0]) and lines[0]["answer"]
    assert lines[1]["answer"] == [] and lines[1]["confident"] is False and "year" in lines[1]["error"]
    assert lines[1]["verdict"] == "refused" and lines[0]["verdict"] == "answered"


def test_kb_ask_human_output(small_index, capsys):
    assert kb_main(["ask", "varför underskott inom LSS", "--index", str(small_index)]) == 0
    out = capsys.readouterr().out
    assert "Svar:" in out and "Källor:" in out and "[1]" in out and "rad " in out


@pytest.mark.parametrize("question", ["", "2023", "x" * 10_000])
def test_kb_ask_bad_question_is_one_error_line(small_index, capsys, question):
    assert kb_main(["ask", question, "--index", str(small_index)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kb: error: the question") and err.count("\n") == 1 and "Traceback" not in err


def vouched(k, question: str) -> list[str]:
    """The quotes kb vouches for (verdict "answered"), as kb eval --answers scores them."""
    ans = ask(k, question)[1]
    return [s.sentence for s in ans.sentences] if ans.confident else []


def load_reference_scorer():
    spec = importlib.util.spec_from_file_location("answer_score", EVAL / "answer_score.py")
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(EVAL))
    spec.loader.exec_module(mod)
    return mod


def test_answer_metrics_agree_with_the_reference_scorer():
    ref = load_reference_scorer()
    gold = load_jsonl(DEV) + load_jsonl(DEV_UNANSWERABLE)
    import random

    rng = random.Random(7)
    pool = [r["quote"] for g in gold for r in g["relevant"]]
    for _ in range(20):
        answers = {}
        for g in gold:
            n = rng.choice([0, 1, 2, 3, 4])
            sents = []
            for _ in range(n):
                q = rng.choice(pool)
                a = rng.randrange(len(q))
                sents.append(q[a : a + rng.randrange(5, 200)])
            answers[g["id"]] = sents
        assert score_answers(gold, answers) == ref.score_answers(gold, answers)


def test_kb_eval_answers_agrees_with_the_reference_scorer(small_index, tmp_path, capsys):
    gold = [
        {"id": "g1", "query": "varför underskott inom LSS", "type": "why",
         "relevant": [{"doc": "x", "quote": "Leanlink redovisar ett underskott inom LSS-verksamheten.", "grade": 2}]},
        {"id": "g2", "query": "hur hög var sjukfrånvaron", "type": "fact",
         "relevant": [{"doc": "x", "quote": "Sjukfrånvaron var 8,1 procent 2019.", "grade": 2}]},
        {"id": "u1", "query": "simhallens öppettider", "type": "unanswerable", "relevant": []},
    ]
    gf = tmp_path / "gold.jsonl"
    gf.write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in gold), encoding="utf-8")
    out = tmp_path / "answers.jsonl"
    assert kb_main(["eval", str(gf), "--answers", "--json", "--answers-out", str(out), "--index", str(small_index)]) == 0
    got = json.loads(capsys.readouterr().out)
    ref = load_reference_scorer()
    answers = {r["query_id"]: [a["sentence"] for a in r["answer"]] for r in load_jsonl(out)}
    assert got["overall"] == ref.score_answers(gold, answers)
    verdicts = {r["query_id"]: r["verdict"] for r in load_jsonl(out)}
    assert got == json.loads(json.dumps(evaluate_answers(gold, answers, verdicts)))
    assert set(got["by_type"]) == {"why", "fact", "unanswerable"}
    assert kb_main(["eval", str(gf), "--answers", "--index", str(small_index)]) == 0
    table = capsys.readouterr().out
    assert "support@1" in table and "abstain" in table and "why (1)" in table


# -- the real corpus ------------------------------------------------------------------------


@pytest.mark.slow
def test_real_mission_question_quotes_personal_assistance_first(real_index):
    k = kb.open_index(real_index)
    res, ans = ask(k, "varför underskott inom LSS 2023")
    assert ans.confident and ans.calibrated and ans.sentences
    top = ans.sentences[0]
    hit = {h.rank: h for h in res.hits}[top.hit_rank]
    assert "Kommunstyrelsen" in hit.title and hit.year == 2023
    assert "personlig assistans" in top.sentence.lower()


@pytest.mark.slow
def test_real_dev_answers_meet_the_floors(real_index):
    """Measured 1.000 / 0.900 / 0.967 / 0.900 / 1.000 (answered, support@1, support@3,
    precision@1, abstain); the floors leave one question of slack."""
    k = kb.open_index(real_index)
    gold = load_jsonl(DEV) + load_jsonl(DEV_UNANSWERABLE)
    answers = {g["id"]: vouched(k, g["query"]) for g in gold}
    m = score_answers(gold, answers)
    assert m["answered"] >= 0.966 and m["support@1"] >= 0.866 and m["support@3"] >= 0.933
    assert m["precision@1"] >= 0.866 and m["abstain"] >= 0.83


@pytest.mark.slow
def test_real_extra_answers_meet_the_floors(real_index):
    """The second question set (eval/extra/) guards against changes fitted to dev alone. Measured
    0.967 / 0.700 / 0.733 / 0.724 / 0.900 (the quotes kb vouches for); the floors leave one
    question of slack."""
    k = kb.open_index(real_index)
    gold = load_jsonl(EVAL / "extra" / "questions.jsonl") + load_jsonl(EVAL / "extra" / "unanswerable.jsonl")
    answers = {g["id"]: vouched(k, g["query"]) for g in gold}
    m = score_answers(gold, answers)
    assert m["answered"] >= 0.933 and m["support@1"] >= 0.666 and m["support@3"] >= 0.7
    assert m["precision@1"] >= 0.69 and m["abstain"] >= 0.8


@pytest.mark.slow
def test_real_unanswerable_questions_name_the_words_no_report_uses(real_index):
    k = kb.open_index(real_index)
    _, ans = ask(k, "Hur många konserter gav symfoniorkestern 2021?")
    assert not ans.confident and ans.sentences == ()
    assert ans.unknown == ("konserter", "symfoniorkestern")


def test_cli_says_plainly_when_the_reports_do_not_state_it_and_shows_the_best_passages(small_index, capsys):
    from kb.cli.ask import print_answer

    k = kb.open_index(small_index)
    res, ans = ask(k, "simhallens öppettider på lördagar", params=AnswerParams(threshold=0.99))
    assert not ans.confident
    print_answer(res, ans, 5)
    out = capsys.readouterr().out
    assert ans.verdict == "none" and ans.sentences == ()
    assert out.startswith("Rapporterna verkar inte besvara frågan. Orden ”simhallens”")
    assert "förekommer inte i rapporterna." in out.splitlines()[0]
    assert "[1] " in out and res.hits[0].citation in out  # the closest passages, with their text
    assert " ".join(res.hits[0].text.split())[:40] in " ".join(out.split())


def test_cli_marks_an_uncertain_answer_and_still_quotes_it(small_index, capsys):
    from kb.cli.ask import print_answer

    k = kb.open_index(small_index)
    res, ans = ask(k, "varför underskott inom LSS", params=AnswerParams(threshold=5.0, uncertain_threshold=-5.0))
    assert ans.verdict == "uncertain" and not ans.confident and ans.sentences
    print_answer(res, ans, 5)
    out = capsys.readouterr().out
    assert out.startswith("Svar (Osäkert – kontrollera källan):") and ans.sentences[0].sentence[:30] in " ".join(out.split())
