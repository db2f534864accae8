"""``POST /v1/ask?generate=true``: a language model's answer, streamed as server-sent events.

Only with a language model server configured (``KB_LLM_URL``, :mod:`kb.answer.client`); otherwise
the answer is a JSON error (501). The model gets the top hits of the reader's own search, so a
passage the key may not read is never sent to it. Events::

    event: text     data: {"text": "..."}                 the answer as it grows (new text only)
    event: answer   data: <kb ask --generate --json>      the checked answer and the hits, last
    event: error    data: {"error": {"code", "message"}}  a failure after the stream began
"""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from ..answer.client import LLMSettings
from ..answer.generate import generate
from ..answer.prompt import sources_from_hits
from ..contract import answer_json
from ..errors import KBError
from .access import Reader, restrict
from .errors import ApiError, error_body

END = object()


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _settings() -> LLMSettings:
    try:
        settings = LLMSettings.from_env()
    except KBError as e:
        raise ApiError(501, f"the language model server is misconfigured: {e}", "no_language_model") from None
    if settings is None:
        raise ApiError(501, "no language model is configured on this server (KB_LLM_URL is not set); "
                            "GET /v1/ask gives the quoted answer", "no_language_model")
    return settings


async def generated_stream(state: Any, body: Any, reader: Reader) -> StreamingResponse:
    from .routes import answered

    settings = _settings()
    if len(body.queries) != 1:
        raise ApiError(422, "generate=true answers one question: send one line in queries")
    question = body.queries[0].query
    filters = restrict(body.filters(), reader)
    kb = await state.run(state.kb)
    res, ans, ser = await state.run(lambda: answered(kb, question, body.k, filters, body.mode))
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        seen = [0]

        def on_text(text: str) -> None:
            put(("text", {"text": text[seen[0]:]}))
            seen[0] = len(text)

        try:
            gen = generate(settings, question, sources_from_hits(res.hits, min(body.k, 5)), kb.analyzer, on_text)
            put(("answer", answer_json("question", question, res, ans, body.k, gen, series=ser)))
        except Exception as e:  # noqa: BLE001 - reported as an event, the stream ends cleanly
            put(("error", error_body(500, f"the generated answer failed ({type(e).__name__})")))
        put(END)

    threading.Thread(target=work, name="kb-generate", daemon=True).start()

    async def events() -> AsyncIterator[bytes]:
        while True:
            item = await queue.get()
            if item is END:
                return
            yield sse(*item)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
