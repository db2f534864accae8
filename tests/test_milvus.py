"""kb on Milvus, against a real server process (``milvus-lite server`` on 127.0.0.1, started here).

Without milvus-lite these tests FAIL with the install command: they never skip.
Small corpora and the ``hash:64`` embedder; the dev-set parity with the real embedder is in
``test_milvus_parity.py`` (slow).
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, SMALL_DOCS
from milvus_server import LiteServer, free_port, milvus  # noqa: F401 (fixture)

from kb import open_index, sparse
from kb.embed import get_embedder
from kb.errors import IndexIncompatibleError, KBError
from kb.ingest.build import BuildConfig, build_index
from kb.milvus.index import MilvusIndex
from kb.milvus.ingest import ingest_milvus
from kb.milvus.store import MilvusLocation, filter_expr, meta_get, meta_put, parse_location
from kb.records import Filters

HASH = BuildConfig(embedder="hash:64")
MORE_DOCS = {
    "leanlink-budget-2024.txt": (
        " Budget\n"
        "Leanlink budgeterar för ett nollresultat 2024. Hemtjänsten ska minska sjukfrånvaron och\n"
        "kostnaderna för personlig assistans inom LSS.\n\n"
        " Investeringar\n"
        "Nya gruppbostäder planeras. Investeringarna uppgår till 12 mnkr.\n"
    ),
    "kultur-verksamhetsberattelse-2023.md": (
        "# Kultur\n\nBiblioteken hade fler besökare 2023. Kulturhuset har renoverats.\n\n"
        "# Ekonomi\n\nNämnden redovisar ett litet underskott på 1,2 mnkr.\n"
    ),
}
QUERIES = ["varför underskott inom LSS 2023", "hur hög var sjukfrånvaron", "hemtjänst brukare kostnader",
           "gruppbostäder investeringar", "bibliotek besökare", "lag om stöd och service"]


def write_corpus(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def new_uri(server: LiteServer) -> str:
    return server.uri("t_" + uuid.uuid4().hex[:10])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", {**SMALL_DOCS, **MORE_DOCS})


def passage_ids(ix: MilvusIndex) -> list[str]:
    rows = ix.conn.query(ix.loc.collection, filter="", output_fields=["chunk_id"], limit=16384)
    return sorted(r["chunk_id"] for r in rows)


def assert_same_ranking(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """Same passages, same scores (to 1e-5), same order up to the order of exactly tied scores."""
    def canonical(pairs):
        return sorted(pairs, key=lambda p: (-round(p[1], 4), p[0]))

    assert [c for c, _ in canonical(got)] == [c for c, _ in canonical(want)]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5, abs=1e-5)


def folder_and_milvus(corpus: Path, tmp_path: Path, server: LiteServer):
    """The folder index (kb.local.LocalIndex) and the Milvus index of the same corpus."""
    build_index([corpus], tmp_path / "index", HASH)
    uri = new_uri(server)
    ingest_milvus([corpus], uri, HASH)
    return open_index(tmp_path / "index").index, MilvusIndex(uri)


FILTERS = (Filters(), Filters(years=(2023,)), Filters(organisations=("Leanlink",)), Filters(doc_types=("budget",)),
           Filters(doc_ids=("leanlink-budget-2024",)), Filters(years=(2019, 2024), organisations=("Leanlink",)))


def test_bm25_dense_and_filters_through_the_server_equal_the_folder_index(milvus, corpus, tmp_path):
    local, ix = folder_and_milvus(corpus, tmp_path, milvus)
    assert passage_ids(ix) == sorted(local.ids)
    assert ix.manifest.counts == local.manifest.counts
    assert list(ix.manifest.documents) == [{k: d[k] for k in ix.manifest.documents[0]} for d in local.manifest.documents]
    assert list(ix.heads()) == list(local.heads())
    emb = get_embedder("hash:64")
    compared = 0
    for q in QUERIES:
        terms = ix.analyzer.query_terms(q)
        assert terms == local.analyzer.query_terms(q)  # same lexicon, same analysis
        for f in FILTERS:
            want = local.lexical(terms, 1000, f)  # every passage with a positive BM25 score
            assert_same_ranking(ix.lexical(terms, 1000, f), want)  # kb's BM25 to 1e-5, through the server
            assert_same_ranking(ix.dense(emb.embed_query(q), 5, f), local.dense(emb.embed_query(q), 5, f))
            compared += len(want)
        for cid, _ in local.lexical(terms, 1000, Filters()):
            assert ix.coverage(terms, cid) == pytest.approx(local.coverage(terms, cid), abs=1e-9)
    assert compared >= 30
    for f in FILTERS[1:]:  # every passage that passes the filter, and only those
        got = ix.dense(emb.embed_query("ekonomi"), 100, f)
        assert got and sorted(c for c, _ in got) == sorted(c for c, _ in local.dense(emb.embed_query("ekonomi"), 100, f))


def test_passages_neighbours_documents(milvus, corpus, tmp_path):
    local, ix = folder_and_milvus(corpus, tmp_path, milvus)
    ids = list(local.ids)
    assert ix.chunks(ids[::-1]) == local.chunks(ids[::-1])
    for cid in ids:
        for before, after in ((1, 1), (0, 0), (2, 3)):
            assert ix.neighbours(cid, before, after) == local.neighbours(cid, before, after)
    for h in local.heads():
        assert ix.document(h.doc_id) == local.document(h.doc_id)
    with pytest.raises(KBError, match="no passage"):
        ix.chunks(["nope:0"])
    with pytest.raises(KBError, match="no document"):
        ix.document("nope")


def test_unchanged_reingest_is_a_noop_and_changes_are_incremental(milvus, corpus, tmp_path):
    uri = new_uri(milvus)
    first = ingest_milvus([corpus], uri, HASH)
    assert first.rebuilt and len(first.added) == 4
    again = ingest_milvus([corpus], uri, HASH)
    assert not again.rebuilt and len(again.unchanged) == 4 and again.embedded == 0
    # change one, remove one, add one
    (corpus / "leanlink-budget-2024.txt").write_text(MORE_DOCS["leanlink-budget-2024.txt"] + "\n Personal\nFler anställda inom hemtjänsten.\n", encoding="utf-8")
    (corpus / "kultur-verksamhetsberattelse-2023.md").unlink()
    write_corpus(corpus, {"ny-rapport-2022.txt": " Miljö\nUtsläppen minskade 2022 inom kommunens verksamheter.\n"})
    rep = ingest_milvus([corpus], uri, HASH, reweight_tolerance=0.0)
    assert (len(rep.added), len(rep.updated), len(rep.removed), len(rep.unchanged)) == (1, 1, 1, 2)
    clean = new_uri(milvus)
    ingest_milvus([corpus], clean, HASH)
    a, b = MilvusIndex(uri), MilvusIndex(clean)
    assert passage_ids(a) == passage_ids(b)
    assert a.manifest.counts == b.manifest.counts
    assert [h.doc_id for h in a.heads()] == [h.doc_id for h in b.heads()]
    for q in QUERIES:  # re-weighted with tolerance 0: the same BM25 scores as a clean build
        terms = b.analyzer.query_terms(q)
        assert_same_ranking(a.lexical(terms, 50, Filters()), b.lexical(terms, 50, Filters()))


def run_kb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kb.cli", *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env=kb_env(env))


def kb_env(extra: dict | None = None) -> dict:
    """The environment of a `kb` subprocess: this checkout's kb first on the path."""
    import os

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def test_killed_server_mid_ingest_then_rerun_equals_a_clean_build(tmp_path, corpus):
    server = LiteServer(tmp_path / "crash.db").start()
    try:
        uri = server.uri("crash")
        seen = []

        def progress(stage, done, total):
            seen.append((stage, done))
            if stage == "write" and done >= 3:
                server.kill()

        with pytest.raises(KBError, match=server.address):
            ingest_milvus([corpus], uri, HASH, progress=progress)
        assert ("write", 3) in [(s, min(d, 3)) for s, d in seen]
        server.start()
        r = run_kb("ingest", str(corpus), "--index", uri, "--embedder", "hash:64", "--json")
        assert r.returncode == 0, r.stderr
        clean = server.uri("clean")
        ingest_milvus([corpus], clean, HASH)
        a, b = MilvusIndex(uri), MilvusIndex(clean)
        assert passage_ids(a) == passage_ids(b)
        assert a.manifest.counts == b.manifest.counts
        assert meta_get(a.conn, "stats") == meta_get(b.conn, "stats")
        assert sentence_keys(a) == sentence_keys(b) and a.sentences(passage_ids(b))[0] == b.sentences(passage_ids(b))[0]
        for q in QUERIES:
            terms = b.analyzer.query_terms(q)
            assert_same_ranking(a.lexical(terms, 50, Filters()), b.lexical(terms, 50, Filters()))
    finally:
        server.stop()


