"""Issue 12 (hardening): what a careless or hostile user does never hangs kb, reaches a
traceback or leaks into terminals, spreadsheets or Markdown. One test per class of input."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kb import files, open_index, store
from kb.cli import main
from kb.errors import IngestError, KBError
from kb.ingest import discover as ingest
from kb.ingest.build import BuildConfig, build_index
from kb.ingest.chunk import _split_large
from kb.ingest.discover import OUTSIDE
from kb.ingest.read import read_document
from kb.records import DocMeta, Document, Filters, Hit
from kb.sanitize import safe_terminal
from kb.text import sentence_breaks
from kb.ui_helpers import ExportMeta, export_csv, export_markdown

GOOD = "Leanlink redovisar ett underskott inom LSS-verksamheten.\nSjukfrånvaron var 8,1 procent 2019.\n"
OTHER = "Hemtjänsten i Linköping fick fler brukare och kostnaderna ökade.\n"
HASH = BuildConfig(embedder="hash:64")


def corpus_with(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def one_error_line(capsys, argv: list[str]) -> str:
    """Run the CLI, which must exit 2 with exactly one `kb: error:` line on stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kb: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def failed_reasons(report) -> dict[str, str]:
    return {Path(f.path).name: f.reason for f in report.failed}


# -- 1. sidecars -----------------------------------------------------------------------------

BAD_SIDECARS = [
    ({"organisation": 123}, "organisation must be text, not int"),
    ({"organisation": {"x": 1}}, "organisation must be text, not dict"),
    ({"doc_type": ["budget"]}, "doc_type must be text, not list"),
    ({"year": True}, "year must be a whole number"),
    ({"year": 99999}, "outside 1900–2100"),
    ({"year": 2020.0}, "year must be a whole number"),
    ({"year": "2020"}, "year must be a whole number"),
    ({"title": None}, "title must be text, not null"),
    ({"title": "  "}, "title is empty"),
    ({"title": "Rapport\n# Injected"}, "one line"),
    ({"title": "Rapport \x1b]0;pwned\x07"}, "one line"),
    ({"organisation": "Leanlink\u2028Ny rad"}, "one line"),
    ({"title": "x" * 400}, "longer than 300"),
    ({"titel": "Stavfel"}, "unknown key 'titel'"),
    ([1, 2], "JSON object"),
]


@pytest.mark.parametrize("data,reason", BAD_SIDECARS, ids=[r for _, r in BAD_SIDECARS])
def test_bad_sidecar_fails_that_file_only_and_search_works(tmp_path, capsys, data, reason):
    folder = corpus_with(tmp_path, {"ok.txt": GOOD, "bad.txt": OTHER})
    (folder / "bad.txt.meta.json").write_text(json.dumps(data), encoding="utf-8")
    report = build_index([folder], tmp_path / "idx", HASH)
    failed = failed_reasons(report)
    assert list(failed) == ["bad.txt"] and report.documents == 1
    assert failed["bad.txt"].startswith("sidecar bad.txt.meta.json") and reason in failed["bad.txt"]
    assert main(["search", "underskott", "--doc", "ok", "--index", str(tmp_path / "idx")]) == 0
    assert "[1]" in capsys.readouterr().out
    assert open_index(tmp_path / "idx").facets().organisations == ("Leanlink",)


def test_valid_sidecar_is_trimmed_and_null_means_unknown(tmp_path):
    p = tmp_path / "leanlink-budget-2019.txt"
    p.write_text(GOOD, encoding="utf-8")
    (tmp_path / "leanlink-budget-2019.txt.meta.json").write_text(
        json.dumps({"title": "  Budget för LSS  ", "organisation": None, "year": 2100}), encoding="utf-8")
    m = read_document(p, "d").meta
    assert (m.title, m.organisation, m.doc_type, m.year) == ("Budget för LSS", None, "budget", 2100)


