"""kb.open_index and the typed index locations: a folder path or a ``milvus://`` address, told apart
by one parse_location; a scheme kb does not know is one error line, never a folder of that name."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_hardening import one_error_line

import kb
from kb import location
from kb.errors import KBError
from kb.location import FolderLocation, MilvusLocation, default_location, parse_location


@pytest.mark.parametrize("text", ["index", "./idx", "/srv/kb/index", "rapporter 2023", "a:b", "milvus-index"])
def test_paths_are_folders(text):
    assert parse_location(text) == FolderLocation(Path(text))
    assert parse_location(Path(text)) == FolderLocation(Path(text))
    assert str(parse_location(text)) == str(Path(text))


@pytest.mark.parametrize("text", ["milvus://127.0.0.1:19530/kb", "Milvus://127.0.0.1:19530/kb",
                                  "MILVUS://127.0.0.1:19530/kb", " milvus://127.0.0.1:19530/kb "])
def test_milvus_scheme_in_any_case(text):
    loc = parse_location(text)
    assert loc == MilvusLocation("127.0.0.1", 19530, "kb")
    assert str(loc) == "milvus://127.0.0.1:19530/kb"


def test_a_location_parses_to_itself():
    for loc in (FolderLocation(Path("x")), MilvusLocation("h", 1, "c")):
        assert parse_location(loc) is loc


@pytest.mark.parametrize("text", ["http://127.0.0.1:19530/kb", "s3://bucket/index", "file:///srv/index",
                                  "milvus+grpc://h:1/c"])
def test_an_unknown_scheme_is_refused(text):
    with pytest.raises(KBError, match="unknown index address") as e:
        parse_location(text)
    assert "\n" not in str(e.value) and "milvus://HOST:PORT/COLLECTION" in str(e.value)


@pytest.mark.parametrize("text", ["milvus:/h:1/c", "Milvus:h:1/c", "milvus://h/c", "Milvus://h:1/a/b"])
def test_a_malformed_milvus_address_is_refused(text):
    with pytest.raises(KBError, match="malformed Milvus address"):
        parse_location(text)


def test_default_location_reads_kb_index(monkeypatch):
    monkeypatch.delenv("KB_INDEX", raising=False)
    assert default_location() == FolderLocation(Path("index"))
    monkeypatch.setenv("KB_INDEX", "Milvus://db:19530/kb")
    assert default_location() == MilvusLocation("db", 19530, "kb")
    monkeypatch.setenv("KB_INDEX", "/data/kb")
    assert default_location() == FolderLocation(Path("/data/kb"))


def test_one_open_index_for_every_spelling_of_a_folder(small_index):
    assert kb.open_index is location.open_index
    for value in (small_index, str(small_index), FolderLocation(small_index)):
        k = kb.open_index(value)
        assert k.index.location == str(small_index) and k.search("underskott LSS", k=1).hits


def test_open_index_refuses_an_unknown_scheme_before_touching_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KBError, match="unknown index address"):
        kb.open_index("https://example.org/kb")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("address", ["ftp://h/c", "Http://127.0.0.1:19530/kb"])
def test_cli_unknown_scheme_is_one_error_line_and_builds_nothing(capsys, tmp_path, monkeypatch, small_corpus, address):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    err = one_error_line(capsys, ["ingest", str(small_corpus), "--index", address, "--embedder", "hash:64", "--quiet"])
    assert "unknown index address" in err
    assert "unknown index address" in one_error_line(capsys, ["search", "underskott", "--index", address])
    assert list(cwd.iterdir()) == []


def test_cli_capital_milvus_is_a_milvus_address_not_a_folder(capsys, tmp_path, monkeypatch, small_corpus):
    """``Milvus://`` used to build a local folder named ``Milvus:``; now it is the Milvus address
    (here with a port nothing listens on: one error line about the server)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr("kb.milvus.connection.CONNECT_RETRY_SECONDS", 0.0)
    err = one_error_line(capsys, ["ingest", str(small_corpus), "--index", "Milvus://127.0.0.1:9/kb",
                                  "--embedder", "hash:64", "--quiet"])
    assert "127.0.0.1:9" in err
    assert not (cwd / "Milvus:").exists() and list(cwd.iterdir()) == []
