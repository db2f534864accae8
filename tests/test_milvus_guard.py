"""A Milvus collection the ingest must not trust (issue 25): one left half-made by a first ingest
that stopped before its manifest was saved. Against a real milvus-lite server, like test_milvus."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import SMALL_DOCS
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
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


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
