"""The check of a generated answer: its sentences and citations, and each sentence's verdict
against the sources it cites (pure functions).

1. **Sentences** (:func:`parse_sentences`): the output is split into sentences at ``.!?``
   (also when followed by citation brackets), at line breaks and bullets; the citations
   ``[n]``, ``[n, m]``, ``[n][m]``, ``[n–m]`` of each sentence are collected and removed from
   its text.
2. **Check** (:func:`check_sentence`, the guard). A sentence is *supported* only when
   (a) it cites at least one source and every number it cites is a source that was sent;
   (b) every content word is found in the union of the cited sources (passage text plus the
   ref line the model was shown): a word counts as found when its index term (kb's analysis:
   stems, definite-form conflation) is among the sources' terms, or when all parts of its
   compound split are. Content words are all words of two or more letters except kb's stop
   words and a short list of attribution words (:data:`GLUE_WORDS`: "enligt", "rapporten",
   "också" …). The threshold is all of them, no share: one unknown word rejects the sentence.
   Negations ("inte", "ej", "ingen" …) are stop words for search but not here: a negated
   sentence needs a cited source that negates, and a sentence that uses both words around a
   negation of the source ("ersättningen inte täcker") without negating is rejected;
   (c) every number (integers, decimals with comma or point, thousands with spaces, a sign
   ``-``/``−``/``–`` also with one space after it, an optional unit mnkr/mkr/tkr/kr/%/procent …)
   appears with the same value and sign, and a compatible unit (the same, or none on one side),
   in a sentence of a cited passage that shares at least two of the sentence's content words
   (all of them when it has fewer), as many times as the sentence repeats it. The ref line's
   year does not count: a figure must stand in the passage. "-18 mnkr" needs -18 in the source:
   18 there is not -18, and neither is "2019 – 18" (a dash after a number is a separator, not a sign);
   (d) it has something to check (at least one content word or number).
   Sentences that fail are kept with ``supported = False`` and a reason, and shown as "ej
   belagt"; when no sentence is supported the caller shows the extractive answer (``fallback``).

The check says what the source says, not whether it is true.
"""
from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..analyze import Analyzer
from ..sentences import sentence_text, split_spans
from ..text import ends_with_abbreviation, nfc, sentence_breaks, tokenize
from .prompt import Source

# words a generated sentence may add without the sources having them (attribution, not claims)
GLUE_WORDS = frozenset(
    """enligt källa källan källor källorna rapport rapporten rapporter rapporterna dokument dokumentet
    uppger anger skriver står framgår framgick också även dessutom""".split()
)
# negations are stop words for search but change a claim: a negated sentence needs a negated source
NEGATIONS = frozenset("inte ej icke ingen inget inga aldrig varken".split())


# -- parsing the output ---------------------------------------------------------------------

_CITE = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:[,;]|[-–])\s*\d{1,3})*)\s*\]")
_CITES_AFTER = r"(?:\s*\[\s*\d{1,3}(?:\s*(?:[,;]|[-–])\s*\d{1,3})*\s*\])*"
# a sentence ends at . ! ? (with closing quotes and any citation brackets after it) before whitespace
# and a capital, digit, quote, bracket or the end
_END = re.compile(r"[.!?]+[\"”’)]*" + _CITES_AFTER + r"(?=\s+[\"”“(\[–-]?[A-ZÅÄÖÉÜ0-9\[]|\s*$)")
_BULLET = re.compile(r"^\s*(?:[-*•·–]|\d{1,2}[.)])\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class GeneratedSentence:
    """One sentence of the model's answer: its text without citation brackets, and what it cites."""

    text: str
    citations: tuple[int, ...]


def _citation_numbers(group: str) -> list[int]:
    """[1, 3] → 1, 3; [2–4] → 2, 3, 4 (a short range only)."""
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        ends = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] < 20:
            out.extend(range(ends[0], ends[1] + 1))
        else:
            out.extend(ends)
    return out


def _split_block(block: str) -> list[str]:
    pieces, pos = [], 0
    for m in _END.finditer(block):
        if ends_with_abbreviation(block[pos : m.start() + 1]):
            continue
        pieces.append(block[pos : m.end()])
        pos = m.end()
    pieces.append(block[pos:])
    return [" ".join(p.split()) for p in pieces if p.strip()]


def parse_sentences(output: str) -> tuple[GeneratedSentence, ...]:
    """The model's answer as sentences with their citations (HTML entities decoded first)."""
    text = _CONTROL.sub("", nfc(html.unescape(output)))  # no terminal escapes from a model
    out = []
    for line in text.splitlines():
        line = _BULLET.sub("", line)
        for raw in _split_block(line):
            cites = [n for m in _CITE.finditer(raw) for n in _citation_numbers(m.group(1))]
            clean = " ".join(_CITE.sub(" ", raw).split())
            clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
            if re.search(r"[^\W_]", clean) or cites:
                out.append(GeneratedSentence(clean, tuple(dict.fromkeys(cites))))
    return tuple(out)