def test_search_during_an_ingest_never_fails(milvus, corpus, tmp_path):
    uri = new_uri(milvus)
    ingest_milvus([corpus], uri, HASH)
    ix = MilvusIndex(uri)
    for i in range(6):  # the next ingest replaces and adds documents
        write_corpus(corpus, {f"extra-{i}-2021.txt": f" Ekonomi\nUnderskott inom hemtjänst {i} mnkr 2021.\n" * 40})
    (corpus / "leanlink-budget-2024.txt").write_text(MORE_DOCS["leanlink-budget-2024.txt"] * 3, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "ingest", str(corpus), "--index", uri, "--embedder",
                             "hash:64", "--quiet"], cwd=ROOT, env=kb_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    emb = get_embedder("hash:64")
    searches = during = 0
    while proc.poll() is None or searches < 5:
        during += proc.poll() is None
        for q in QUERIES:
            terms = ix.analyzer.query_terms(q)
            hits = ix.lexical(terms, 20, Filters()) + ix.dense(emb.embed_query(q), 20, Filters())
            ix.chunks([c for c, _ in hits])
            if hits:
                ix.coverage(terms, hits[0][0])
            searches += 1
    assert proc.wait() == 0, proc.stderr.read()
    assert searches >= 5 and during >= 1
    assert len(MilvusIndex(uri).heads()) == 10