def test_a_new_bad_sidecar_leaves_the_indexed_documents_alone(tmp_path):
    folder = corpus_with(tmp_path, {"a.txt": GOOD, "b.txt": OTHER})
    build_index([folder], tmp_path / "idx", HASH)
    (folder / "c.txt").write_text("Äldrenämnden ökade stödet.\n", encoding="utf-8")
    (folder / "c.txt.meta.json").write_text('{"year": true}', encoding="utf-8")
    report = build_index([folder], tmp_path / "idx", HASH)
    assert set(failed_reasons(report)) == {"c.txt"} and len(report.unchanged) == 2 and report.added == ()
    kb = open_index(tmp_path / "idx")
    assert sorted(d.doc_id for d in kb.documents()) == ["a", "b"]


def test_wrongly_typed_meta_in_an_older_index_never_crashes_search_or_facets(tmp_path, capsys):
    """An index written before sidecars were validated: its odd values read as unknown."""
    folder = corpus_with(tmp_path, {"a.txt": GOOD, "b.txt": OTHER})

    def old_reader(path, doc_id, sha):
        doc = read_document(path, doc_id, sha)
        meta = DocMeta(doc.meta.title)
        for k, v in {"organisation": {"x": 1}, "doc_type": ["lista"], "year": True}.items():
            object.__setattr__(meta, k, v)  # what the unvalidated reader let through
        return replace(doc, meta=meta)

    build_index([folder], tmp_path / "idx", HASH, reader=old_reader)
    kb = open_index(tmp_path / "idx")
    f = kb.facets()
    assert f.organisations == () and f.doc_types == () and f.years == ()
    assert main(["search", "underskott", "--doc", "a", "--index", str(tmp_path / "idx")]) == 0
    assert main(["info", "--index", str(tmp_path / "idx")]) == 0
    capsys.readouterr()


def test_filters_take_single_values_and_refuse_wrong_types():
    assert Filters(organisations="Leanlink", years=[2023]) == Filters(organisations=("Leanlink",), years=(2023,))
    with pytest.raises(KBError, match="Filters.years"):
        Filters(years=("2023",))
    with pytest.raises(KBError, match="Filters.organisations"):
        Filters(organisations=(123,))
    with pytest.raises(KBError, match="Filters.doc_ids"):
        Filters(doc_ids=({"x": 1},))


# -- 2. named pipes, devices, sizes ------------------------------------------------------------


