"""A Milvus collection the ingest must not trust (issue 25): one left half-made by a first ingest
that stopped before its manifest was saved. Against a real milvus-lite server, like test_milvus."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from milvus_server import LiteServer, milvus  # noqa: F401 (fixture)

from kb import open_index
from kb.cli import main
from kb.errors import KBError
from kb.ingest.build import BuildConfig
from kb.milvus.ingest import create_for, ingest_milvus
from kb.milvus.store import Connection, meta_put, parse_location

HASH = BuildConfig(embedder="hash:64")


def new_uri(server: LiteServer) -> str:
    return server.uri("g_" + uuid.uuid4().hex[:10])


@pytest.fixture
def corpus(small_corpus: Path) -> Path:
    return small_corpus


def half_made(uri: str) -> None:
    """What a first ingest leaves when it stops after the collections exist, before the manifest."""
    conn = Connection(parse_location(uri))
    create_for(conn, 64, 10)
    meta_put(conn, {"ingest": {"state": "writing", "build": "x"}})
    conn.close()


def test_a_half_made_collection_is_reported_and_the_next_ingest_completes_it(milvus, corpus, capsys):  # noqa: F811
    uri = new_uri(milvus)
    half_made(uri)
    for command in (["info"], ["search", "underskott"], ["ask", "varför underskott inom LSS"]):
        assert main([*command, "--index", uri]) == 2
        err = capsys.readouterr().err
        assert err.count("kb: error:") == 1 and "incomplete" in err and "kb ingest" in err and "Traceback" not in err, err
    with pytest.raises(KBError, match="incomplete"):
        open_index(uri)
    report = ingest_milvus([corpus], uri, HASH, replace=True)
    assert report.rebuilt and report.documents == 2 and not report.refused
    assert open_index(uri).search("underskott LSS").hits
    again = ingest_milvus([corpus], uri, HASH)
    assert not again.rebuilt and again.documents == 2


def test_a_collection_made_by_another_tool_is_refused_before_anything_is_created(milvus, corpus):  # noqa: F811
    from pymilvus import DataType, MilvusClient

    uri = new_uri(milvus)
    loc = parse_location(uri)
    client = MilvusClient(uri=loc.uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection(loc.collection, schema=schema)
    before = set(client.list_collections())
    with pytest.raises(KBError, match="not made by kb") as e:
        ingest_milvus([corpus], uri, HASH)
    assert "check that the server is running" not in str(e.value) and loc.collection in str(e.value)
    assert set(client.list_collections()) == before  # no side collection left behind
    client.close()


def test_a_dropped_sentence_collection_is_rebuilt_by_the_next_ingest(milvus, corpus):  # noqa: F811
    uri = new_uri(milvus)
    ingest_milvus([corpus], uri, HASH)
    conn = Connection(parse_location(uri))
    conn.drop_collection(conn.loc.side("sentences"))
    conn.close()
    report = ingest_milvus([corpus], uri, HASH)
    assert report.rebuilt and report.documents == 2
    kb = open_index(uri)
    assert kb.manifest.counts.sentences and kb.index.has_sentences