# -- numbers --------------------------------------------------------------------------------

_MINUS = "-−–‑"
_NUMBER = re.compile(
    r"(?P<sign>[-−–‑+] ?)?(?<![\d.,])(?P<int>\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+)(?:[.,](?P<frac>\d+))?"
    r"(?: ?(?P<unit>miljoner kronor|miljarder kronor|tusen kronor|procentenheter|procent|mnkr|mkr|mdkr|"
    r"tkr|kronor|kr|miljoner|miljarder|%)(?![^\W\d_]))?",
    re.IGNORECASE,
)
_UNITS = {"miljoner kronor": "mnkr", "mkr": "mnkr", "mnkr": "mnkr", "miljoner": "mnkr", "miljarder kronor": "mdkr",
          "miljarder": "mdkr", "mdkr": "mdkr", "tusen kronor": "tkr", "tkr": "tkr", "kronor": "kr", "kr": "kr",
          "procent": "%", "%": "%", "procentenheter": "procentenheter"}


@dataclass(frozen=True)
class Number:
    """A number as written: sign ("-" or ""), exact value, canonical unit (or None) and its text."""

    sign: str
    value: Decimal
    unit: str | None
    text: str

    def matches(self, other: Number) -> bool:
        """Same sign and value, and the same unit unless one side has none."""
        return (self.sign, self.value) == (other.sign, other.value) and (
            self.unit is None or other.unit is None or self.unit == other.unit
        )


def find_numbers(text: str) -> list[Number]:
    """Numbers in a text (whitespace collapsed first). A sign counts only at the start, after a space
    or an opening bracket, not after a number or a word ("2019 – 2020", "covid-19" have none)."""
    text = " ".join(nfc(text).split())
    out = []
    for m in _NUMBER.finditer(text):
        sign = (m.group("sign") or "").strip()
        prev = text[m.start() - 1] if m.start() else ""
        if sign and (prev.isalnum() or (prev == " " and text[: m.start()].rstrip()[-1:].isdigit())):
            sign = ""  # a dash inside a word or between numbers ("covid-19", "2019 – 2020"), not a minus
        digits = re.sub(r"\D", "", m.group("int"))
        value = Decimal(digits + ("." + m.group("frac") if m.group("frac") else ""))
        unit = _UNITS.get((m.group("unit") or "").lower()) if m.group("unit") else None
        shown = m.group(0)[(0 if sign else m.start("int") - m.start()):].strip()
        out.append(Number("-" if sign and sign in _MINUS else "", value, unit, shown))
    return out


# -- the check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One sentence of a source (or its ref line): its terms, numbers, and the negations in it as
    the terms on either side ("ersättningen inte täcker" → (ersättning, täck))."""

    terms: frozenset[str]
    numbers: tuple[Number, ...]
    negated_pairs: frozenset[tuple[str, str]]
    negates: bool


@dataclass(frozen=True)
class Evidence:
    """What one source offers a sentence citing it: all its terms, and its sentences as units."""

    terms: frozenset[str]
    units: tuple[Unit, ...]


@dataclass(frozen=True)
class CheckedSentence:
    """A generated sentence and the verdict of the check (``reason`` says why it is not supported)."""

    text: str
    citations: tuple[int, ...]
    supported: bool
    reason: str = ""

    def to_json(self) -> dict:
        return {"text": self.text, "citations": list(self.citations), "supported": self.supported,
                "reason": self.reason}


def unit_of(sentence: str, analyzer: Analyzer) -> Unit:
    """The evidence of one source sentence."""
    words = [w for w in tokenize(sentence) if w in NEGATIONS or not (analyzer.is_stopword(w) or w[0].isdigit())]
    pairs = {
        (analyzer.term(words[i - 1]), analyzer.term(words[i + 1]))
        for i, w in enumerate(words)
        if w in NEGATIONS and 0 < i < len(words) - 1 and words[i - 1] not in NEGATIONS and words[i + 1] not in NEGATIONS
    }
    return Unit(frozenset(analyzer.passage_terms(sentence)), tuple(find_numbers(sentence)), frozenset(pairs),
                any(w in NEGATIONS for w in words))


def source_sentences(text: str) -> list[str]:
    """A passage's units as kb splits them (:mod:`kb.sentences`), each also cut at sentence ends (a
    long line of prose with figures can pass for a table row)."""
    out = []
    for sp in split_spans(text):
        unit, pos = sentence_text(text[sp.start : sp.end]), 0
        for end, start in sentence_breaks(unit):
            out.append(unit[pos:end])
            pos = start
        out.append(unit[pos:])
    return [u for u in out if u.strip()]


def evidence_of(source: Source, analyzer: Analyzer) -> Evidence:
    """The evidence of a source: its ref line and its sentences, analysed as kb analyses passages."""
    ref = unit_of(source.ref, analyzer)  # its words count, its numbers (the report's year) do not:
    ref = Unit(ref.terms, (), ref.negated_pairs, ref.negates)  # a figure must stand in the passage
    units = (ref, *(unit_of(t, analyzer) for t in source_sentences(source.text)))
    # the units' own terms too: a unit joins a word that a PDF conversion broke across blank lines
    # ("gruppbo-" / "" / "ende"), which the passage's text, analysed as it stands, splits in two
    return Evidence(frozenset(analyzer.passage_terms(f"{source.ref}\n{source.text}")).union(*(u.terms for u in units)),
                    units)


def build_evidence(sources: Sequence[Source], analyzer: Analyzer) -> dict[int, Evidence]:
    return {s.number: evidence_of(s, analyzer) for s in sources}


def _word_found(word: str, terms: frozenset[str] | set[str], analyzer: Analyzer) -> bool:
    if analyzer.term(word) in terms:
        return True
    parts = analyzer.split_compound(word)
    return bool(parts) and all(analyzer.term(p) in terms for p in parts)


def _negation_problem(words: Sequence[str], own: set[str], units: Sequence[Unit]) -> str:
    """A negated sentence needs a source sentence on its topic that negates; a sentence using both words
    around a source's negation needs a source sentence that has them without it."""
    if any(w in NEGATIONS for w in words):
        if not any(u.negates and u.terms & own for u in units):
            return "negated, but the cited sources are not"
        return ""
    for u in units:
        for a, b in u.negated_pairs:
            if a in own and b in own and not any(a in v.terms and b in v.terms and (a, b) not in v.negated_pairs
                                                 for v in units):
                return f"drops a negation of the cited source ({a} … {b})"
    return ""