def test_pipes_and_devices_are_refused_without_hanging(tmp_path):
    """A FIFO, a symlink to /dev/zero and a FIFO sidecar used to block `kb ingest` forever."""
    folder = corpus_with(tmp_path, {"ok.txt": GOOD, "med-sidecar.txt": OTHER})
    os.mkfifo(folder / "pipe.txt")
    os.mkfifo(folder / "med-sidecar.txt.meta.json")
    (folder / "zero.txt").symlink_to("/dev/zero")
    r = subprocess.run([sys.executable, "-m", "kb.cli", "ingest", str(folder), "--index", str(tmp_path / "i"),
                        "--embedder", "hash:64", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    failed = {Path(f["path"]).name: f["reason"] for f in rep["failed"]}
    assert failed["pipe.txt"] == "not a regular file (named pipe)"
    assert "system file" in failed["zero.txt"]
    assert failed["med-sidecar.txt"] == "sidecar med-sidecar.txt.meta.json: not a regular file (named pipe)"
    assert rep["documents"] == 1 and [Path(p).name for p in rep["added"]] == ["ok.txt"]


def test_an_explicitly_named_pipe_has_its_own_reason(tmp_path):
    os.mkfifo(tmp_path / "rör.txt")
    r = subprocess.run([sys.executable, "-m", "kb.cli", "ingest", str(tmp_path / "rör.txt"), "--index",
                        str(tmp_path / "i"), "--embedder", "hash:64", "--quiet"], capture_output=True, text=True,
                       timeout=120)
    assert "no such file" not in r.stdout + r.stderr
    assert "rör.txt: not a regular file (named pipe)" in r.stdout and r.returncode == 1


def test_size_is_checked_before_anything_is_read(tmp_path, monkeypatch):
    p = tmp_path / "stor.txt"
    p.write_text(GOOD * 10, encoding="utf-8")
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 100)

    def no_open(path):
        raise AssertionError(f"{path} opened before its size was checked")

    monkeypatch.setattr(files, "open_regular", no_open)
    for read in (ingest.file_sha256, lambda q: read_document(q, "d", "0" * 64)):
        with pytest.raises(IngestError, match="too large"):
            read(p)


def unblock_later(fifo: Path, seconds: float = 5.0) -> None:
    """Open ``fifo`` for writing after a while, so that code that (wrongly) blocks reading it
    fails the test instead of hanging it; harmless when nobody reads."""
    import threading
    import time

    def open_writer():
        time.sleep(seconds)
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader: the code under test did not open it
            pass

    threading.Thread(target=open_writer, daemon=True).start()


def test_index_checksums_refuse_a_pipe_instead_of_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    unblock_later(tmp_path / "fifo")
    with pytest.raises(files.NotRegularFileError, match="named pipe"):
        files.sha256_file(tmp_path / "fifo")


# -- 3. line and page lookups are O(log n) ------------------------------------------------------


class NoScan(str):
    def count(self, *args):  # the old line_at counted newlines from offset 0 for every passage
        raise AssertionError("line_at must not scan the text from the start")


def test_line_at_uses_an_offset_table_and_agrees_with_counting():
    raw = "rad ett\nrad två\n\n\ntre\n" * 30 + "slut utan radbrytning"
    doc = Document("d", "d.txt", "0" * 64, DocMeta("T"), NoScan(raw))
    for off in range(len(raw) + 1):
        assert doc.line_at(off) == str.count(raw, "\n", 0, off) + 1
    assert "newlines" not in {f.name for f in doc.__dataclass_fields__.values()}  # not serialised or compared


def _split_large_reference(text, start, end, max_chars, by_lines):
    """The cut rule before the offset table (a linear scan of every cut per piece)."""
    seg = text[start:end]
    cuts = [m.end() for m in re.finditer(r"\n", seg)] if by_lines else (
        [e for e, _ in sentence_breaks(seg)] or [m.end() for m in re.finditer(r"\n", seg)])
    cuts = [c for c in cuts if 0 < c < len(seg)]
    pieces, a = [], 0
    while len(seg) - a > max_chars:
        limit = a + max_chars
        cand = [c for c in cuts if a < c <= limit]
        b = cand[-1] if cand else (lambda sp: sp if sp > a else limit)(seg.rfind(" ", a + max_chars // 2, limit))
        pieces.append((a, b))
        a = b
        while a < len(seg) and seg[a].isspace():
            a += 1
    if a < len(seg):
        pieces.append((a, len(seg)))
    out = []
    for x, y in pieces:
        while y > x and seg[y - 1].isspace():
            y -= 1
        if y > x:
            out.append((start + x, start + y))
    return out


@pytest.mark.parametrize("by_lines", [False, True])
def test_sentence_cuts_by_bisection_match_the_linear_rule(by_lines):
    import random

    rng = random.Random(12)
    words = ["Underskott.", "inom", "LSS", "ökade!", "kostnader\n", "och", "personal?", "x" * 30, "\n\n"]
    for _ in range(40):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 400)))
        for max_chars in (40, 120, 900):
            assert _split_large(text, 0, len(text), max_chars, by_lines) == \
                _split_large_reference(text, 0, len(text), max_chars, by_lines)


# -- 5. CSV formula injection --------------------------------------------------------------------


def _hit(**kw) -> Hit:
    base = dict(rank=1, score=0.5, doc_id="d", title="T", year=2023, organisation="Org", doc_type="budget", page=None,
                line_start=1, line_end=2, section="S", start=0, end=5, text="Text", citation="T, rad 1–2",
                chunk_id="d:0", also_at=())
    return Hit(**{**base, **kw})