@pytest.mark.parametrize("text", ["milvus://", "milvus://host/coll", "milvus://host:port/coll", "milvus://h:1/a/b",
                                  "milvus://h:99999/coll", "milvus//h:1/c"])
def test_malformed_address(text):
    with pytest.raises(KBError, match="malformed Milvus address"):
        parse_location(text)


@pytest.mark.parametrize("name", ["1abc", "a-b", "a__b", "", "å", "x" * 249])
def test_collection_name_milvus_rejects(name):
    with pytest.raises(KBError, match="cannot use the collection name"):
        parse_location(f"milvus://127.0.0.1:19530/{name}")


def test_address_parts_and_filter_expression():
    loc = parse_location("milvus://db.example.org:19530/kb_region")
    assert loc == MilvusLocation("db.example.org", 19530, "kb_region")
    assert str(loc) == "milvus://db.example.org:19530/kb_region" and loc.side("docs") == "kb_region__docs"
    f = Filters(years=(2023, 2024), organisations=('Leanlink "AB"',), doc_types=("budget",), doc_ids=("a",))
    assert filter_expr(f) == ('year in [2023, 2024] and organisation in ["Leanlink \\"AB\\""] and '
                              'doc_type in ["budget"] and doc_id in ["a"]')
    assert filter_expr(Filters()) == ""


