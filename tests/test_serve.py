"""``kb serve`` tested against a real server process (uvicorn on a free port of 127.0.0.1).

A small hash-embedder index of two reports, one of them restricted to the access group "ks"
(sidecar ``access``). Keys: alice (reader, group ks), bob (reader, no group), admin (admin, no
group), carol (reader, 3 requests a minute). The access tests run on a folder index and on Milvus.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import SMALL_DOCS
from milvus_server import milvus  # noqa: F401 (fixture)
from serve_server import Served

from kb import cli
from kb.ingest.build import BuildConfig, build_index
from kb.serve.keys import add_key

SECRET_DOC = "kommunstyrelsen-verksamhetsberattelse-2023"
PUBLIC_DOC = "leanlink-verksamhetsberattelse-2019"
# words only the restricted report has: none may reach a key without its group
SECRET_MARKS = ("kommunstyrelsen", "tomträtt", "92,5", "2023", "hemtjänsten har")
QUESTIONS = ("varför underskott inom LSS", "hur hög var sjukfrånvaron 2019", "tomträttsförsäljningar överskott")


@dataclass
class Api:
    url: str
    tokens: dict[str, str]
    index: str

    def get(self, path: str, key: str | None = "alice", **params) -> httpx.Response:
        return httpx.get(self.url + path, params=params, headers=self.auth(key), timeout=60)

    def post(self, path: str, body, key: str | None = "alice", **params) -> httpx.Response:
        return httpx.post(self.url + path, params=params, json=body, headers=self.auth(key), timeout=60)

    def auth(self, key: str | None) -> dict[str, str]:
        return {} if key is None else {"Authorization": f"Bearer {self.tokens[key]}"}


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / f"{SECRET_DOC}.txt.meta.json").write_text(json.dumps({"access": ["ks"]}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def keyfile(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    tokens = {"alice": add_key(path, "alice", "reader", ("ks",)), "bob": add_key(path, "bob", "reader", ()),
              "admin": add_key(path, "admin", "admin", ()), "carol": add_key(path, "carol", "reader", (), rate=3)}
    return path, tokens


@pytest.fixture(scope="module")
def folder_index(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("served")
    build_index([write_corpus(base / "corpus")], base / "index", BuildConfig(embedder="hash:64"))
    return base / "index"


@pytest.fixture(scope="module")
def folder_api(folder_index, keyfile, tmp_path_factory):
    path, tokens = keyfile
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with Served(folder_index, keys=path, log=log) as s:
        yield Api(s.url, tokens, str(folder_index))


@pytest.fixture(scope="module")
def milvus_api(milvus, keyfile, tmp_path_factory):  # noqa: F811
    from kb.milvus.ingest import ingest_milvus

    path, tokens = keyfile
    base = tmp_path_factory.mktemp("served-milvus")
    uri = milvus.uri("kb_serve_access")
    ingest_milvus([write_corpus(base / "corpus")], uri, BuildConfig(embedder="hash:64"))
    with Served(uri, keys=path, log=base / "serve.log") as s:
        yield Api(s.url, tokens, uri)


@pytest.fixture(params=["folder", "milvus"])
def api(request) -> Api:
    return request.getfixturevalue(f"{request.param}_api")


def cli_json(capsys, *args: str):
    assert cli.main(list(args)) == 0
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else lines


def assert_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in r.text
    return body["error"]


def assert_no_trace(text: str) -> None:
    """No mark of the restricted report in a response (the question it echoes is the caller's own)."""
    body = json.loads(text)
    for obj in body if isinstance(body, list) else [body]:
        obj.pop("query", None), obj.pop("question", None)
    low = json.dumps(body, ensure_ascii=False).lower()
    for mark in SECRET_MARKS:
        assert mark not in low, f"{mark!r} leaked: {text[:300]}"


# -- the contract: the same JSON as the command line ------------------------------------------------

@pytest.mark.parametrize("question", QUESTIONS)
def test_search_and_ask_give_the_cli_json(folder_api, capsys, question):
    """alice may read both reports, as the command line does: the JSON is identical."""
    idx = folder_api.index
    want = cli_json(capsys, "search", question, "--index", idx, "--json", "-k", "4")
    assert folder_api.get("/v1/search", q=question, k=4).json() == want
    want = cli_json(capsys, "ask", question, "--index", idx, "--json", "-k", "3")
    assert folder_api.get("/v1/ask", q=question, k=3).json() == want


def test_filters_and_batch_give_the_cli_json(folder_api, capsys, tmp_path):
    idx = folder_api.index
    want = cli_json(capsys, "search", "underskott", "--index", idx, "--json", "--year", "2019", "--org", "Leanlink")
    got = folder_api.get("/v1/search", q="underskott", year=2019, organisation="Leanlink").json()
    assert got == want and got["hits"]
    queries = [{"id": "a", "query": "varför underskott inom LSS"}, {"id": "b", "query": "och"},
               {"id": "c", "query": "sjukfrånvaro"}]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    want = cli_json(capsys, "ask", "--queries", str(qfile), "--index", idx, "--json")
    got = folder_api.post("/v1/ask", {"queries": queries}).json()
    assert got == want and got[1]["error"] and got[0]["answer"]


# -- every endpoint --------------------------------------------------------------------------------

def test_health_info_documents_text_openapi(folder_api):
    assert httpx.get(folder_api.url + "/v1/health").json() == {"status": "ok"}  # no key needed
    info = folder_api.get("/v1/info").json()
    assert info["documents"] == 2 and info["key"] == "alice" and info["limits"]["max_k"] == 100
    docs = folder_api.get("/v1/documents").json()
    assert docs["count"] == 2 and docs["facets"]["years"] == [2019, 2023]
    hit = folder_api.get("/v1/search", q="tomträttsförsäljningar").json()["hits"][0]
    text = folder_api.get(f"/v1/documents/{hit['doc_id']}/text", start=hit["start"], end=hit["end"]).json()
    assert text["text"] == hit["text"] and text["doc_id"] == SECRET_DOC
    whole = folder_api.get(f"/v1/documents/{PUBLIC_DOC}/text").json()
    assert whole["text"] == SMALL_DOCS[f"{PUBLIC_DOC}.txt"] and whole["length"] == len(whole["text"])
    schema = httpx.get(folder_api.url + "/openapi.json").json()
    assert {"/v1/search", "/v1/ask", "/v1/documents", "/v1/info", "/v1/health"} <= set(schema["paths"])
    assert httpx.get(folder_api.url + "/docs").status_code == 200


def test_generate_without_a_language_model_says_so(folder_api):
    r = folder_api.post("/v1/ask", {"queries": [{"query": "varför underskott"}]}, generate="true")
    assert assert_error(r, 501)["code"] == "no_language_model"


# -- keys, roles, limits ---------------------------------------------------------------------------

def test_keys_roles_and_status_codes(folder_api):
    assert_error(folder_api.get("/v1/search", key=None, q="underskott"), 401)
    r = httpx.get(folder_api.url + "/v1/documents", headers={"Authorization": "Bearer kb_not-a-key"})
    assert_error(r, 401)
    assert_error(folder_api.get("/v1/keys", key="bob"), 403)
    listed = folder_api.get("/v1/keys", key="admin").json()["keys"]
    assert {k["name"] for k in listed} == {"alice", "bob", "admin", "carol"}
    assert not any(t in json.dumps(listed) for t in folder_api.tokens.values()) and "sha256" not in json.dumps(listed)
    assert_error(folder_api.get("/v1/nothing-here"), 404)
    assert_error(folder_api.get("/v1/documents/no-such-doc/text"), 404)


@pytest.mark.parametrize("params", [{"q": "x", "k": 0}, {"q": "x", "k": 101}, {"q": ""}, {"q": "a" * 1001},
                                    {"q": "x", "year": "tjugo"}, {"q": "x", "mode": "magic"}, {}])
def test_bad_search_parameters_are_422(folder_api, params):
    assert assert_error(folder_api.get("/v1/search", **params), 422)["code"] == "invalid"


def test_bad_bodies_and_ranges(folder_api):
    assert_error(folder_api.post("/v1/ask", {"queries": []}), 422)
    assert_error(folder_api.post("/v1/ask", {"queries": [{"query": "x"}], "k": 500}), 422)
    r = httpx.post(folder_api.url + "/v1/ask", content=b"{not json", headers=folder_api.auth("alice"))
    assert_error(r, 422)
    big = {"queries": [{"query": "underskott " * 30_000}]}
    assert assert_error(folder_api.post("/v1/ask", big), 413)["code"] == "too_large"
    assert_error(folder_api.post("/v1/ask", {"queries": [{"query": "underskott"}] * 101}), 413)
    assert_error(folder_api.get(f"/v1/documents/{PUBLIC_DOC}/text", start=50, end=10), 422)
    assert_error(folder_api.get(f"/v1/documents/{PUBLIC_DOC}/text", start=0, end=10**6), 422)
    assert_error(folder_api.get("/v1/ask", q="och"), 400)  # no topic words: kb's own message


def test_rate_limit_is_429_with_retry_after(folder_api):
    for _ in range(3):
        assert folder_api.get("/v1/documents", key="carol").status_code == 200
    r = folder_api.get("/v1/documents", key="carol")
    assert assert_error(r, 429)["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert folder_api.get("/v1/documents", key="bob").status_code == 200  # other keys are not counted


def test_the_log_names_the_key_never_the_key_or_the_question(folder_api, tmp_path_factory):
    folder_api.get("/v1/search", q="hemlig fråga om sjukfrånvaro")
    logs = list(Path(tmp_path_factory.getbasetemp()).glob("log*/serve.log"))
    text = logs[0].read_text(encoding="utf-8")
    assert "alice GET /v1/search 200" in text
    assert "hemlig" not in text and not any(t in text for t in folder_api.tokens.values())
    assert "sjukfrånvaro" not in text.lower()


# -- who may read what, on both back-ends ----------------------------------------------------------

def test_a_key_of_another_group_finds_no_trace_of_a_restricted_document(api):
    """bob (no group) tries every endpoint against the report of group ks: nothing of it anywhere."""
    seen = []
    for q in (*QUESTIONS, "Kommunstyrelsen ledande politiska förvaltningsorgan"):
        for path in ("/v1/search", "/v1/ask"):
            r = api.get(path, key="bob", q=q, k=10)
            assert r.status_code in (200, 400), r.text
            seen.append(r.text)
        r = api.get("/v1/search", key="bob", q=q, doc_id=SECRET_DOC)
        assert r.json() == api.get("/v1/search", key="bob", q=q, doc_id="no-such-doc").json() | {"query": q}
        assert r.json()["hits"] == []
    batch = api.post("/v1/ask", {"queries": [{"id": str(i), "query": q} for i, q in enumerate(QUESTIONS)]}, key="bob")
    seen.append(batch.text)
    docs = api.get("/v1/documents", key="bob").json()
    assert docs["count"] == 1 and [d["doc_id"] for d in docs["documents"]] == [PUBLIC_DOC]
    assert docs["facets"] == {"years": [2019], "organisations": ["Leanlink"], "doc_types": ["verksamhetsberättelse"]}
    seen.append(json.dumps(docs, ensure_ascii=False))
    info = api.get("/v1/info", key="bob").json()
    assert info["documents"] == 1 and "passages" not in info
    for key in ("bob", "admin"):  # admin has no group either: roles do not open documents
        forbidden = api.get(f"/v1/documents/{SECRET_DOC}/text", key=key, start=0, end=20)
        missing = api.get("/v1/documents/no-such-doc/text", key=key, start=0, end=20)
        assert forbidden.status_code == missing.status_code == 404
        assert forbidden.json()["error"]["message"].replace(SECRET_DOC, "X") == \
            missing.json()["error"]["message"].replace("no-such-doc", "X")
    for text in seen:
        assert_no_trace(text)


def test_a_key_of_the_group_reads_the_restricted_document(api):
    hits = api.get("/v1/search", key="alice", q="tomträttsförsäljningar", k=3).json()["hits"]
    assert hits and hits[0]["doc_id"] == SECRET_DOC
    assert api.get("/v1/documents", key="alice").json()["count"] == 2
    r = api.get(f"/v1/documents/{SECRET_DOC}/text", key="alice", start=hits[0]["start"], end=hits[0]["end"])
    assert r.json()["text"] == hits[0]["text"]


# -- generated answers, streamed -------------------------------------------------------------------

def sse_events(r: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in r.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


def test_generated_answer_streams_and_never_sends_a_forbidden_source(folder_index, keyfile, tmp_path):
    from llmfake import FakeLLM

    path, tokens = keyfile
    pieces = ("Kommunstyrelsen redovisar ett överskott ", "med 92,5 mnkr [1].")
    with FakeLLM(pieces=pieces) as fake, \
            Served(folder_index, keys=path, env={"KB_LLM_URL": fake.url, "KB_LLM_MODEL": "fake"},
                   log=tmp_path / "serve.log") as s:
        api = Api(s.url, tokens, str(folder_index))
        body = {"queries": [{"query": "tomträttsförsäljningar överskott underskott LSS"}], "k": 3}
        with httpx.stream("POST", s.url + "/v1/ask", params={"generate": "true"}, json=body,
                          headers=api.auth("alice"), timeout=60) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            events = sse_events(r)
        assert [n for n, _ in events][-1] == "answer" and "".join(d["text"] for n, d in events if n == "text") == "".join(pieces)
        final = events[-1][1]
        assert final["generated"]["model"] == "fake" and final["hits"] and "series" in final
        sent = json.dumps(fake.requests[-1][2], ensure_ascii=False)
        assert "Tomträttsförsäljningar" in sent or "tomträttsförsäljningar" in sent  # alice's sources include it
        with httpx.stream("POST", s.url + "/v1/ask", params={"generate": "true"}, json=body,
                          headers=api.auth("bob"), timeout=60) as r:
            events = sse_events(r)
        final = events[-1][1]
        prompt = fake.requests[-1][2]["messages"][-1]["content"].split("<source", 1)[-1]
        assert "tomträtt" not in prompt.lower() and "92,5" not in prompt  # the question itself is bob's own
        assert all(h["doc_id"] == PUBLIC_DOC for h in final["hits"])
        assert_error(api.post("/v1/ask", {"queries": [{"query": "a b"}, {"query": "c d"}]}, generate="true"), 422)


# -- a new generation is picked up while the server answers ---------------------------------------

WORDS = ("Alfabelysningen", "Betaskyltarna", "Gammapollarna")


def test_reingest_is_picked_up_without_a_failed_request(keyfile, tmp_path):
    import threading

    path, tokens = keyfile
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build_index([corpus], index, BuildConfig(embedder="hash:64"))
    with Served(index, keys=path, workers=2, log=tmp_path / "serve.log") as s:
        api = Api(s.url, tokens, str(index))
        statuses: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(headers=api.auth("alice"), timeout=60) as c:
                while not stop.is_set():
                    statuses.append(c.get(s.url + "/v1/search", params={"q": "underskott LSS"}).status_code)
                    statuses.append(c.get(s.url + "/v1/ask", params={"q": "varför underskott"}).status_code)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for i in range(3):  # three new generations while the server answers
                (corpus / f"gata-{i}.txt").write_text(f" Gator\n{WORDS[i]} byttes mot LED.\n", encoding="utf-8")
                build_index([corpus], index, BuildConfig(embedder="hash:64"))
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert statuses and set(statuses) == {200}, sorted(set(statuses))
        for _ in range(3):  # every worker answers from the newest generation
            for i, word in enumerate(WORDS):
                assert api.get("/v1/search", q=word, mode="bm25").json()["hits"][0]["doc_id"] == f"gata-{i}"
        # the rate limit holds across the worker processes (each request on a new connection)
        codes = [api.get("/v1/documents", key="carol").status_code for _ in range(6)]
        assert codes == [200, 200, 200, 429, 429, 429]


def test_without_keys_only_loopback_and_an_empty_key_file_is_refused(folder_index, tmp_path, capsys):
    assert cli.main(["serve", "--index", str(folder_index), "--host", "0.0.0.0"]) == 2
    assert "without --keys the server answers only on 127.0.0.1" in capsys.readouterr().err
    empty = tmp_path / "keys.json"
    token = add_key(empty, "x", "reader", ())
    assert cli.main(["keys", "remove", "x", "--keys", str(empty)]) == 0
    assert cli.main(["serve", "--index", str(folder_index), "--keys", str(empty), "--host", "0.0.0.0"]) == 2
    assert "holds no key" in capsys.readouterr().err and token not in empty.read_text()


def test_keys_cli_prints_the_key_once_and_stores_only_its_hash(tmp_path, capsys):
    path = tmp_path / "keys.json"
    assert cli.main(["keys", "add", "eva", "--role", "admin", "--groups", "ks,ekonomi", "--rate", "5",
                     "--keys", str(path)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("kb_") and token not in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert cli.main(["keys", "list", "--keys", str(path)]) == 0
    listed = capsys.readouterr().out
    assert "eva\tadmin\tgroups=ekonomi,ks\trate=5" in listed and token not in listed
    assert cli.main(["keys", "add", "eva", "--keys", str(path)]) == 2  # names are unique
    assert cli.main(["keys", "add", "bad", "--groups", "a b", "--keys", str(path)]) == 2
    assert cli.main(["keys", "remove", "nobody", "--keys", str(path)]) == 2


def test_real_index_dev_questions_give_the_cli_json(real_index, capsys):
    """The dev questions (and a series question) on the real index, served without keys (127.0.0.1)."""
    from conftest import DEV

    questions = [json.loads(line)["query"] for line in DEV.read_text(encoding="utf-8").splitlines()[:12]]
    questions.append("Hur har sjukfrånvaron utvecklats 2021–2023?")
    with Served(real_index) as s:
        for q in questions:
            want = cli_json(capsys, "search", q, "--index", str(real_index), "--json", "-k", "10")
            assert httpx.get(s.url + "/v1/search", params={"q": q}, timeout=120).json() == want
            want = cli_json(capsys, "ask", q, "--index", str(real_index), "--json")
            assert httpx.get(s.url + "/v1/ask", params={"q": q}, timeout=120).json() == want


def test_a_request_over_the_time_limit_is_504(folder_index, tmp_path):
    with Served(folder_index, extra=("--timeout", "0.0005"), log=tmp_path / "serve.log") as s:
        r = httpx.get(s.url + "/v1/ask", params={"q": "varför underskott inom LSS"}, timeout=60)
        assert assert_error(r, 504)["code"] == "timeout"
        assert httpx.get(s.url + "/v1/health").status_code == 200  # and the server goes on


# -- the access filter in the library -----------------------------------------------------------------

def test_access_filter_in_passes_filter_expr_and_the_sidecar(tmp_path):
    from kb.errors import IngestError
    from kb.ingest.meta import check_sidecar
    from kb.local import passes
    from kb.milvus.store import filter_expr
    from kb.records import DocHead, DocMeta, Filters

    heads = [DocHead("open", DocMeta("A")), DocHead("ks", DocMeta("B", access=("ks",))),
             DocHead("both", DocMeta("C", access=("ks", "eko")))]
    assert [h.doc_id for h in heads if passes(Filters(access=("eko",)), h)] == ["open", "both"]
    assert [h.doc_id for h in heads if passes(Filters(access=()), h)] == ["open"]
    assert all(passes(Filters(), h) for h in heads)  # no reader: the command line reads everything
    assert filter_expr(Filters(access=("ks",)), heads) == 'doc_id in ["open", "ks", "both"]'
    assert filter_expr(Filters(access=("x",), years=(2023,)), heads[1:]) == 'doc_id in [""] and year in [2023]'
    assert filter_expr(Filters(years=(2023,)), heads) == "year in [2023]"
    assert DocMeta("D", access=["b", "a"]).access == ("b", "a")
    assert DocMeta("D", access="ks").access == ("\x00unreadable",)  # damaged: nobody, not everybody
    assert check_sidecar({"access": ["ks", "eko", "ks"]}) == {"access": ("eko", "ks")}
    assert check_sidecar({"access": None}) == {"access": ()}
    for bad in ("ks", [""], ["a b"], [1], ["x" * 65]):
        with pytest.raises(IngestError):
            check_sidecar({"access": bad})
