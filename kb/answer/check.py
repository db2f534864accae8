"""The check of a generated answer: its sentences and citations, and each sentence's verdict
against the source sentence(s) it restates (pure functions). It says what a source says, not whether
that is true.

1. **Sentences** (:func:`parse_sentences`): the output is split into sentences at ``.!?``
   (also when followed by citation brackets), at line breaks and bullets; the citations
   ``[n]``, ``[n, m]``, ``[n][m]``, ``[n–m]`` of each sentence are collected and removed from
   its text, which is normalised (:func:`kb.answer.facts.normalize`: NFKC, format characters removed).
2. **Alignment** (:func:`align`): the sources it cites are cut into sentences with their document
   offsets (kb's units, :mod:`kb.sentences`, cut again at sentence ends). The generated sentence
   rests on the source sentence sharing the most of its content terms (kb's analysis: stems,
   definite forms, compound parts), each weighted by its IDF over the sentences of all sources
   given; when some content word is not in it (nor in the cited source's ref line), on that one and
   the sentence that holds most of the rest. Every content word must stand in those one or two
   sentences, not anywhere in the passage; a sentence with no aligned source sentence is never supported.
3. **Check** (:func:`check_sentence`) against the aligned sentences only, clause by clause
   (:mod:`kb.answer.facts`; each generated clause meets the source clause with most of its topic terms):
   (a) it cites at least one source and only sources that were sent, and held no bidi control;
   (b) it has content words, and all of them stand in the aligned sentences (attribution words such as
   "enligt", "rapporten", "också" aside);
   (c) every number stands with the same sign and value and a compatible unit in the aligned
   sentences, as often as the sentence repeats it, and in a clause with the same subject (sharing a
   topic term, when both clauses have one): a figure or year of another sentence, or of another
   subject in the same sentence, fails;
   (d) a negation ("inte", "ej", "ingen", "aldrig", "utan" …) needs one in the source clause, and a
   negation of the source clause is not dropped where the sentence keeps a word next to it;
   (e) a direction word (a side of a pair in ``kb/data/antonyms.tsv``: positiv/negativ, ökar/minskar,
   över/under, före/efter …) stands, on the same side, in the source clause.
   Sentences that fail are kept with ``supported = False`` and a reason, and shown as "ej
   belagt"; the evidence (hit, document offsets, text) of a supported sentence is the aligned
   source sentence. When no sentence is supported the caller shows the extractive answer.

What it cannot see: a paraphrase that changes meaning with the same words and figures in the same
clauses (two figures of one clause swapped, a word order that reverses who did what).
"""
from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..analyze import Analyzer
from ..sentences import sentence_text, split_spans
from ..text import ends_with_abbreviation, nfc, sentence_breaks, tokenize
from .facts import (
    NEGATIONS,
    UNIT_WORDS,
    Clause,
    Number,
    clauses_of,
    content_terms,
    direction_name,
    find_numbers,
    has_bidi_controls,
    is_year,
    normalize,
    strip_numbers,
)
from .prompt import Source

# words a generated sentence may add without the sources having them (attribution, not claims)
GLUE_WORDS = frozenset(
    """enligt källa källan källor källorna rapport rapporten rapporter rapporterna dokument dokumentet
    uppger anger skriver står framgår framgick också även dessutom""".split()
)
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

    text: str  # normalised (kb.answer.facts.normalize)
    citations: tuple[int, ...]
    bidi: bool = False  # the model's text held a bidi control (removed from ``text``)


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
            bidi, clean = has_bidi_controls(clean), " ".join(normalize(clean).split())
            if re.search(r"[^\W_]", clean) or cites:
                out.append(GeneratedSentence(clean, tuple(dict.fromkeys(cites)), bidi))
    return tuple(out)


