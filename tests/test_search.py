"""Search over a tiny index (fake hash embedder): hard filters, the query-year rule, the JSON
contract of a hit, near-duplicate folding and open_index errors."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from kb import Facets, Filters, KBError, open_index
from kb.cite import location
from kb.errors import IndexCorruptError, IndexIncompatibleError, IndexMissingError
from kb.ingest.build import BuildConfig, build_index
from kb.search import SearchParams
from kb.text import query_years

KS = "kommunstyrelsen-verksamhetsberattelse-2023"
LL = "leanlink-verksamhetsberattelse-2019"
PLAN = "plan"


@pytest.fixture
def index3(small_corpus: Path, tmp_path: Path) -> Path:
    """The small corpus plus a plan without a year in its name, typed by a sidecar, that repeats
    Leanlink's LSS sentence (a near-duplicate passage)."""
    (small_corpus / "plan.txt").write_text(
        " Planens\n"
        "Leanlink redovisar ett underskott inom LSS-verksamheten. Underskottet beror på personlig\n"
        "assistans där ersättningen inte täcker kostnaderna.\n",
        encoding="utf-8",
    )
    (small_corpus / "plan.txt.meta.json").write_text(
        json.dumps({"title": "Plan 2021", "organisation": "Leanlink", "doc_type": "plan", "year": 2021}), encoding="utf-8"
    )
    root = tmp_path / "index3"
    build_index([small_corpus], root, BuildConfig(embedder="hash:64"))
    return root


def test_facets(index3):
    kb = open_index(index3)
    f = kb.facets()
    assert f.years == (2019, 2021, 2023)
    assert f.organisations == ("Kommunstyrelsen", "Leanlink")
    assert f.doc_types == ("plan", "verksamhetsberättelse")
    assert {d for d, _ in f.documents} == {KS, LL, PLAN}
    assert isinstance(f, Facets) and dict(f.documents)[LL] == kb.document(LL).meta.title
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.years = ()  # type: ignore[misc]


def test_query_info_keeps_each_term_with_its_weight(index3):
    kb = open_index(index3)
    info = kb.interpret("underskott inom LSS 2023")
    assert info.terms == tuple(kb.analyzer.query_terms(info.text))
    assert info.terms and all(isinstance(t, str) and isinstance(w, float) for t, w in info.terms)
    assert not hasattr(info, "weights")


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_filters_are_hard(index3, mode):
    kb = open_index(index3)
    q = "underskott inom LSS personlig assistans hemtjänst"
    everything = kb.search(q, k=20, mode=mode, params=SearchParams(dedupe=False))
    assert {h.doc_id for h in everything.hits} == {KS, LL, PLAN}
    cases = [
        (Filters(years=(2019,)), {LL}),
        (Filters(years=(2019, 2021)), {LL, PLAN}),
        (Filters(organisations=("Kommunstyrelsen",)), {KS}),
        (Filters(doc_types=("plan",)), {PLAN}),
        (Filters(doc_ids=(KS, PLAN)), {KS, PLAN}),
        (Filters(organisations=("Leanlink",), doc_types=("verksamhetsberättelse",)), {LL}),
    ]
    for filters, allowed in cases:
        res = kb.search(q, k=20, filters=filters, mode=mode, params=SearchParams(dedupe=False))
        got = {h.doc_id for h in res.hits}
        assert got == allowed, (filters, got)
    assert kb.search(q, filters=Filters(years=(1999,)), mode=mode).hits == ()
    assert kb.search(q, filters=Filters(years=(2019,), organisations=("Kommunstyrelsen",)), mode=mode).hits == ()


def test_year_filter_ignores_other_years_even_when_named(index3):
    kb = open_index(index3)
    res = kb.search("underskott LSS 2023", k=10, filters=Filters(years=(2019,)))
    assert res.hits and {h.year for h in res.hits} == {2019}


def test_query_years():
    assert query_years("varför underskott inom LSS 2023") == (2023,)
    assert query_years("jämför 2019 och 2023") == (2019, 2023)
    assert query_years("2023 2019 2023") == (2023, 2019)
    assert query_years("budget 2024-2025") == (2024, 2025)
    assert query_years("sjukfrånvaro (2019)") == (2019,)
    assert query_years("1990 och 2049") == (1990, 2049)
    assert query_years("1989 2050 12023 20231") == ()
    assert query_years("92,5 mnkr, 2023,5 procent, 3.2019") == ()
    assert query_years("") == ()



def test_query_years_followed_by_punctuation():
    assert query_years("åren 2019, 2020 och 2023") == (2019, 2020, 2023)
    assert query_years("budget 2024-2025, prognos") == (2024, 2025)


