"""Property tests (hypothesis) of the command line against hostile input files: random sidecars,
query files and gold files. Every run either succeeds or ends with one `kb: error:` line and
exit 2 (never a traceback), and the index is left as it was."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.cli import main
from kb.ingest.build import BuildConfig, build_index

GOOD = "Leanlink redovisar ett underskott inom LSS-verksamheten.\nSjukfrånvaron var 8,1 procent 2019.\n"
OTHER = "Hemtjänsten i Linköping fick fler brukare och kostnaderna ökade.\n"
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["Leanlink", "", " ", "a\nb", "\x1b]0;x\x07", "=1+1", "<script>", "x" * 400, "2023"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
SIDECAR_KEYS = st.sampled_from(["title", "organisation", "doc_type", "year", "titel", ""])
SIDECAR = st.one_of(
    st.dictionaries(SIDECAR_KEYS, JSON | st.integers(1850, 2150), max_size=4).map(json.dumps),
    JSON.map(json.dumps),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)
QUERY_ROW = st.one_of(
    st.fixed_dictionaries({"query": TEXT}, optional={"id": JSON}).map(json.dumps),
    st.dictionaries(st.sampled_from(["id", "query", "text"]), JSON, max_size=3).map(json.dumps),
    JSON.map(json.dumps),
    TEXT.map(lambda t: t.replace("\n", " ")),
)
RELEVANT = st.one_of(
    st.lists(st.fixed_dictionaries({"quote": TEXT}, optional={"grade": st.integers(-1, 4) | JSON}), max_size=2),
    JSON,
)
GOLD_ROW = st.one_of(
    st.fixed_dictionaries({"id": st.sampled_from(["a", "b", "c"]) | JSON, "query": TEXT, "relevant": RELEVANT},
                          optional={"type": JSON}).map(json.dumps),
    JSON.map(json.dumps),
)


def lines(rows: list[str]) -> str:
    return "".join(r.replace("\n", " ") + "\n" for r in rows)


def run_cli(capsys, argv: list[str], ok=(0,)):
    """Run kb; an exception escaping main() fails the test (that would be a traceback)."""
    rc = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    if rc == 2:
        assert out.err.startswith("kb: error: ") and len(out.err.strip().splitlines()) == 1, out.err
    else:
        assert rc in ok, (rc, out.err)
    return rc, out


def fingerprint(root: Path) -> tuple[str, str]:
    """The live generation and its manifest's own checksum."""
    current = (root / "CURRENT").read_text(encoding="utf-8").strip()
    manifest = json.loads((root / current / "manifest.json").read_text(encoding="utf-8"))
    return current, manifest["manifest_sha256"]


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzzcorpus")
    (folder / "leanlink-2019.txt").write_text(GOOD, encoding="utf-8")
    (folder / "hemtjanst-2023.txt").write_text(OTHER, encoding="utf-8")
    root = folder.parent / "fuzzindex"
    build_index([folder], root, BuildConfig(embedder="hash:64"))
    return root


@SETTINGS
@given(sidecar=SIDECAR)
def test_random_sidecars(tmp_path, capsys, sidecar):
    """A sidecar is accepted or fails its own file with a one-line reason; the good file is indexed."""
    folder = tmp_path / "c"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "ok.txt").write_text(GOOD, encoding="utf-8")
    (folder / "x.txt").write_text(OTHER, encoding="utf-8")
    (folder / "x.txt.meta.json").write_text(sidecar, encoding="utf-8", errors="surrogatepass")
    root = tmp_path / "i"
    shutil.rmtree(root, ignore_errors=True)
    rc, out = run_cli(capsys, ["ingest", str(folder), "--index", str(root), "--embedder", "hash:64", "--json"])
    failed = {Path(f["path"]).name: f["reason"] for f in json.loads(out.out)["failed"]}
    assert set(failed) <= {"x.txt"} and all("\n" not in r and len(r) < 300 for r in failed.values())
    info = json.loads(run_cli(capsys, ["info", "--index", str(root), "--json"])[1].out)
    paths = {Path(d["path"]).name for d in info["documents_list"]}
    assert "ok.txt" in paths
    for d in info["documents_list"]:
        for key in ("title", "organisation", "doc_type"):
            assert d[key] is None or (isinstance(d[key], str) and d[key].strip() and "\n" not in d[key])
        assert d["year"] is None or (type(d["year"]) is int and 1900 <= d["year"] <= 2100)
    run_cli(capsys, ["search", "underskott", "--index", str(root)])


@SETTINGS
@given(rows=st.lists(QUERY_ROW, max_size=4))
def test_random_query_files(index, tmp_path, capsys, rows):
    before = fingerprint(index)
    q = tmp_path / "q.jsonl"
    q.write_text(lines(rows), encoding="utf-8", errors="surrogatepass")
    for extra in ([], ["--json"]):
        run_cli(capsys, ["search", "--queries", str(q), "--index", str(index), "-k", "3", *extra])
    assert fingerprint(index) == before


@SETTINGS
@given(rows=st.lists(GOLD_ROW, max_size=4))
def test_random_gold_files(index, tmp_path, capsys, rows):
    before = fingerprint(index)
    g = tmp_path / "gold.jsonl"
    g.write_text(lines(rows), encoding="utf-8", errors="surrogatepass")
    run_cli(capsys, ["eval", str(g), "--index", str(index), "-k", "3", "--run-out", str(tmp_path / "run.jsonl")])
    assert fingerprint(index) == before
