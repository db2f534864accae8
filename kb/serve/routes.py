"""The endpoints of ``kb serve`` (except the streamed generated answer, :mod:`kb.serve.stream`).

``/v1/search`` and ``/v1/ask`` return exactly the JSON of ``kb search --json`` and ``kb ask
--json`` (:mod:`kb.contract`); every search runs with the reader's access groups as a filter
(:func:`kb.serve.access.restrict`).
"""
from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from ..answer.extract import QuestionError, ask
from ..contract import answer_error_json, answer_json, search_json
from ..records import Filters
from ..search import MAX_QUERY_CHARS, MODES
from .access import (
    Reader,
    document_row,
    facets,
    readable_document,
    restrict,
    visible_heads,
)
from .app import need, state_of
from .errors import ApiError
from .limits import MAX_K

router = APIRouter()


def kb_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kb")
    except PackageNotFoundError:
        return "unknown"

Question = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="the question or keywords")]
Years = Annotated[list[int] | None, Query(description="only reports about these years (repeatable)")]
Texts = Annotated[list[str] | None, Query(description="repeatable")]
Reading = Annotated[Reader, Depends(need("read"))]
Admin = Annotated[Reader, Depends(need("admin"))]
ModeParam = Annotated[str, Query(pattern="^(" + "|".join(MODES) + ")$")]


def json_response(obj: Any) -> Response:
    """A JSON response encoded in the worker thread (not on the event loop, and without FastAPI's
    per-field encoder: the contract's objects are plain JSON already)."""
    body = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return Response(body, media_type="application/json")


def answered(kb: Any, question: str, k: int, filters: Filters, mode: str) -> tuple[Any, Any, list]:
    """Search, quoted answer and series of one question, as ``kb ask`` makes them (the reader's
    filters apply to all three)."""
    from ..series import series

    res, ans = ask(kb, question, k=k, filters=filters, mode=mode)
    return res, ans, series(kb, question, filters=filters, mode=mode)


def filters_of(year: list[int] | None, organisation: list[str] | None, doc_type: list[str] | None,
               doc_id: list[str] | None) -> Filters:
    return Filters(years=tuple(year or ()), organisations=tuple(organisation or ()), doc_types=tuple(doc_type or ()),
                   doc_ids=tuple(doc_id or ()))


class QueryLine(BaseModel):
    id: str | None = Field(None, max_length=200)
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)


class AskBatch(BaseModel):
    """``POST /v1/ask``: the lines of ``kb ask --queries`` ({id, query}), with filters for all."""

    queries: list[QueryLine] = Field(min_length=1)
    k: int = Field(5, ge=1, le=MAX_K)
    year: list[int] = []
    organisation: list[str] = []
    doc_type: list[str] = []
    doc_id: list[str] = []
    mode: str = Field("hybrid", pattern="^(" + "|".join(MODES) + ")$")

    def filters(self) -> Filters:
        return filters_of(self.year, self.organisation, self.doc_type, self.doc_id)


@router.get("/v1/health", tags=["server"])
def health() -> dict[str, str]:
    """Liveness; needs no key and tells nothing about the index."""
    return {"status": "ok"}


@router.get("/v1/info", tags=["server"])
async def info(request: Request, reader: Reading) -> dict[str, Any]:
    """What the index holds, as far as the key may see it."""
    state = state_of(request)
    kb = await state.run(state.kb)
    heads = visible_heads(kb, reader)
    out = {"kb_version": kb_version(), "generation": kb.generation, "documents": len(heads),
           "embedder": kb.manifest.embedder.id, "key": reader.name, "role": reader.role,
           "limits": state.limits.to_json()}
    if reader.groups is None:  # passages are counted over every document
        out["passages"] = kb.stats()["passages"]
    return out


