"""Property-based tests of ``kb serve`` from its own OpenAPI schema (schemathesis, bounded).

Generated requests for every operation go to a real server process; whatever they hold, the
server never answers 5xx (but 501 for a generated answer without a language model), and every error has the one JSON shape ``{"error": {"code", "message"}}``.
"""
from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from serve_server import Served

from kb.ingest.build import BuildConfig, build_index
from kb.serve.keys import add_key


@pytest.fixture(scope="module")
def served(tmp_path_factory, small_corpus_module):
    base = tmp_path_factory.mktemp("schema")
    build_index([small_corpus_module], base / "index", BuildConfig(embedder="hash:64"))
    token = add_key(base / "keys.json", "prop", "admin", ())
    with Served(base / "index", keys=base / "keys.json", log=base / "serve.log") as s:
        yield s, token


@pytest.fixture(scope="module")
def small_corpus_module(tmp_path_factory):
    from conftest import SMALL_DOCS

    folder = tmp_path_factory.mktemp("corpus")
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def error_shape(ctx, response, case) -> None:
    """Errors in the one shape; no 5xx but 501 for a generated answer on a server without a model."""
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        if response.status_code >= 500:
            assert (response.status_code, body["error"]["code"]) == (501, "no_language_model"), body


def test_no_generated_request_makes_a_server_error(served):
    """Every operation of /openapi.json, 25 generated requests each (derandomized: the same on every run)."""
    s, token = served
    schema = schemathesis.openapi.from_url(s.url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 8
    for op in operations:

        @hypothesis.given(case=op.as_strategy())
        @hypothesis.settings(max_examples=25, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def check(case) -> None:
            case.call_and_validate(base_url=s.url, headers={"Authorization": f"Bearer {token}"},
                                   checks=[error_shape], timeout=60)

        check()