# -- the sources ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSentence:
    """One sentence of a source: the document's text at [start, end) and what the check reads of it."""

    hit: int  # the source's number (the hit rank)
    start: int  # document offsets
    end: int
    text: str
    terms: frozenset[str]
    clauses: tuple[Clause, ...]

    def to_json(self) -> dict:
        return {"hit": self.hit, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class Evidence:
    """What one source offers a sentence citing it: the words of its ref line (no figures: the report's
    year is not a figure of the passage) and its sentences."""

    ref_terms: frozenset[str]
    sentences: tuple[SourceSentence, ...]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """A passage's sentences as offsets: kb's units (:mod:`kb.sentences`), each also cut at sentence
    ends (a long line of prose with figures can pass for a table row)."""
    out = []
    for sp in split_spans(text):
        piece, pos = text[sp.start : sp.end], 0
        for end, nxt in [*sentence_breaks(piece), (len(piece), len(piece))]:
            raw = piece[pos:end]
            a = sp.start + pos + len(raw) - len(raw.lstrip())
            b = sp.start + pos + len(raw.rstrip())
            if b > a:
                out.append((a, b))
            pos = nxt
    return out


def evidence_of(source: Source, analyzer: Analyzer) -> Evidence:
    """The evidence of a source: its ref line's words and its sentences, normalised and analysed."""
    sentences = []
    for a, b in sentence_spans(source.text):
        shown = normalize(sentence_text(source.text[a:b]))
        sentences.append(SourceSentence(source.number, source.start + a, source.start + b, source.text[a:b],
                                        frozenset(analyzer.passage_terms(shown)), clauses_of(shown, analyzer)))
    return Evidence(frozenset(analyzer.passage_terms(normalize(source.ref))), tuple(sentences))


def build_evidence(sources: Sequence[Source], analyzer: Analyzer) -> dict[int, Evidence]:
    return {s.number: evidence_of(s, analyzer) for s in sources}


# -- the check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedSentence:
    """A generated sentence and the verdict of the check (``reason`` says why it is not supported);
    ``evidence``: the source sentence(s) it was aligned to, best first."""

    text: str
    citations: tuple[int, ...]
    supported: bool
    reason: str = ""
    evidence: tuple[SourceSentence, ...] = ()

    def to_json(self) -> dict:
        return {"text": self.text, "citations": list(self.citations), "supported": self.supported,
                "reason": self.reason, "evidence": self.evidence[0].to_json() if self.evidence else None,
                "evidence_also": [e.to_json() for e in self.evidence[1:]]}


def _word_found(word: str, terms: frozenset[str] | set[str], analyzer: Analyzer) -> bool:
    if analyzer.term(word) in terms:
        return True
    parts = analyzer.split_compound(word)
    return bool(parts) and all(analyzer.term(p) in terms for p in parts)


def idf_of(evidence: Mapping[int, Evidence]) -> dict[str, float]:
    """Each term's IDF over the sentences of all sources given."""
    sentences = [s for e in evidence.values() for s in e.sentences]
    df = Counter(t for s in sentences for t in s.terms)
    return {t: math.log(1 + len(sentences) / n) for t, n in df.items()}


def align(words: Sequence[str], candidates: Sequence[SourceSentence], ref_terms: frozenset[str],
          idf: Mapping[str, float], analyzer: Analyzer) -> tuple[tuple[SourceSentence, ...], list[str]]:
    """The one or two candidate sentences a sentence with these content words restates, and the words
    still not found in them (or in the ref line)."""

    def weight(ws: Sequence[str], s: SourceSentence) -> float:
        return sum(idf.get(t, 0.0) for t in {t for w in ws for t in content_terms(w, analyzer)} & s.terms)

    def missing(terms: frozenset[str]) -> list[str]:
        return [w for w in words if not _word_found(w, terms | ref_terms, analyzer)]

    if not candidates:
        return (), list(words)
    best = max(candidates, key=lambda s: weight(words, s))  # the first of equals
    if weight(words, best) <= 0:
        return (), list(words)
    left = missing(best.terms)
    if not left:
        return (best,), []
    second = max((s for s in candidates if s is not best), key=lambda s: weight(left, s), default=None)
    if second is None or weight(left, second) <= 0:
        return (best,), left
    return (best, second), missing(best.terms | second.terms)


def _mapped(c: Clause, clauses: Sequence[Clause], idf: Mapping[str, float]) -> Clause:
    """The source clause a generated clause restates: most shared topic weight, then of all content terms,
    then least left over, then most shared numbers; a clause without content words restates all of the
    aligned sentences."""
    if not c.terms or not clauses:
        return Clause(frozenset(), frozenset(), (), tuple(n for x in clauses for n in x.numbers),
                      tuple(n for x in clauses for n in x.negations), tuple(d for x in clauses for d in x.directions))

    def weight(terms: frozenset[str]) -> float:
        return sum(idf.get(t, 0.0) for t in terms)

    def score(s: Clause) -> tuple[float, float, float, int]:
        return (weight(c.topic & s.topic), weight(c.terms & s.terms), -weight(s.terms - c.terms),
                sum(any(n.matches(p) for p in s.numbers) for n in c.numbers))

    return max(clauses, key=score)


def _negation_problem(c: Clause, s: Clause) -> str:
    """Each negation needs one of the source clause next to a shared word, and a negation of the source
    clause whose neighbours the sentence keeps must be kept."""
    def near(x: tuple[str, str], y: tuple[str, str]) -> bool:
        return bool({*x, *y} == {""} or ({*x} & {*y}) - {""})

    if any(not any(near(g, n) for n in s.negations) for g in c.negations):
        return "negated, but the aligned source sentence is not"
    for a, b in s.negations:
        if ({a, b} - {""}) & c.terms and not any(near(g, (a, b)) for g in c.negations):
            return f"drops a negation of the aligned source sentence ({a} … {b})"
    return ""


def _clause_problem(c: Clause, clauses: Sequence[Clause], idf: Mapping[str, float]) -> str:
    """Negations, direction words and numbers of one generated clause against the source clause it restates."""
    s = _mapped(c, clauses, idf)
    reason = _negation_problem(c, s)
    if reason:
        return reason
    other = sorted((Counter(c.directions) - Counter(s.directions)).elements())
    if other:
        return "direction words not in the aligned source clause: " + ", ".join(direction_name(d) for d in other)
    # a number stands in that clause, or in one on the same subject (sharing a topic term)
    wrong = [n.text for n in c.numbers if not any(n.matches(p) for p in s.numbers)]
    if wrong:
        return "numbers not in the aligned source clause: " + ", ".join(dict.fromkeys(wrong))
    figures = [n for n in s.numbers if not is_year(n)]
    return "" if _in_order([n for n in c.numbers if not is_year(n)], figures) else (
        "figures in another order than in the aligned source clause")


def _in_order(numbers: Sequence[Number], source: Sequence[Number]) -> bool:
    """The numbers stand in the source in this order (a subsequence): two figures of a clause swapped fail."""
    pos = 0
    for n in numbers:
        pos = next((i + 1 for i in range(pos, len(source)) if n.matches(source[i])), -1)
        if pos < 0:
            return False
    return True


def _number_problem(gen: Sequence[Clause], clauses: Sequence[Clause]) -> str:
    """Every number stands in the aligned sentences as often as the sentence repeats it."""
    numbers, have = [n for c in gen for n in c.numbers], [p for s in clauses for p in s.numbers]
    wrong = [n.text for n in numbers
             if sum(n.matches(p) for p in have) < sum((m.sign, m.value) == (n.sign, n.value) for m in numbers)]
    return "numbers not in the aligned source sentence: " + ", ".join(dict.fromkeys(wrong)) if wrong else ""


def check_sentence(sentence: GeneratedSentence, evidence: Mapping[int, Evidence], analyzer: Analyzer,
                   idf: Mapping[str, float] | None = None) -> CheckedSentence:
    """The verdict for one sentence against the sentences of the sources it cites (rules in the module doc)."""

    def verdict(reason: str = "", aligned: tuple[SourceSentence, ...] = ()) -> CheckedSentence:
        return CheckedSentence(sentence.text, sentence.citations, not reason, reason, aligned)

    if not sentence.citations:
        return verdict("cites no source")
    unknown = [n for n in sentence.citations if n not in evidence]
    if unknown:
        return verdict("cites a source that was not given: " + ", ".join(f"[{n}]" for n in unknown))
    if sentence.bidi:
        return verdict("holds bidirectional control characters (its figures may show in another order)")
    words = [w for w in tokenize(strip_numbers(sentence.text)) if len(w) > 1 and not w[0].isdigit()]
    content = [w for w in words if w not in GLUE_WORDS and w not in NEGATIONS and w not in UNIT_WORDS
               and not analyzer.is_stopword(w)]
    if not content:
        return verdict("nothing to check" if not find_numbers(sentence.text)
                       else "no words to find a source sentence by")
    cited = [evidence[n] for n in sentence.citations]
    idf = idf_of(evidence) if idf is None else idf
    aligned, missing = align(content, [s for e in cited for s in e.sentences],
                             frozenset().union(*(e.ref_terms for e in cited)), idf, analyzer)
    if not aligned:
        return verdict("no sentence of the cited sources says this")
    if missing:
        return verdict("words not in the aligned source sentence: " + ", ".join(dict.fromkeys(missing)), aligned)
    gen, clauses = clauses_of(sentence.text, analyzer), [c for s in aligned for c in s.clauses]
    refs = frozenset().union(*(e.ref_terms for e in cited))
    split = [c for c in gen if len(aligned) > 1 and not any(
        all(_word_found(w, s.terms | refs, analyzer) for w in c.words if w not in GLUE_WORDS) for s in aligned)]
    if split:
        return verdict("joins in one clause what two source sentences say: " + " ".join(split[0].words), aligned)
    reason = _number_problem(gen, clauses) or next((r for c in gen if (r := _clause_problem(c, clauses, idf))), "")
    return verdict(reason, aligned)


def check_answer(
    output: str, evidence: Mapping[int, Evidence], analyzer: Analyzer, complete_only: bool = False
) -> tuple[CheckedSentence, ...]:
    """Every sentence of a model answer, checked. ``complete_only`` leaves out the last sentence (while
    the answer is still streaming it may be unfinished)."""
    sentences = parse_sentences(output)
    if complete_only:
        sentences = sentences[:-1]
    idf = idf_of(evidence)
    return tuple(check_sentence(s, evidence, analyzer, idf) for s in sentences)
