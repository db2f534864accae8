"""The ingest guard and what a build may publish (issue 25): the same files under another spelling
are the same documents, a build that indexes nothing never publishes, and a plain ingest keeps the
index's embedder."""
from __future__ import annotations

from pathlib import Path

import pytest

from kb import store
from kb.cli import main
from kb.errors import IngestError
from kb.ingest.build import BuildConfig, build_index
from kb.ingest.read import read_document

HASH = BuildConfig(embedder="hash:64")


def live_documents(root: Path) -> list[str]:
    _, manifest = store.open_generation(root)
    return sorted(d["doc_id"] for d in manifest.document_entries)


def test_another_working_folder_or_spelling_is_the_same_documents(small_corpus, tmp_path, monkeypatch):
    """Built with `kb ingest corpus` from one folder, then `cd corpus && kb ingest . --index ../idx`:
    the same files, so nothing is removed and nothing needs --replace (it once removed them all)."""
    corpus = small_corpus
    monkeypatch.chdir(tmp_path)
    build_index([Path("corpus")], Path("idx"), HASH)
    before = live_documents(tmp_path / "idx")
    assert len(before) == 2
    monkeypatch.chdir(corpus)
    report = build_index([Path(".")], Path("../idx"), HASH)
    assert report.removed == () and not report.refused
    assert live_documents(tmp_path / "idx") == before
    monkeypatch.chdir(tmp_path)
    for spelling in ("./corpus", "corpus/", str(corpus), str(tmp_path / "." / "corpus")):
        report = build_index([Path(spelling)], Path("idx"), HASH)
        assert report.removed == () and report.added == () and not report.refused, spelling
        assert live_documents(tmp_path / "idx") == before


def test_the_guard_compares_real_paths_not_the_spelling(small_corpus, tmp_path, monkeypatch):
    """One file of the corpus given from inside the corpus folder: the other document is outside
    the given paths, so the build is refused without --replace (whatever the working folder)."""
    corpus = small_corpus
    monkeypatch.chdir(tmp_path)
    build_index([Path("corpus")], Path("idx"), HASH)
    monkeypatch.chdir(corpus)
    with pytest.raises(Exception, match="not under the given paths"):
        build_index([Path("leanlink-verksamhetsberattelse-2019.txt")], Path("../idx"), HASH)
    assert len(live_documents(tmp_path / "idx")) == 2


def test_replace_with_every_file_failing_publishes_nothing(small_corpus, tmp_path, capsys):
    """`kb ingest folder --replace` where every file fails once published an empty index."""
    corpus = small_corpus
    root = tmp_path / "idx"
    build_index([corpus], root, HASH)
    before = (live_documents(root), store.current_generation(root))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tom.txt").write_bytes(b"")
    (bad / "trasig.pdf").write_bytes(b"%PDF-1.4 trasig")
    report = build_index([bad], root, HASH, replace=True)
    assert report.refused and "every file failed (2)" in report.refused and len(report.failed) == 2
    assert (live_documents(root), store.current_generation(root)) == before
    assert main(["ingest", str(bad), "--index", str(root), "--embedder", "hash:64", "--replace", "--quiet"]) == 1
    assert "index" in capsys.readouterr().err
    assert (live_documents(root), store.current_generation(root)) == before
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder with --replace still empties the index, as asked
    assert build_index([empty], root, HASH, replace=True).documents == 0


def test_a_plain_ingest_keeps_the_index_embedder_and_a_change_is_said(small_corpus, tmp_path, capsys):
    """A plain `kb ingest` into an index built with another embedder once re-embedded everything
    with the default and called the documents unchanged."""
    corpus = small_corpus
    root = tmp_path / "idx"
    assert main(["ingest", str(corpus), "--index", str(root), "--embedder", "hash:64", "--quiet"]) == 0
    gen = store.current_generation(root)
    capsys.readouterr()
    assert main(["ingest", str(corpus), "--index", str(root), "--quiet"]) == 0
    out = capsys.readouterr()
    assert "up to date" in out.out and "embedder" not in out.err
    assert store.current_generation(root) == gen
    assert store.open_generation(root)[1].embedder.spec == "hash:64"
    assert main(["ingest", str(corpus), "--index", str(root), "--embedder", "hash:32", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert len([ln for ln in err.splitlines() if "embedder" in ln]) == 1 and "hash:64" in err and "hash:32" in err
    assert store.open_generation(root)[1].embedder.spec == "hash:32"


def test_a_sidecar_named_as_the_readme_says_is_read_and_two_that_differ_are_refused(small_corpus, tmp_path):
    """The README names the sidecar NAME.meta.json; kb once read only NAME.txt.meta.json."""
    corpus = small_corpus
    report = corpus / "leanlink-verksamhetsberattelse-2019.txt"
    short = corpus / "leanlink-verksamhetsberattelse-2019.meta.json"
    long = corpus / "leanlink-verksamhetsberattelse-2019.txt.meta.json"
    short.write_text('{"title": "Rapport enligt README"}', encoding="utf-8")
    assert read_document(report, "r").meta.title == "Rapport enligt README"
    long.write_text('{"title": "Rapport enligt README"}', encoding="utf-8")  # both, the same: fine
    assert read_document(report, "r").meta.title == "Rapport enligt README"
    long.write_text('{"title": "En annan titel"}', encoding="utf-8")
    with pytest.raises(IngestError, match="differ"):
        read_document(report, "r")
    result = build_index([corpus], tmp_path / "idx", HASH)
    assert result.documents == 1 and "differ" in result.failed[0].reason
    short.unlink()
    assert read_document(report, "r").meta.title == "En annan titel"