META = ExportMeta(query="fråga", exported_at="2026-12-02T01:00:00+01:00", index_version="gen-x")


def test_csv_export_neutralises_every_formula_start():
    evil = {"title": '=HYPERLINK("http://x","klick")', "organisation": "+1+1", "doc_type": "-2+3",
            "citation": "@SUM(A1)", "section": "\tflik", "text": "\r=1+1", "also_at": ("=A1",)}
    meta = replace(META, query="=cmd|' /C calc'!A0")
    rows = list(csv.DictReader(io.StringIO(export_csv(meta, [_hit(**evil)]))))
    (row,) = rows
    for key, value in {**evil, "also_at": "=A1", "query": meta.query}.items():
        assert row[key] == "'" + value, key
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert row["rank"] == "1" and row["year"] == "2023"  # numbers are left alone


# -- 8. Markdown export --------------------------------------------------------------------------


def test_markdown_export_escapes_html_and_one_line_fields():
    hit = _hit(citation="Rapport\n# Injected <script>alert(1)</script>", also_at=("Annan\n## Rubrik",),
               text="<img src=x onerror=alert(1)>\n# Rubrik i texten\n[länk](javascript:alert(1))")
    md = export_markdown(replace(META, query="fråga\n## Ny rubrik <b>"), [hit],
                         [{"sentence": "Mening\n# Rubrik <i>", "hit_rank": 1}])
    assert "<script>" not in md and "<img" not in md and "<b>" not in md and "<i>" not in md
    assert "&lt;script&gt;" in md
    headings = [ln for ln in md.splitlines() if ln.startswith("#")]
    assert headings == ["# Underlag från rapportsökning", "## Svar (citerade meningar)", "## Källor",
                        "### [1] Rapport # Injected &lt;script&gt;alert(1)&lt;/script&gt;"]
    # the passage is reflowed for reading ("# Rubrik" goes on the line before); no line starts a heading
    assert "Rubrik i texten" in md and not any(ln.startswith(("# Rubrik", "> # Rubrik")) for ln in md.splitlines())
    assert "](javascript" not in md.replace("\\]", "")


# -- 6. terminal escapes -------------------------------------------------------------------------

ESCAPES = "Underskott inom LSS \x1b]0;pwned\x07 och \x1b]52;c;Y2xpcA==\x07 samt \x9b31m.\n"


def test_human_output_shows_control_characters_escaped(tmp_path, capsys):
    folder = corpus_with(tmp_path, {"elak.txt": GOOD + ESCAPES})
    (folder / "tom\x1b[2J.txt").write_bytes(b"")
    idx = str(tmp_path / "idx")
    for argv in (["ingest", str(folder), "--index", idx, "--embedder", "hash:64", "--quiet"],
                 ["search", "underskott pwned", "--index", idx], ["ask", "varför underskott LSS", "--index", idx],
                 ["info", "--index", idx]):
        main(argv)
        out = capsys.readouterr()
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out.out + out.err), (argv, out)
        if argv[0] == "ingest":
            assert "FAILED" in out.out and "tom\\x1b[2J.txt" in out.out
        if argv[0] == "search":
            assert "\\x1b]0;pwned\\x07" in out.out
    assert safe_terminal("a\x1bb\u202ec\nd") == "a\\x1bb\\u202ec\\x0ad"
    assert safe_terminal("a\x1b\nb", keep_newlines=True) == "a\\x1b\nb"


# -- 7. symlinks ---------------------------------------------------------------------------------