def test_query_year_rule_is_soft(index3):
    kb = open_index(index3)
    plain = kb.search("underskott LSS", k=5, params=SearchParams(dedupe=False))
    named = kb.search("underskott LSS 2023", k=5, params=SearchParams(dedupe=False))
    assert named.info.years == (2023,) and plain.info.years == ()
    assert plain.hits[0].doc_id != KS
    assert named.hits[0].doc_id == KS and named.hits[0].year == 2023
    # other years are still listed (soft rule), and it can be switched off
    assert {h.doc_id for h in named.hits} == {KS, LL, PLAN}
    off = kb.search("underskott LSS 2023", k=5, use_query_years=False, params=SearchParams(dedupe=False))
    boosted = next(h for h in named.hits if h.doc_id == KS)
    unboosted = next(h for h in off.hits if h.chunk_id == boosted.chunk_id)
    assert boosted.score == pytest.approx(unboosted.score * 1.5, rel=1e-4)


HIT_TYPES = {
    "rank": int, "score": float, "doc_id": str, "title": str, "year": (int, type(None)),
    "organisation": (str, type(None)), "doc_type": (str, type(None)), "page": (int, type(None)),
    "line_start": (int, type(None)), "line_end": (int, type(None)), "section": (str, type(None)),
    "start": int, "end": int, "text": str, "citation": str, "page_end": (int, type(None)),
}


