"""Checking an answer while it streams in: each completed sentence is checked once.

The UI shows a generated answer sentence by sentence as the server streams it. Re-checking the whole
answer on every streamed piece costs (pieces x sentences) checks, which for a long answer is many
times the time of the answer itself; :class:`StreamCheck` keeps the verdicts of the sentences already
checked and checks only the ones completed since. A sentence counts as completed once the next one
has begun (the last one may still be growing); a sentence whose text changes after it was checked
(the parse moved a boundary) is checked again, so the result always equals
``check_answer(text, ..., complete_only=True)``.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..analyze import Analyzer
from . import check
from .check import CheckedSentence, Evidence, GeneratedSentence


class StreamCheck:
    """The verdicts of the completed sentences of a growing answer, each sentence checked once."""

    def __init__(self, evidence: Mapping[int, Evidence], analyzer: Analyzer) -> None:
        self.evidence, self.analyzer = evidence, analyzer
        self._sentences: tuple[GeneratedSentence, ...] = ()
        self._verdicts: tuple[CheckedSentence, ...] = ()

    def update(self, text: str) -> tuple[CheckedSentence, ...]:
        """The verdicts of the completed sentences of ``text`` (the answer so far)."""
        done = check.parse_sentences(text)[:-1]
        same = 0
        while same < min(len(done), len(self._sentences)) and done[same] == self._sentences[same]:
            same += 1
        new = tuple(check.check_sentence(s, self.evidence, self.analyzer) for s in done[same:])
        self._sentences, self._verdicts = done, self._verdicts[:same] + new
        return self._verdicts