def test_other_embedder_or_format_is_refused_like_the_folder_index(milvus, corpus, tmp_path):
    from kb import store

    uri = new_uri(milvus)
    ingest_milvus([corpus], uri, HASH)
    with pytest.raises(IndexIncompatibleError) as mine:
        ingest_milvus([corpus], uri, BuildConfig(embedder="hash:32"))
    with pytest.raises(IndexIncompatibleError) as folder:
        store.check_embedder(store.Manifest.from_json({"embedder": {"id": "hash:64"}}), "hash:32", Path("X"))
    assert str(mine.value) == str(folder.value).replace("X", uri)
    ix = MilvusIndex(uri)
    meta_put(ix.conn, {"manifest": dict(meta_get(ix.conn, "manifest"), format_version=99)})
    with pytest.raises(IndexIncompatibleError) as mine:
        MilvusIndex(uri)
    (tmp_path / "idx").mkdir()
    build_index([corpus], tmp_path / "idx", HASH)
    gen = store.current_generation(tmp_path / "idx")
    m = store.read_manifest_json(gen)
    m["format_version"] = 99
    m.pop(store.SELF_CHECKSUM)
    (gen / store.MANIFEST).write_text(__import__("json").dumps(m), encoding="utf-8")
    with pytest.raises(IndexIncompatibleError) as folder:
        store.open_generation(tmp_path / "idx")
    assert str(mine.value) == str(folder.value).replace(str(tmp_path / "idx"), uri)


def test_unreachable_server_is_one_error_line_naming_the_address(corpus):
    port = free_port()
    for args in (["search", "underskott"], ["info"], ["ingest", str(corpus), "--embedder", "hash:64"]):
        r = run_kb(*args, "--index", f"milvus://127.0.0.1:{port}/kb")
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kb: error:") and f"127.0.0.1:{port}" in lines[0], r.stderr
    r = run_kb("info", env={"KB_INDEX": f"milvus://127.0.0.1:{port}/kb"})
    assert r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr


def test_empty_passage_gets_a_placeholder_dimension():
    assert sparse.doc_vector([], {}, 10.0) == {sparse.EMPTY: 1.0}


def cli_json(capsys, *args: str):
    from kb.cli import main

    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_contract_is_the_same_on_milvus(milvus, corpus, tmp_path, capsys, monkeypatch):
    folder, uri = str(tmp_path / "index"), new_uri(milvus)
    for index in (folder, uri):
        report = cli_json(capsys, "ingest", str(corpus), "--index", index, "--embedder", "hash:64", "--json")
        assert report["documents"] == 4 and report["rebuilt"]
    for q in QUERIES[:4]:
        for extra in ([], ["--year", "2023"], ["--org", "Leanlink", "--mode", "bm25"]):
            a = cli_json(capsys, "search", q, "--json", "--index", folder, *extra)
            b = cli_json(capsys, "search", q, "--json", "--index", uri, *extra)
            assert a == b and (a["hits"] or extra), (q, extra)
    a = cli_json(capsys, "ask", QUERIES[0], "--json", "--index", folder)
    b = cli_json(capsys, "ask", QUERIES[0], "--json", "--index", uri)
    assert a == b and a["hits"]
    monkeypatch.setenv("KB_INDEX", uri)
    info = cli_json(capsys, "info", "--json")
    assert info["index"] == uri and info["documents"] == 4 and info["vector_index"] == "milvus FLAT"
    local = cli_json(capsys, "info", "--json", "--index", folder)
    assert (info["documents"], info["passages"], info["embedder"]) == (local["documents"], local["passages"], local["embedder"])
    assert [d["doc_id"] for d in info["documents_list"]] == [d["doc_id"] for d in local["documents_list"]]


def test_ui_on_milvus_shows_the_same_hits(milvus, corpus, tmp_path, monkeypatch):
    import html

    from streamlit.testing.v1 import AppTest

    folder, uri = tmp_path / "index", new_uri(milvus)
    build_index([corpus], folder, HASH)
    ingest_milvus([corpus], uri, HASH)
    shown = []
    for index in (str(folder), uri):
        monkeypatch.setenv("KB_INDEX", index)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.run()
        assert not at.exception, at.exception
        at.text_input(key="q").set_value(QUERIES[0]).run()
        assert not at.exception, at.exception
        shown.append([html.unescape(h.value) for h in at.get("html") if "class='kb-cite'" in h.value])
    assert shown[0] and shown[0] == shown[1]