def test_symlinks_leaving_the_given_folders_are_skipped_unless_asked(tmp_path):
    outside = tmp_path / "utanför"
    outside.mkdir()
    (outside / "hemlig.txt").write_text("Hemlig lönelista för nämnden.\n", encoding="utf-8")
    folder = corpus_with(tmp_path, {"ok.txt": GOOD})
    (folder / "passwd.txt").symlink_to(outside / "hemlig.txt")
    (folder / "mapp").symlink_to(outside)
    (folder / "inne.txt").symlink_to(folder / "ok.txt")  # stays inside: read (the same document)
    (folder / "null.txt").symlink_to("/dev/null")
    report = build_index([folder], tmp_path / "i", HASH)
    failed = failed_reasons(report)
    assert failed["passwd.txt"] == OUTSIDE and failed["mapp"] == OUTSIDE and "system file" in failed["null.txt"]
    assert "use --follow-symlinks" in OUTSIDE and report.documents == 1
    assert "Hemlig" not in "".join(d.text for d in open_index(tmp_path / "i").documents())
    asked = build_index([folder], tmp_path / "j", HASH, follow_symlinks=True)
    assert "hemlig" in "".join(d.text for d in open_index(tmp_path / "j").documents()).lower()
    assert set(failed_reasons(asked)) == {"null.txt"}  # /dev is never read, even when asked


def test_symlink_loops_end(tmp_path):
    folder = corpus_with(tmp_path, {"ok.txt": GOOD})
    (folder / "loop").symlink_to(folder)
    files, skipped = ingest.discover_files([folder], follow_symlinks=True)
    assert [p.name for p in files] == ["ok.txt"] and skipped == []


# -- 10, 11. one line, never a traceback ----------------------------------------------------------


@pytest.fixture
def idx(tmp_path) -> Path:
    folder = corpus_with(tmp_path, {"leanlink-2019.txt": GOOD, "hemtjanst-2023.txt": OTHER})
    root = tmp_path / "idx"
    build_index([folder], root, HASH)
    return root


def test_index_folder_that_cannot_be_used(tmp_path, capsys, monkeypatch):
    folder = corpus_with(tmp_path, {"ok.txt": GOOD})
    a_file = tmp_path / "fil"
    a_file.write_text("x")
    base = ["ingest", str(folder), "--embedder", "hash:64", "--quiet", "--index"]
    assert "it is a file" in one_error_line(capsys, [*base, str(a_file)])
    assert "a part of the path is a file" in one_error_line(capsys, [*base, str(a_file / "idx")])
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(store.os, "open", read_only)
    assert "permission denied" in one_error_line(capsys, [*base, str(tmp_path / "ro")])
    monkeypatch.undo()
    real_mkdir = Path.mkdir

    def no_mkdir(self, *a, **kw):
        if self.name.startswith(".tmp-"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", no_mkdir)
    err = one_error_line(capsys, [*base, str(tmp_path / "ro2")])
    assert "could not write the index" in err and "permission denied" in err


QUERY_LINES = [
    ('{"id": "a", "query": 5}', '"query" must be text'),
    ('{"id": "a", "query": null}', '"query" must be text'),
    ('{"id": ["a"], "query": "x"}', '"id" must be text'),
    ('"bara en sträng"', "must be a JSON object, not a string"),
    ("42", "must be a JSON object, not a number"),
    ("[1, 2]", "must be a JSON object, not an array"),
    ("{trasig", "not valid JSON"),
    ("[" * 100_001, "longer than 100000 characters"),
]


@pytest.mark.parametrize("line,message", QUERY_LINES, ids=[m for _, m in QUERY_LINES])
def test_query_file_problems_are_one_line(idx, tmp_path, capsys, line, message):
    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "ok", "query": "underskott"}\n' + line + "\n", encoding="utf-8")
    err = one_error_line(capsys, ["search", "--queries", str(q), "--index", str(idx), "--json"])
    assert message in err and "line 2" in err
    assert capsys.readouterr().out == ""  # nothing is searched before the whole file is checked


def test_query_file_that_is_a_device_or_pipe(idx, tmp_path, capsys):
    assert "not a regular file (character device)" in one_error_line(
        capsys, ["search", "--queries", "/dev/zero", "--index", str(idx)])
    os.mkfifo(tmp_path / "fifo.jsonl")
    unblock_later(tmp_path / "fifo.jsonl")
    assert "named pipe" in one_error_line(capsys, ["search", "--queries", str(tmp_path / "fifo.jsonl"), "--index", str(idx)])


