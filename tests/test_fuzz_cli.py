"""Property tests (hypothesis) of the command line against hostile input: random sidecars, query
files and gold files (also with lone surrogates, "\\ud800"), language-model settings (KB_LLM_*) and
Milvus addresses. Every run either succeeds or ends with one `kb: error:` line and exit 2 (never a
traceback), the index is left as it was, and an output file is either complete or left as it was."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kb.cli import main
from kb.ingest.build import BuildConfig, build_index

GOOD = "Leanlink redovisar ett underskott inom LSS-verksamheten.\nSjukfrånvaron var 8,1 procent 2019.\n"
OTHER = "Hemtjänsten i Linköping fick fler brukare och kostnaderna ökade.\n"
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["Leanlink", "", " ", "a\nb", "\x1b]0;x\x07", "=1+1", "<script>", "x" * 400, "2023", "under\ud800skott",
     "\udcff", "＜/source＞"]) | st.text(alphabet=SURROGATE | st.sampled_from("ab "), min_size=1, max_size=4)
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
@example(rows=[json.dumps({"id": "a\udc00", "query": "under\ud800skott"})])
def test_random_query_files(index, tmp_path, capsys, rows):
    before = fingerprint(index)
    q = tmp_path / "q.jsonl"
    q.write_text(lines(rows), encoding="utf-8", errors="surrogatepass")
    for cmd in ("search", "ask"):
        for extra in ([], ["--json"]):
            run_cli(capsys, [cmd, "--queries", str(q), "--index", str(index), "-k", "3", *extra])
    assert fingerprint(index) == before


@SETTINGS
@given(rows=st.lists(GOLD_ROW, max_size=4))
@example(rows=[json.dumps({"id": "g\ud800", "query": "under\udfffskott", "relevant": [{"quote": "underskott"}]})])
def test_random_gold_files(index, tmp_path, capsys, rows):
    before = fingerprint(index)
    g = tmp_path / "gold.jsonl"
    g.write_text(lines(rows), encoding="utf-8", errors="surrogatepass")
    outs = {name: tmp_path / name for name in ("run.jsonl", "run.trec", "answers.jsonl")}
    for path in outs.values():
        path.write_text("older\n", encoding="utf-8")
    for extra in (["--run-out", str(outs["run.jsonl"]), "--trec-out", str(outs["run.trec"])],
                  ["--answers", "--answers-out", str(outs["answers.jsonl"])]):
        rc, _ = run_cli(capsys, ["eval", str(g), "--index", str(index), "-k", "3", *extra])
        for path in (Path(x) for x in extra if x.startswith(str(tmp_path))):
            text = path.read_text(encoding="utf-8")  # UTF-8, whole: never a half-written file
            if rc != 0:
                assert text == "older\n"
            elif path.suffix == ".jsonl":
                assert all(json.loads(line) for line in text.splitlines())
    assert fingerprint(index) == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- settings and addresses ------------------------------------------------------------------------

NUMBER_TEXT = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "NaN", "-1", "0", "0.0", "1e400", "1e308", "1e-300", "abc", "", " ", "1_0",
                     "０", "٣", "60", "1.5", "400", "1000000", "1000001", "99999999999999999999", "0x10", "1e3"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-(10**30), 10**30).map(str), TEXT,
)
URL_TEXT = st.one_of(
    st.sampled_from(["http://127.0.0.1:8080/v1", "http://h:99999/v1", "http://h:abc/v1", "http://h:-1/v1",
                     "http://h:0/v1", "http://[::1]:8080/v1", "http://[::1/v1", "http://[zz]:80/v1",
                     "http://::1:80/v1", "https://u:pw@h/v1?k=x", "http://h/v1 x", "http://h/v1\r\nX: y",
                     "ftp://h/", "http://", "http:///v1", "http://[fe80::1%eth0]:80/", "http://h:65535",
                     "http://h\udcff/v1"]),
    st.builds(lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
              st.sampled_from(["http", "https", "HTTP", "file", ""]),
              st.sampled_from(["h", "127.0.0.1", "[::1]", "[::ffff:1.2.3.4]", "u:p@h", "[x]", ""]) | TEXT,
              st.sampled_from(["", ":80", ":0", ":65536", ":", ":x"]) | st.integers(-5, 10**6).map(lambda p: f":{p}"),
              st.sampled_from(["", "/", "/v1", "/v1?x=1", "/#f"]) | TEXT),
    TEXT,
)
EXTRA_TEXT = st.one_of(
    st.sampled_from(['{"seed": 1}', '{"model": "x"}', '{"messages": []}', '{"stream": false}', '{"seed": NaN}',
                     '{"t": Infinity}', "[]", "null", "[" * 5000, '{"a": "\\ud800"}', "{", "", '{"max_tokens": 9}']),
    JSON.map(json.dumps), TEXT,
)
LLM_ENV = st.fixed_dictionaries({"KB_LLM_URL": URL_TEXT},
                                optional={"KB_LLM_MODEL": TEXT, "KB_LLM_TIMEOUT": NUMBER_TEXT,
                                          "KB_LLM_MAX_TOKENS": NUMBER_TEXT, "KB_LLM_EXTRA": EXTRA_TEXT,
                                          "KB_LLM_API_KEY": TEXT})


@settings(max_examples=300, deadline=None)
@given(env=LLM_ENV)
def test_random_llm_settings_are_valid_or_one_clear_error(env):
    """Settings are either usable (every value in range, the URL parsable, the model sent the one shown)
    or one LLMError line naming a KB_LLM_ variable."""
    from urllib.parse import urlsplit

    from kb.answer.client import MAX_TOKENS_RANGE, RESERVED_FIELDS, TIMEOUT_RANGE, LLMSettings
    from kb.errors import LLMError

    try:
        s = LLMSettings.from_env(env)
    except LLMError as e:
        assert "KB_LLM_" in str(e) and "\n" not in str(e) and len(str(e)) < 400
        return
    if s is None:
        assert not env["KB_LLM_URL"].strip()
        return
    assert TIMEOUT_RANGE[0] <= s.timeout <= TIMEOUT_RANGE[1] and type(s.max_tokens) is int
    assert MAX_TOKENS_RANGE[0] <= s.max_tokens <= MAX_TOKENS_RANGE[1]
    extra = json.loads(s.extra)
    assert isinstance(extra, dict) and not set(RESERVED_FIELDS) & set(extra)
    p = urlsplit(s.url)
    assert p.scheme in ("http", "https") and p.hostname and (p.port is None or 0 < p.port < 65536)
    shown = s.display_url()
    assert "\n" not in shown and "@" not in shown


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(env=LLM_ENV)
@example(env={"KB_LLM_URL": "http://h:99999/v1"})
@example(env={"KB_LLM_URL": "http://[::1]:9/v1", "KB_LLM_MAX_TOKENS": "inf"})
@example(env={"KB_LLM_URL": "http://127.0.0.1:9/v1", "KB_LLM_MODEL": "m", "KB_LLM_EXTRA": "[" * 5000})
def test_random_llm_settings_in_the_cli(index, capsys, monkeypatch, env):
    """``kb info`` reports bad settings as llm_error; ``kb ask --generate`` as one error line."""
    for name in ("KB_LLM_MODEL", "KB_LLM_TIMEOUT", "KB_LLM_MAX_TOKENS", "KB_LLM_EXTRA", "KB_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for k, v in env.items():
        if "\x00" in k + v or any(0xD800 <= ord(c) <= 0xDFFF for c in v):
            return  # the environment cannot hold these
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KB_LLM_TIMEOUT", "0.5")  # a usable URL may point anywhere: do not wait long
    run_cli(capsys, ["info", "--index", str(index), "--json"])
    rc, out = run_cli(capsys, ["ask", "underskott", "--index", str(index), "--generate", "--json"])
    if rc == 0:
        assert "generated" in json.loads(out.out)


ADDRESS = st.one_of(
    st.sampled_from(["milvus://127.0.0.1:19530/kb", "milvus://[::1]:19531/x", "milvus://[zz::1]:1/x",
                     "milvus://[::1:19531/x", "milvus://user:pw@h:1/kb", "milvus://:pw@[::1]:1/kb", "milvus://h:0/x",
                     "milvus://h:99999/x", "milvus://h:1/a__b", "milvus://h:1/" + "x" * 300, "milvus://h/x",
                     "milvus://[::ffff:1.2.3.4]:5/k", "milvus://h:1/kb?x=1"]),
    st.builds(lambda host, port, name: f"milvus://{host}:{port}/{name}",
              st.sampled_from(["h", "127.0.0.1", "[::1]", "[2001:db8::7]", "[::]", "u:p@h", "[]", "h.example.org"])
              | TEXT, st.integers(-1, 70000).map(str) | TEXT, st.sampled_from(["kb", "_x", "a b", "å"]) | TEXT),
)


@settings(max_examples=300, deadline=None)
@given(address=ADDRESS)
@example(address="milvus://[::1]:19531/x")
@example(address="milvus://user:pw@127.0.0.1:19530/kb")
def test_random_milvus_addresses_parse_or_are_one_clear_error(address):
    """An address parses to a location whose URI pymilvus can split (port in range, IPv6 in brackets) and
    which prints back as itself; or it is one KBError line that never echoes a password."""
    from urllib.parse import urlsplit

    from kb.errors import KBError
    from kb.milvus.store import parse_location

    try:
        loc = parse_location(address)
    except KBError as e:
        assert "\n" not in str(e).replace("\\n", "") or "\n" in address
        assert ":pw@" not in str(e) and ":p@" not in str(e)
        return
    p = urlsplit(loc.uri)
    assert p.hostname == loc.host.lower() and p.port == loc.port and 0 < loc.port < 65536
    assert parse_location(str(loc)) == loc