def test_bm25_weights_are_rewritten_when_the_mean_length_drifts(milvus, corpus, tmp_path):
    uri = new_uri(milvus)
    ingest_milvus([corpus], uri, HASH)
    before = MilvusIndex(uri)
    old = {r["chunk_id"]: r["avgdl"] for r in before.conn.query(before.loc.collection, filter="", output_fields=["avgdl"], limit=1000)}
    assert len(set(old.values())) == 1
    # one long report: the mean passage length grows far beyond the 2 % tolerance
    long_text = " Ekonomi\n" + "Kostnaderna för hemtjänsten och personlig assistans ökade kraftigt under året. " * 12 + "\n"
    write_corpus(corpus, {"lang-rapport-2022.txt": long_text * 3})
    ingest_milvus([corpus], uri, HASH)
    after = MilvusIndex(uri)
    stats = meta_get(after.conn, "stats")
    avgdl = stats["total_len"] / stats["n"]
    assert abs(avgdl / next(iter(old.values())) - 1) > 0.02
    rows = after.conn.query(after.loc.collection, filter="", output_fields=["avgdl"], limit=1000)
    assert rows and all(r["avgdl"] == pytest.approx(avgdl, rel=0.02) for r in rows)
    clean = new_uri(milvus)
    ingest_milvus([corpus], clean, HASH)
    b = MilvusIndex(clean)
    for q in QUERIES:
        terms = b.analyzer.query_terms(q)
        assert_same_ranking(after.lexical(terms, 50, Filters()), b.lexical(terms, 50, Filters()))


def test_a_careless_ingest_is_refused_as_for_a_folder(milvus, corpus, tmp_path):
    uri = new_uri(milvus)
    ingest_milvus([corpus], uri, HASH)
    with pytest.raises(KBError, match="not under the given paths"):
        ingest_milvus([corpus / "leanlink-budget-2024.txt"], uri, HASH)
    for f in list(corpus.iterdir()):  # every report deleted from the folder
        f.unlink()
    rep = ingest_milvus([corpus], uri, HASH)
    assert rep.refused and "every document (4)" in rep.refused and rep.documents == 4
    assert len(MilvusIndex(uri).heads()) == 4
    rep = ingest_milvus([corpus], uri, HASH, replace=True)
    assert rep.documents == 0 and len(rep.removed) == 4 and not MilvusIndex(uri).heads()


def sentence_keys(ix: MilvusIndex) -> list[tuple[str, str]]:
    rows = ix.conn.query(ix.loc.side("sentences"), filter="", output_fields=["chunk_id", "version"], limit=16384)
    return sorted((r["key"], r["chunk_id"]) for r in rows)


def test_sentences_and_idf_equal_the_folder_index(milvus, corpus, tmp_path):
    import numpy as np

    local, ix = folder_and_milvus(corpus, tmp_path, milvus)
    ids = list(local.ids)
    for some in (ids, ids[::-1], ids[:3] + ids[:1], []):
        want, wvec = local.sentences(some)
        got, gvec = ix.sentences(some)
        assert got == want and gvec.dtype == np.float32 and gvec.shape == wvec.shape
        assert np.allclose(gvec, wvec, atol=1e-6)
    assert len(local.sentences(ids)[0]) >= 20 and {s.kind for s in local.sentences(ids)[0]} >= {"text", "heading"}
    assert ix.manifest.counts.sentences == len(local.sentences(ids)[0])
    with pytest.raises(KBError, match="no passage"):
        ix.sentences(["nope:0"])
    terms = sorted({t for q in QUERIES for t, _ in local.analyzer.query_terms(q)}) + ["finnsinte", "hemtjänst"]
    assert ix.idf(terms) == pytest.approx(local.idf(terms), abs=1e-9)
    assert ix.idf(["finnsinte"])[0] == max(ix.idf(terms)) and ix.idf([]) == []