GOLD_OK = {"id": "g1", "query": "underskott", "relevant": [{"quote": "underskott inom LSS", "grade": 2}]}
GOLD_LINES = [
    ({k: v for k, v in GOLD_OK.items() if k != "id"}, '"id" must be text'),
    ({**GOLD_OK, "id": None}, '"id" must be text'),
    ({**GOLD_OK, "id": True}, '"id" must be text'),
    ({**GOLD_OK, "query": ["x"]}, '"query" must be text'),
    ({k: v for k, v in GOLD_OK.items() if k != "query"}, 'missing "query"'),
    ({k: v for k, v in GOLD_OK.items() if k != "relevant"}, '"relevant" must be a list'),
    ({**GOLD_OK, "relevant": "underskott"}, '"relevant" must be a list'),
    ({**GOLD_OK, "relevant": ["underskott"]}, "must be an object"),
    ({**GOLD_OK, "relevant": [{"grade": 2}]}, '"quote" must be non-empty text'),
    ({**GOLD_OK, "relevant": [{"quote": 5}]}, '"quote" must be non-empty text'),
    ({**GOLD_OK, "relevant": [{"quote": "x", "grade": "hög"}]}, '"grade" must be one of'),
    ({**GOLD_OK, "relevant": [{"quote": "x", "grade": True}]}, '"grade" must be one of'),
    ({**GOLD_OK, "relevant": [{"quote": "x", "grade": 10**6}]}, '"grade" must be one of'),
    ({**GOLD_OK, "type": 3}, '"type" must be text'),
    ({**GOLD_OK, "id": "g0"}, None),  # a second valid row: no error
]