def test_json_contract(index3):
    kb = open_index(index3)
    res = kb.search("underskott inom LSS", k=10)
    hits = [json.loads(json.dumps(h.to_json(), ensure_ascii=False)) for h in res.hits]
    assert hits and [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    docs = {d.doc_id: d for d in kb.documents()}
    for h in hits:
        for field, typ in HIT_TYPES.items():
            assert field in h, field
            assert isinstance(h[field], typ) and not isinstance(h[field], bool), (field, h[field])
        assert set(h) - set(HIT_TYPES) <= {"chunk_id", "also_at"}
        assert isinstance(h["chunk_id"], str) and isinstance(h["also_at"], list)
        d = docs[h["doc_id"]]
        assert d.text[h["start"] : h["end"]] == h["text"]  # text files: lines, no pages
        assert h["page"] is None and 1 <= h["line_start"] <= h["line_end"]
        assert h["title"] == d.meta.title and h["year"] == d.meta.year
        assert h["organisation"] == d.meta.organisation and h["doc_type"] == d.meta.doc_type
        assert h["title"] in h["citation"] and location(None, None, h["line_start"], h["line_end"]) in h["citation"]
        assert h["page_end"] is None
        if h["section"]:
            assert h["section"] in h["citation"]
        assert len(h["text"]) <= 1502


def test_long_text_is_cut_at_a_word(index3):
    kb = open_index(index3)
    full = kb.search("underskott LSS", k=1).hits[0]
    cut = kb.search("underskott LSS", k=1, params=SearchParams(max_text_chars=40)).hits[0]
    assert len(cut.text) <= 42 and cut.text.endswith(" …")
    assert full.text.startswith(cut.text[:-2]) and full.text[len(cut.text) - 2] == " "
    assert (cut.start, cut.end) == (full.start, full.end)


def test_near_duplicates_folded(index3):
    kb = open_index(index3)
    res = kb.search("underskott LSS personlig assistans", k=10, filters=Filters(organisations=("Leanlink",)))
    texts = [h.text for h in res.hits]
    assert sum("Underskottet beror på personlig" in t for t in texts) == 1
    folded = next(h for h in res.hits if "Underskottet beror på personlig" in h.text)
    assert len(folded.also_at) == 1 and ("Plan 2021" in folded.also_at[0] or "Verksamhetsberättelse 2019 – Leanlink" in folded.also_at[0])
    raw = kb.search("underskott LSS personlig assistans", k=10, filters=Filters(organisations=("Leanlink",)),
                    params=SearchParams(dedupe=False))
    assert sum("Underskottet beror på personlig" in h.text for h in raw.hits) == 2



def test_near_duplicates_folded_at_any_offset(small_corpus, tmp_path):
    (small_corpus / "plan.txt").write_text(
        " Plan\nLeanlink redovisar ett underskott inom LSS-verksamheten. Underskottet beror på personlig\n"
        "assistans där ersättningen inte täcker kostnaderna.\n", encoding="utf-8")
    build_index([small_corpus], tmp_path / "i", BuildConfig(embedder="hash:64"))
    res = open_index(tmp_path / "i").search("underskott LSS personlig assistans", k=10)
    assert sum("Underskottet beror på personlig" in h.text for h in res.hits) == 1


def test_k_mode_and_empty_query(small_index):
    kb = open_index(small_index)
    assert len(kb.search("underskott", k=1).hits) == 1
    with pytest.raises(KBError):
        kb.search("underskott", k=0)
    with pytest.raises(KBError, match="mode"):
        kb.search("underskott", mode="sparse")
    assert kb.search("", k=5).hits == ()
    assert kb.search("och att det", k=5, mode="bm25").hits == ()  # stop words only


def test_neighbours_and_stats(small_index):
    kb = open_index(small_index)
    first = kb.index.passages[0]
    around = kb.neighbours(first.chunk_id, before=1, after=5)
    assert around[0] == first and all(c.doc_id == first.doc_id for c in around)
    with pytest.raises(KBError):
        kb.neighbours("nope:1")
    st = kb.stats()
    assert st["documents"] == 2 and st["passages"] == len(kb.index.passages) and st["embedder"] == "hash:64"


def test_open_index_missing(tmp_path):
    with pytest.raises(IndexMissingError, match="kb ingest"):
        open_index(tmp_path / "nothing")
    assert issubclass(IndexMissingError, KBError)


def test_open_index_default_location(small_index, monkeypatch, tmp_path):
    monkeypatch.setenv("KB_INDEX", str(small_index))
    assert open_index().index.location == str(small_index)
    monkeypatch.delenv("KB_INDEX")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(IndexMissingError, match="kb ingest"):
        open_index()


def test_open_index_damaged_or_incompatible(small_index):
    gen = small_index / (small_index / "CURRENT").read_text().strip()
    data = gen / "bm25" / "data.npy"
    original = data.read_bytes()
    data.write_bytes(original[:-4] + b"\0\0\0\0")
    with pytest.raises(IndexCorruptError, match="kb ingest"):
        open_index(small_index)
    data.write_bytes(original)
    open_index(small_index)
    m = json.loads((gen / "manifest.json").read_text())
    (gen / "manifest.json").write_text(json.dumps({**m, "format_version": 99}))
    with pytest.raises(IndexIncompatibleError, match="kb ingest"):
        open_index(small_index)
    (small_index / "CURRENT").write_text("gen-missing\n")
    with pytest.raises(IndexCorruptError, match="kb ingest"):
        open_index(small_index)


def test_open_with_other_embedder_refused(small_index):
    from kb.embed import HashEmbedder

    with pytest.raises(IndexIncompatibleError, match="hash:64"):
        open_index(small_index, embedder=HashEmbedder(32))
    assert open_index(small_index, embedder=HashEmbedder(64)).embedder.model_id == "hash:64"


def test_search_is_deterministic(index3):
    a = open_index(index3).search("underskott LSS 2023", k=10)
    b = open_index(index3).search("underskott LSS 2023", k=10)
    assert [h.to_json() for h in a.hits] == [h.to_json() for h in b.hits]


def test_bm25_weight_follows_its_coverage_of_the_query(index3):
    """When BM25's best passage matches only a minor word of the query, its fusion weight shrinks
    (by coverage / bm25_min_coverage); a query it covers keeps full weight."""
    from kb import bm25

    kb = open_index(index3)
    base = SearchParams(dedupe=False, year_boost=0)
    off = SearchParams(dedupe=False, year_boost=0, bm25_min_coverage=0)

    covered = "underskottet beror på personlig assistans"
    a, b = kb.search(covered, k=10, params=base), kb.search(covered, k=10, params=off)
    info = kb.interpret(covered)
    rows, _ = bm25.top_k(bm25.scores(kb.index.bm25, info.terms), 10)
    assert bm25.coverage(kb.index.bm25, info.terms, int(rows[0])) == pytest.approx(1.0)
    assert [(h.chunk_id, h.score) for h in a.hits] == [(h.chunk_id, h.score) for h in b.hits]

    para = "hemtjänsten telefonoperatörsbyten mobilabonnemangsbytet"
    info = kb.interpret(para)
    rows, _ = bm25.top_k(bm25.scores(kb.index.bm25, info.terms), 10)
    cov = bm25.coverage(kb.index.bm25, info.terms, int(rows[0]))
    assert 0 < cov < 0.5
    top_bm25 = kb.index.passages[int(rows[0])].chunk_id
    on_score = next(h.score for h in kb.search(para, k=10, params=base).hits if h.chunk_id == top_bm25)
    off_score = next(h.score for h in kb.search(para, k=10, params=off).hits if h.chunk_id == top_bm25)
    assert off_score - on_score == pytest.approx((1 - cov / 0.5) / (base.rrf_k + 1), abs=2e-6)


def test_long_question_is_cut_with_a_note(small_index):
    from kb.search import MAX_QUERY_CHARS

    kb = open_index(small_index)
    long_q = "underskott inom LSS " + "x" * 20_000
    res = kb.search(long_q, k=3)
    assert res.info.truncated and len(res.info.text) == MAX_QUERY_CHARS and res.query == long_q
    assert any(str(MAX_QUERY_CHARS) in n for n in res.notes) and res.hits
    short = kb.search("underskott inom LSS", k=3)
    assert not short.info.truncated and not short.notes
