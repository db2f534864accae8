"""Generated answers: the top passages go to an OpenAI-compatible chat server, and every sentence
of its answer is checked against the passages it cites before anyone is shown it as supported.

Optional and off by default: nothing is sent anywhere unless ``KB_LLM_URL`` is set
(:class:`kb.answer.client.LLMSettings`). The extractive answer (:mod:`kb.answer.extract`) stays the
offline answer and the fallback.

Pipeline (:func:`generate`):

1. **Prompt** (:func:`kb.answer.prompt.build_messages`, pure): the instruction as system message, the
   question and the escaped sources in the user turn.
2. **Request** (:func:`kb.answer.client.stream_chat`): the OpenAI-compatible chat request, streamed; its
   settings, deadline and error messages are in :mod:`kb.answer.client`.
3. **Check** (:mod:`kb.answer.check`, pure): every sentence against the sources it cites; when no
   sentence is supported the caller shows the extractive answer (``fallback``).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..analyze import Analyzer
from ..errors import LLMError
from .check import CheckedSentence, build_evidence, check_answer
from .client import LLMSettings, stream_chat
from .prompt import Source, build_messages

# -- the whole step -------------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """A generated answer after the check. ``fallback``: no sentence is supported (or the server
    failed, see ``error``), so the extractive answer is to be shown instead."""

    model: str
    text: str
    sentences: tuple[CheckedSentence, ...]
    fallback: bool
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"model": self.model, "sentences": [s.to_json() for s in self.sentences],
                "fallback": self.fallback, "error": self.error}


def generate(
    settings: LLMSettings,
    question: str,
    sources: Sequence[Source],
    analyzer: Analyzer,
    on_text: Callable[[str], None] | None = None,
) -> Generated:
    """Ask the server, check every sentence, decide the fallback. Server failures do not raise: they
    come back as ``error`` with ``fallback`` set. ``on_text`` sees the answer so far after each piece."""
    t0 = time.perf_counter()
    text = ""
    try:
        for piece in stream_chat(settings, build_messages(question, sources)):
            text += piece
            if on_text is not None:
                on_text(text)
    except LLMError as e:
        return Generated(settings.model, text, (), True, str(e), time.perf_counter() - t0)
    checked = check_answer(text, build_evidence(sources, analyzer), analyzer)
    fallback = not any(s.supported for s in checked)
    return Generated(settings.model, text, checked, fallback, None, time.perf_counter() - t0)