def _number_problem(text: str, own: set[str], units: Sequence[Unit]) -> str:
    """Every number must stand, same sign and value, in a cited passage sentence that shares a word with
    the sentence, and as often as the sentence repeats it ("2023 och 2023" needs two)."""
    near = [p for u in units if len(u.terms & own) >= min(2, len(own)) for p in u.numbers]
    nums = find_numbers(text)
    wrong = [n.text for n in nums
             if sum(n.matches(p) for p in near) < sum((m.sign, m.value) == (n.sign, n.value) for m in nums)]
    return "numbers not in the cited sources: " + ", ".join(dict.fromkeys(wrong)) if wrong else ""


def check_sentence(sentence: GeneratedSentence, evidence: Mapping[int, Evidence], analyzer: Analyzer) -> CheckedSentence:
    """The verdict for one sentence against the evidence of the sources it cites (rules in the module doc)."""

    def verdict(reason: str = "") -> CheckedSentence:
        return CheckedSentence(sentence.text, sentence.citations, not reason, reason)

    if not sentence.citations:
        return verdict("cites no source")
    unknown = [n for n in sentence.citations if n not in evidence]
    if unknown:
        return verdict("cites a source that was not given: " + ", ".join(f"[{n}]" for n in unknown))
    cited = [evidence[n] for n in sentence.citations]
    terms = set().union(*(e.terms for e in cited))
    # numbers and their units are checked as numbers below, the remaining words as words
    words = [w for w in tokenize(_NUMBER.sub(" ", sentence.text)) if not w[0].isdigit() and len(w) > 1]
    missing = [w for w in words if w not in NEGATIONS and w not in GLUE_WORDS and not analyzer.is_stopword(w)
               and not _word_found(w, terms, analyzer)]
    if missing:
        return verdict("words not in the cited sources: " + ", ".join(dict.fromkeys(missing)))
    content = [w for w in words if w not in GLUE_WORDS and not analyzer.is_stopword(w)]
    own = {t for w in content for t in (analyzer.term(w), *map(analyzer.term, analyzer.split_compound(w)))}
    units = [u for e in cited for u in e.units]
    reason = _negation_problem(words, own, units) or _number_problem(sentence.text, own, units)
    if reason:
        return verdict(reason)
    if not content and not find_numbers(sentence.text):
        return verdict("nothing to check")
    return verdict()


def check_answer(
    output: str, evidence: Mapping[int, Evidence], analyzer: Analyzer, complete_only: bool = False
) -> tuple[CheckedSentence, ...]:
    """Every sentence of a model answer, checked. ``complete_only`` leaves out the last sentence (while
    the answer is still streaming it may be unfinished)."""
    sentences = parse_sentences(output)
    if complete_only:
        sentences = sentences[:-1]
    return tuple(check_sentence(s, evidence, analyzer) for s in sentences)