def test_ask_json_on_milvus_equals_the_folder_index(milvus, corpus, tmp_path, capsys):
    folder, uri = str(tmp_path / "index"), new_uri(milvus)
    build_index([corpus], Path(folder), HASH)
    ingest_milvus([corpus], uri, HASH)
    questions = ["Varför gick Leanlink med underskott 2023?", "Hur mycket uppgår investeringarna till?",
                 "Hade biblioteken fler besökare 2023?", "hur hög var sjukfrånvaron"]
    answered = 0
    for q in questions:
        a = cli_json(capsys, "ask", q, "--json", "--index", folder)
        b = cli_json(capsys, "ask", q, "--json", "--index", uri)
        assert a == b and a["hits"], q
        answered += bool(a["answer"])
    assert answered >= 1
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"id": str(i), "query": q}) + "\n" for i, q in enumerate(questions)), encoding="utf-8")
    from kb.cli import main

    outs = []
    for index in (folder, uri):
        assert main(["ask", "--queries", str(qfile), "--json", "--index", index]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and len(outs[0].splitlines()) == len(questions)


def test_replace_and_remove_leave_no_orphan_sentences(milvus, corpus, tmp_path):
    uri = new_uri(milvus)
    ingest_milvus([corpus], uri, HASH)
    (corpus / "leanlink-budget-2024.txt").write_text(" Budget\nEn kortare budget för 2024.\n", encoding="utf-8")
    (corpus / "kultur-verksamhetsberattelse-2023.md").unlink()
    ingest_milvus([corpus], uri, HASH)
    clean = new_uri(milvus)
    ingest_milvus([corpus], clean, HASH)
    a, b = MilvusIndex(uri), MilvusIndex(clean)
    assert sentence_keys(a) == sentence_keys(b) and sentence_keys(a)
    assert not [k for k, _ in sentence_keys(a) if k.startswith("kultur")]
    ids = passage_ids(b)
    assert a.sentences(ids)[0] == b.sentences(ids)[0]
    assert a.manifest.counts == b.manifest.counts
    rep = ingest_milvus([corpus], uri, HASH, replace=True)
    assert rep.embedded == 0 and not rep.rebuilt


def test_a_collection_without_sentences_is_refused_for_answers_then_rebuilt(milvus, corpus, tmp_path):
    uri = new_uri(milvus)
    ingest_milvus([corpus], uri, HASH)
    ix = MilvusIndex(uri)
    old = {k: v for k, v in meta_get(ix.conn, "manifest").items() if k != "layout"}  # as written by layout 1
    meta_put(ix.conn, {"manifest": old})
    ix.conn.drop_collection(ix.loc.side("sentences"))
    stale = MilvusIndex(uri)
    assert stale.lexical(stale.analyzer.query_terms(QUERIES[0]), 10, Filters())  # search still works
    with pytest.raises(IndexIncompatibleError) as mine:
        stale.sentences(passage_ids(stale)[:1])
    build_index([corpus], tmp_path / "idx", HASH)
    local = open_index(tmp_path / "idx").index
    local._sentences = None  # a folder generation written before sentences existed
    with pytest.raises(IndexIncompatibleError) as folder:
        local.sentences(["x:0"])
    assert str(mine.value) == str(folder.value).replace(str(tmp_path / "idx"), uri)
    rep = ingest_milvus([corpus], uri, HASH)
    assert rep.rebuilt and len(rep.updated) == 4
    clean = new_uri(milvus)
    ingest_milvus([corpus], clean, HASH)
    a, b = MilvusIndex(uri), MilvusIndex(clean)
    assert sentence_keys(a) == sentence_keys(b)
    assert a.sentences(passage_ids(b))[0] == b.sentences(passage_ids(b))[0]
