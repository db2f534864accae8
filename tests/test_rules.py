"""The search's ranking rules and citations as pure functions, without an index."""
from __future__ import annotations

import pytest

from kb import rules
from kb.cite import format_citation, location, make_hit, shown_text
from kb.fuse import ranked
from kb.records import Chunk, DocMeta, chunk_order


def chunk(cid: str, text: str = "x", page=None, page_end=None, line_start=None, line_end=None, section=None) -> Chunk:
    doc_id, ordinal = chunk_order(cid)
    return Chunk(cid, doc_id, ordinal, 0, len(text), text, section, page, page_end, line_start, line_end)


def test_coverage_weight():
    assert rules.coverage_weight(1.0, 0.25, 0.5) == pytest.approx(0.5)
    assert rules.coverage_weight(2.0, 0.9, 0.5) == 2.0  # never above the weight
    assert rules.coverage_weight(1.0, 0.0, 0.5) == 0.0
    assert rules.coverage_weight(1.0, 0.1, 0) == 1.0  # 0 turns the rule off


def test_year_rule_boosts_reports_about_the_year_and_mentions_of_it():
    scores = {"a:0": 1.0, "b:0": 1.0, "c:0": 1.0, "d:0": 1.0}
    year_of = {"a:0": 2023, "b:0": 2019, "c:0": None, "d:0": 2021}
    text_of = {"a:0": "text", "b:0": "jämfört med 2023", "c:0": "inget år", "d:0": "år 2019"}
    out = rules.year_rule(scores, (2023,), 0.5, year_of, text_of)
    assert out == {"a:0": 1.5, "b:0": 1.25, "c:0": 1.0, "d:0": 1.0}
    both = rules.year_rule(scores, (2019, 2023), 0.5, year_of, text_of)
    assert both["a:0"] == both["b:0"] == 1.5 and both["d:0"] == 1.25  # several years: all favoured
    assert scores["a:0"] == 1.0  # pure: the input is unchanged


def test_fold_duplicates_keeps_the_better_and_lists_the_others():
    texts = {
        "a:0": "Underskottet inom LSS beror på personlig assistans och gruppbostäder.",
        "b:3": "Underskottet inom LSS beror på personlig assistans och gruppbostäder!",
        "c:1": "Hemtjänsten har fått fler brukare och kostnaderna ökar.",
        "d:2": "Sjukfrånvaron minskade under året.",
    }
    ordered = [("a:0", 0.9), ("c:1", 0.8), ("b:3", 0.7), ("d:2", 0.6)]
    kept = rules.fold_duplicates(ordered, 3, lambda c: rules.shingles(texts[c]), 0.8)
    assert [(c, s) for c, s, _ in kept] == [("a:0", 0.9), ("c:1", 0.8), ("d:2", 0.6)]
    assert kept[0][2] == ["b:3"] and kept[1][2] == [] and kept[2][2] == []
    assert len(rules.fold_duplicates(ordered, 1, lambda c: rules.shingles(texts[c]), 0.8)) == 1


def test_near_duplicate_threshold_and_empty():
    a, b = rules.shingles("alfa beta gamma delta"), rules.shingles("alfa beta gamma delta epsilon zeta")
    assert rules.near_duplicate(a, b, 0.8) and not rules.near_duplicate(a, frozenset(), 0.8)
    assert not rules.near_duplicate(a, rules.shingles("helt annan text om budget"), 0.8)


def test_ties_follow_the_index_order_of_passages():
    # equal scores: documents by id, passages by ordinal (not by the text of the id: "d:10" after "d:9")
    assert [c for c, _ in ranked({"d:10": 1.0, "d:9": 1.0, "c:2": 1.0, "x:0": 2.0}, order=chunk_order)] == [
        "x:0", "c:2", "d:9", "d:10"]
    assert chunk_order("leanlink-2019:12") == ("leanlink-2019", 12)


def test_location_one_format_for_pages_and_lines():
    assert location(3, 3, None, None) == "s. 3" and location(3, None, None, None) == "s. 3"
    assert location(3, 4, None, None) == "s. 3–4"
    assert location(None, None, 5, 5) == "rad 5" and location(None, None, 5, 9) == "rad 5–9"
    assert location(None, None, None, None) == ""


def test_citation_and_hit():
    meta = DocMeta("Verksamhetsberättelse 2023 – Kommunstyrelsen", "Kommunstyrelsen", "verksamhetsberättelse", 2023)
    c = chunk("ks-2023:4", "Underskottet beror på personlig assistans.", line_start=10, line_end=12, section="LSS")
    assert format_citation(meta, c) == "Verksamhetsberättelse 2023 – Kommunstyrelsen, rad 10–12, avsnitt ”LSS”"
    other = DocMeta("Plan", "Leanlink", "plan", 2021)
    assert format_citation(other, chunk("p:0", page=2, page_end=3)) == "Plan, Leanlink, 2021, s. 2–3"
    hit = make_hit(1, 0.1234567, chunk("p:0", "ord " * 10, page=2, page_end=3), "p", other, 12, ("annan",))
    assert hit.score == 0.123457 and hit.page == 2 and hit.page_end == 3 and hit.also_at == ("annan",)
    assert hit.text == "ord ord ord …" and hit.citation.endswith("s. 2–3")
    assert shown_text("kort", 100) == "kort"


def test_year_quota_brings_each_named_years_best_passage_into_the_top():
    from kb.rules import evidence_years, year_quota

    ordered = [("a", 9.0), ("b", 8.0), ("c", 7.0), ("d", 6.0), ("e", 5.0), ("f", 4.0), ("g", 3.0)]
    ys = {"a": {2023}, "b": {2023}, "c": set(), "d": {2023}, "e": set(), "f": {2021}, "g": {2021, 2022}}
    got = year_quota(ordered, (2021, 2022, 2023), lambda i: ys[i], k=5)
    top = [i for i, _ in got[:5]]
    assert "f" in top and "g" in top and "a" in top  # 2021's and 2022's best passages moved in; 2023 kept
    assert sorted(got) == sorted(ordered)  # nothing lost, scores kept
    assert [i for i, _ in got[:3]] == ["a", "b", "d"]  # the passages moved out are those of no named year
    assert year_quota(ordered, (2023,), lambda i: ys[i], k=5) == ordered  # one year: unchanged
    assert year_quota(ordered, (2019, 2020), lambda i: ys[i], k=5) == ordered  # no evidence: unchanged
    assert evidence_years(2019, "Personal 2020 2021") == {2019, 2020, 2021}


def test_promote_moves_wanted_passages_into_the_top_in_rank_order():
    from kb.rules import promote

    ordered = [("a", 5.0), ("b", 4.0), ("c", 3.0), ("d", 2.0), ("e", 1.0)]
    assert [i for i, _ in promote(ordered, ["e"], 3)] == ["a", "b", "e", "c", "d"]
    assert [i for i, _ in promote(ordered, ["b", "x"], 3)] == ["a", "b", "c", "d", "e"]  # already in; unknown ids ignored
    assert sorted(promote(ordered, ["d", "e"], 3)) == sorted(ordered)