@pytest.mark.parametrize("row,message", GOLD_LINES[:-1], ids=[m for _, m in GOLD_LINES[:-1]])
def test_gold_file_problems_are_one_line(idx, tmp_path, capsys, row, message):
    g = tmp_path / "gold.jsonl"
    g.write_text(json.dumps({**GOLD_OK, "id": "g0"}) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    err = one_error_line(capsys, ["eval", str(g), "--index", str(idx)])
    assert message in err and "line 2" in err


def test_empty_gold_file_and_duplicate_ids(idx, tmp_path, capsys):
    g = tmp_path / "gold.jsonl"
    g.write_text("\n\n", encoding="utf-8")
    assert "holds no queries" in one_error_line(capsys, ["eval", str(g), "--index", str(idx)])
    g.write_text("".join(json.dumps({**GOLD_OK, "id": i}) + "\n" for i in ("a", "b", "a")), encoding="utf-8")
    err = one_error_line(capsys, ["eval", str(g), "--index", str(idx)])
    assert "duplicate id 'a'" in err and "line 3" in err and "first on line 1" in err


def test_eval_outputs_that_cannot_be_written(idx, tmp_path, capsys):
    g = tmp_path / "gold.jsonl"
    g.write_text(json.dumps(GOLD_OK) + "\n", encoding="utf-8")
    base = ["eval", str(g), "--index", str(idx)]
    err = one_error_line(capsys, [*base, "--run-out", str(tmp_path / "saknas" / "run.jsonl")])
    assert "does not exist" in err
    assert "is a folder" in one_error_line(capsys, [*base, "--trec-out", str(tmp_path)])


@pytest.mark.parametrize("spec", ["hash:0", "hash:-5", "hash:abc", "hash:1e3", "hash:99999", "nope"])
def test_malformed_embedder_is_refused_before_anything_is_written(tmp_path, capsys, spec):
    folder = corpus_with(tmp_path, {"ok.txt": GOOD})
    err = one_error_line(capsys, ["ingest", str(folder), "--index", str(tmp_path / "i"), "--embedder", spec])
    assert "embedder" in err
    assert not (tmp_path / "i").exists()


# -- 12. counts, missing inputs, unknown filter values ---------------------------------------------


def test_added_counts_only_indexed_files(tmp_path):
    folder = corpus_with(tmp_path, {"ok.txt": GOOD, "tom.txt": ""})
    report = build_index([folder], tmp_path / "i", HASH)
    assert [Path(p).name for p in report.added] == ["ok.txt"] and set(failed_reasons(report)) == {"tom.txt"}


def test_missing_input_leaves_no_index_folder(tmp_path, capsys):
    err = one_error_line(capsys, ["ingest", str(tmp_path / "saknas"), "--index", str(tmp_path / "i"),
                                  "--embedder", "hash:64"])
    assert "no such file or folder" in err and not (tmp_path / "i").exists()


def test_unknown_filter_values_are_named_with_the_known_ones(idx, capsys):
    assert main(["search", "underskott", "--org", "Nope", "--index", str(idx)]) == 0
    out = capsys.readouterr()
    assert "Inga träffar." in out.out
    assert "kb: note: no document in this index has organisation 'Nope'; known: Leanlink" in out.err
    assert main(["search", "underskott", "--doc", "x", "--type", "budget", "--index", str(idx), "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["hits"] == []
    assert "document id 'x'; known: hemtjanst-2023, leanlink-2019" in out.err and "report type 'budget'" in out.err
    kb = open_index(idx)
    res = kb.search("underskott", filters=Filters(years=(1999,)))
    assert res.hits == () and res.notes == ("no document in this index has year 1999; known: 2019, 2023",)
    assert kb.search("underskott", filters=Filters(years=(2019,))).notes == ()


# -- 10. the UI's build button ------------------------------------------------------------------

APP = Path(__file__).resolve().parent.parent / "app.py"


def _click_build(monkeypatch, index: Path, corpus: Path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KB_INDEX", str(index))
    monkeypatch.setenv("KB_CORPUS", str(corpus))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    next(b for b in at.button if b.label == "Bygg sökindexet nu").click().run()
    assert not at.exception, at.exception
    return [e.value for e in at.error]


def test_ui_build_button_shows_errors_as_a_message(monkeypatch, tmp_path):
    corpus = corpus_with(tmp_path, {"ok.txt": GOOD})
    a_file = tmp_path / "fil"
    a_file.write_text("x")
    errors = _click_build(monkeypatch, a_file / "idx", corpus)  # the index folder cannot be made
    assert any("Det gick inte att bygga sökindexet" in e and "part of the path is a file" in e for e in errors)
    import kb.ingest.build

    def denied(*a, **kw):
        raise PermissionError(13, "Permission denied", str(corpus))

    monkeypatch.setattr(kb.ingest.build, "build_index", denied)
    errors = _click_build(monkeypatch, tmp_path / "idx", corpus)
    assert any("Det gick inte att bygga sökindexet (PermissionError" in e for e in errors)
    monkeypatch.undo()
    (corpus / "ok.txt").write_bytes(b"")  # nothing can be read: nothing is published, and it says so
    errors = _click_build(monkeypatch, tmp_path / "idx2", corpus)
    assert any("Inget sökindex byggdes" in e and "1 misslyckades" in e for e in errors)
    assert not (tmp_path / "idx2" / "CURRENT").exists()


# -- 4. a careless ingest never empties the index or the embedding cache ---------------------------


def _state(root: Path) -> tuple[str, bytes]:
    """The live generation's name and the embedding cache's bytes."""
    (cache,) = (root / "cache").rglob("*.npz")
    return (root / "CURRENT").read_text(encoding="utf-8"), cache.read_bytes()


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path]:
    folder = corpus_with(tmp_path, {"a.txt": GOOD, "b.txt": OTHER})
    root = tmp_path / "idx"
    build_index([folder], root, HASH)
    return folder, root


def test_ingest_of_another_folder_or_one_file_is_refused_before_reading(built, tmp_path, capsys):
    folder, root = built
    before = _state(root)
    empty = tmp_path / "tom"
    empty.mkdir()
    (tmp_path / "c.txt").write_text("Äldrenämnden ökade stödet.\n", encoding="utf-8")
    for paths in ([str(empty)], [str(folder / "a.txt")], [str(tmp_path / "c.txt")]):
        err = one_error_line(capsys, ["ingest", *paths, "--index", str(root), "--embedder", "hash:64"])
        assert "not under the given paths" in err and "--replace" in err and "unchanged" in err
        assert _state(root) == before
    assert main(["ingest", str(folder), str(tmp_path / "c.txt"), "--index", str(root), "--embedder", "hash:64",
                 "--json"]) == 0  # the folder and the new file together: nothing is removed
    rep = json.loads(capsys.readouterr().out)
    assert rep["removed"] == [] and [Path(p).name for p in rep["added"]] == ["c.txt"] and rep["documents"] == 3


def test_a_build_where_every_file_failed_or_vanished_does_not_publish(built, capsys):
    folder, root = built
    before = _state(root)
    for p in folder.iterdir():
        p.write_bytes(b"")  # every file now fails (empty)
    assert main(["ingest", str(folder), "--index", str(root), "--embedder", "hash:64", "--quiet"]) == 1
    out = capsys.readouterr()
    assert "would remove every document (2)" in out.err and "--replace" in out.err and "failed 2" in out.out
    assert _state(root) == before
    for p in folder.iterdir():
        p.unlink()  # every file deleted
    report = build_index([folder], root, HASH)
    assert report.refused and not report.rebuilt and _state(root) == before
    assert open_index(root).stats()["documents"] == 2


def test_replace_empties_or_narrows_the_index_on_request(built, tmp_path, capsys):
    folder, root = built
    assert main(["ingest", str(folder / "a.txt"), "--index", str(root), "--embedder", "hash:64", "--replace",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["documents"] == 1 and [Path(p).name for p in rep["removed"]] == ["b.txt"]
    empty = tmp_path / "tom"
    empty.mkdir()
    report = build_index([empty], root, HASH, replace=True)
    assert report.rebuilt and report.documents == 0 and open_index(root).stats()["documents"] == 0


def test_a_failed_write_never_shrinks_the_embedding_cache(built, monkeypatch):
    from kb.embed import EmbeddingCache

    folder, root = built
    (folder / "b.txt").unlink()

    def full_disk(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "publish", full_disk)
    with pytest.raises(KBError, match="disk is full"):
        build_index([folder], root, HASH)
    # a: one passage and two sentences; b: one passage that is also its one sentence (one text, one entry)
    assert len(EmbeddingCache(root / "cache", "hash:64", 64)) == 4  # b's vector is still cached
    monkeypatch.undo()
    build_index([folder], root, HASH)
    assert len(EmbeddingCache(root / "cache", "hash:64", 64)) == 3  # dropped once the build is live


def test_sidecar_symlink_leaving_the_folder_is_refused(tmp_path):
    """A sidecar describes the report beside it: a symlink to a file elsewhere is not read."""
    from kb.ingest.build import BuildConfig, build_index

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"title": "Hemlig titel"}', encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Hemtjänsten växer i kommunen.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("Äldreomsorgen växer i kommunen.\n", encoding="utf-8")
    (corpus / "a.txt.meta.json").symlink_to(outside / "secret.json")
    (corpus / "local.json").write_text('{"title": "Lokal titel"}', encoding="utf-8")
    (corpus / "b.txt.meta.json").symlink_to(corpus / "local.json")  # inside the folder: fine
    report = build_index([corpus], tmp_path / "idx", BuildConfig(embedder="hash:64"))
    assert [f.reason for f in report.failed if f.path.endswith("a.txt")] == [
        "sidecar a.txt.meta.json: symlink to outside the report's folder; copy the file instead"]
    import kb

    titles = [d.meta.title for d in kb.open_index(tmp_path / "idx").documents()]
    assert titles == ["Lokal titel"]