@router.get("/v1/search", tags=["search"])
async def search(request: Request, reader: Reading, q: Question, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
                 year: Years = None, organisation: Texts = None, doc_type: Texts = None, doc_id: Texts = None,
                 mode: ModeParam = "hybrid") -> Response:
    """The k best passages: exactly ``kb search --json``."""
    state = state_of(request)
    filters = restrict(filters_of(year, organisation, doc_type, doc_id), reader)

    def work() -> dict[str, Any]:
        return search_json("query", q, state.kb().search(q, k=k, filters=filters, mode=mode).hits)

    return await state.run(lambda: json_response(work()))


@router.get("/v1/ask", tags=["answer"])
async def ask_one(request: Request, reader: Reading, q: Question, k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
                  year: Years = None, organisation: Texts = None, doc_type: Texts = None, doc_id: Texts = None,
                  mode: ModeParam = "hybrid") -> Response:
    """A quoted answer with cited hits: exactly ``kb ask --json``."""
    state = state_of(request)
    filters = restrict(filters_of(year, organisation, doc_type, doc_id), reader)

    def work() -> dict[str, Any]:
        res, ans, ser = answered(state.kb(), q, k, filters, mode)
        return answer_json("question", q, res, ans, k, series=ser)

    return await state.run(lambda: json_response(work()))


@router.post("/v1/ask", tags=["answer"])
async def ask_batch(request: Request, reader: Reading, body: AskBatch, generate: bool = False) -> Any:
    """Answers to several questions: one object per line of ``kb ask --queries --json``, in order.
    ``?generate=true`` streams a language model's answer to one question (:mod:`kb.serve.stream`)."""
    state = state_of(request)
    if generate:
        from .stream import generated_stream

        return await generated_stream(state, body, reader)
    if len(body.queries) > state.limits.max_batch:
        raise ApiError(413, f"at most {state.limits.max_batch} questions in one request")
    filters = restrict(body.filters(), reader)

    def work() -> list[dict[str, Any]]:
        kb = state.kb()
        out = []
        for i, line in enumerate(body.queries, 1):
            qid = line.id if line.id is not None else str(i)
            try:
                res, ans, ser = answered(kb, line.query, body.k, filters, body.mode)
            except QuestionError as e:
                out.append(answer_error_json("query_id", qid, str(e)))
                continue
            out.append(answer_json("query_id", qid, res, ans, body.k, series=ser))
        return out

    return await state.run(lambda: json_response(work()))


@router.get("/v1/documents", tags=["documents"])
async def documents(request: Request, reader: Reading) -> dict[str, Any]:
    """The documents the key may read and the filter values they have."""
    state = state_of(request)
    heads = visible_heads(await state.run(state.kb), reader)
    return {"count": len(heads), "facets": facets(heads), "documents": [document_row(h) for h in heads]}


@router.get("/v1/documents/{doc_id:path}/text", tags=["documents"])
async def document_text(request: Request, reader: Reading, doc_id: str, start: Annotated[int, Query(ge=0)] = 0,
                        end: Annotated[int | None, Query(ge=0)] = None) -> dict[str, Any]:
    """``document_text[start:end]``: the exact text around a citation (at most ``max_text_chars``)."""
    state = state_of(request)
    doc = await state.run(lambda: readable_document(state.kb(), reader, doc_id))
    n = len(doc.text)
    stop = min(n, start + state.limits.max_text_chars) if end is None else end
    if start > n or stop > n or stop < start:
        raise ApiError(422, f"start and end must satisfy 0 <= start <= end <= {n} (the document's length)")
    if stop - start > state.limits.max_text_chars:
        raise ApiError(422, f"at most {state.limits.max_text_chars} characters at a time")
    return {"doc_id": doc.doc_id, "title": doc.meta.title, "start": start, "end": stop, "length": n,
            "text": doc.text[start:stop]}


@router.get("/v1/keys", tags=["server"])
async def keys(request: Request, reader: Admin) -> dict[str, Any]:
    """The server's keys (names, roles, groups; never a key or its hash): admin keys only."""
    keyfile = state_of(request).keyfile
    return {"keys": [k.public() for k in keyfile.current()] if keyfile is not None else []}
