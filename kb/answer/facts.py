"""What the check of a generated answer compares, sentence by sentence: normalised text, numbers,
clauses with their topic words, negations and direction words (pure functions).

- **Normalisation** (:func:`normalize`): NFKC (superscript and full-width digits become digits, no-break
  spaces become spaces) and every format character (Unicode category Cf: bidi controls, zero-width
  characters, soft hyphens) removed. The generated text and the sources are compared only in this
  form; a generated sentence that held a bidi control is refused (:func:`has_bidi_controls`), since a
  browser may show its figures in another order than the one checked.
- **Numbers** (:func:`find_numbers`): one format. "9,7" and "9.7" are 9.7; "9 700", "9.700" (a dot
  before exactly three digits) and "9.700,5" are thousands; a sign ``-``/``−``/``–`` counts only at the
  start, after a space or an opening bracket; an optional unit (mnkr/mkr/tkr/kr/%/procent …) is
  canonicalised.
- **Clauses** (:func:`clauses_of`): a sentence cut at ", ; :", at a sentence end inside it, and at
  clause-joining conjunctions ("och", "men", "medan" …). Each clause has its topic terms (kb's analysis:
  stems, definite forms, compound parts; direction words and stop words left out), its numbers, its
  negations with the content terms on either side, and its direction words: a side of a pair of
  opposites from ``kb/data/antonyms.tsv`` (positiv/negativ, ökning/minskning, över/under …, with
  inflections listed there and compounds ending in a listed form).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from ..analyze import Analyzer
from ..text import tokenize

# negations are stop words for search but change a claim; "utan" ("without") negates its phrase
NEGATIONS = frozenset("inte ej icke ingen inget inga aldrig varken utan".split())
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CLAUSE_CUT = re.compile(
    r"[,;:](?=\s)|[.!?](?=\s+[A-ZÅÄÖ])|\s(?:och|men|samt|medan|eftersom|vilket|liksom)\s", re.IGNORECASE)


def normalize(text: str) -> str:
    """NFKC, and format characters (category Cf: bidi controls, zero-width, soft hyphen) removed."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cf")


def has_bidi_controls(text: str) -> bool:
    return any(c in BIDI_CONTROLS for c in text)


# -- numbers --------------------------------------------------------------------------------

_MINUS = "-−–‑"
_NUMBER = re.compile(
    r"(?P<sign>[-−–‑+] ?)?(?<![\d.,])"
    r"(?P<int>\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d{1,3}(?:\.\d{3})+(?!\d|\.\d)|\d+)(?:[.,](?P<frac>\d+))?"
    r"(?: ?(?P<unit>miljoner kronor|miljarder kronor|tusen kronor|procentenheter|procent|mnkr|mkr|mdkr|"
    r"tkr|kronor|kr|miljoner|miljarder|%)(?![^\W\d_]))?",
    re.IGNORECASE,
)
_UNITS = {"miljoner kronor": "mnkr", "mkr": "mnkr", "mnkr": "mnkr", "miljoner": "mnkr", "miljarder kronor": "mdkr",
          "miljarder": "mdkr", "mdkr": "mdkr", "tusen kronor": "tkr", "tkr": "tkr", "kronor": "kr", "kr": "kr",
          "procent": "%", "%": "%", "procentenheter": "procentenheter"}
# unit words say nothing without their number (they are checked with it)
UNIT_WORDS = frozenset(w for unit in _UNITS for w in unit.split() if w.isalpha())


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


def is_year(n: Number) -> bool:
    """A bare four-digit number 1900–2099: read as a year."""
    return n.unit is None and not n.sign and re.fullmatch(r"(19|20)\d\d", n.text) is not None


def _value(m: re.Match) -> Decimal:
    whole = m.group("int")
    digits = re.sub(r"\D", "", whole)
    frac = m.group("frac")
    return Decimal(digits + ("." + frac if frac else ""))


def find_numbers(text: str) -> list[Number]:
    """Numbers in a normalised text (whitespace collapsed first). A sign counts only at the start, after
    a space or an opening bracket, not after a number or a word ("2019 – 2020", "covid-19" have none)."""
    text = " ".join(normalize(text).split())
    out = []
    for m in _NUMBER.finditer(text):
        sign = (m.group("sign") or "").strip()
        prev = text[m.start() - 1] if m.start() else ""
        if sign and (prev.isalnum() or (prev == " " and text[: m.start()].rstrip()[-1:].isdigit())):
            sign = ""  # a dash inside a word or between numbers ("covid-19", "2019 – 2020"), not a minus
        unit = _UNITS.get((m.group("unit") or "").lower()) if m.group("unit") else None
        shown = m.group(0)[(0 if sign else m.start("int") - m.start()):].strip()
        out.append(Number("-" if sign and sign in _MINUS else "", _value(m), unit, shown))
    return out


def strip_numbers(text: str) -> str:
    """The text with its numbers (and their units) replaced by spaces."""
    return _NUMBER.sub(" ", text)


# -- direction words ------------------------------------------------------------------------


@cache
def direction_forms() -> dict[str, tuple[int, int]]:
    """Every listed form of ``kb/data/antonyms.tsv`` → (pair number, side 0 or 1)."""
    out: dict[str, tuple[int, int]] = {}
    rows = resources.files("kb.data").joinpath("antonyms.tsv").read_text(encoding="utf-8").splitlines()
    pairs = [r.split("\t") for r in rows if r.strip() and not r.startswith("#")]
    for i, sides in enumerate(pairs):
        for side, forms in enumerate(sides[:2]):
            for form in forms.split():
                out.setdefault(form.lower(), (i, side))
    return out


def direction_name(direction: tuple[int, int]) -> str:
    """The first listed form of a pair's side ("negativ")."""
    return next(w for w, d in direction_forms().items() if d == direction)


def direction_of(word: str) -> tuple[int, int] | None:
    """The pair and side of a direction word, also as the last part of a compound ("resultatförbättring")."""
    forms = direction_forms()
    if word in forms:
        return forms[word]
    for cut in range(2, len(word) - 5):
        if word[cut:] in forms and len(word) - cut >= 6:
            return forms[word[cut:]]
    return None


# -- clauses --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One clause of a sentence, as the check compares it."""

    topic: frozenset[str]  # content terms, direction words left out
    terms: frozenset[str]  # all content terms
    words: tuple[str, ...]  # the content words as written (lowercased)
    numbers: tuple[Number, ...]
    negations: tuple[tuple[str, str], ...]  # the content terms before and after each negation ("" at an end)
    directions: tuple[tuple[int, int], ...]  # (pair, side) of each direction word, in order


def content_terms(word: str, analyzer: Analyzer) -> list[str]:
    """A word's index term and the terms of its compound parts."""
    return [analyzer.term(word), *(analyzer.term(p) for p in analyzer.split_compound(word))]


def _is_content(word: str, analyzer: Analyzer) -> bool:
    return len(word) > 1 and not word[0].isdigit() and word not in NEGATIONS and not analyzer.is_stopword(word)


def _negations(words: list[str], analyzer: Analyzer) -> tuple[tuple[str, str], ...]:
    out = []
    for i, w in enumerate(words):
        if w not in NEGATIONS:
            continue
        # "utan" negates the phrase after it ("utan extra medel"); "inte" also the word before ("täcker inte")
        before = next((analyzer.term(x) for x in reversed(words[:i]) if _is_content(x, analyzer)), "")
        before = "" if w == "utan" else before
        after = next((analyzer.term(x) for x in words[i + 1 :] if _is_content(x, analyzer)), "")
        out.append((before, after))
    return tuple(out)


def clause_of(text: str, analyzer: Analyzer) -> Clause:
    words = tokenize(strip_numbers(text))
    directions = tuple(d for w in words if (d := direction_of(w)) is not None)
    content = [w for w in words if _is_content(w, analyzer)]
    topic = {t for w in content if direction_of(w) is None for t in content_terms(w, analyzer)}
    terms = {t for w in content for t in content_terms(w, analyzer)}
    return Clause(frozenset(topic), frozenset(terms), tuple(content), tuple(find_numbers(text)),
                  _negations(words, analyzer), directions)


def clauses_of(text: str, analyzer: Analyzer) -> tuple[Clause, ...]:
    """The clauses of a normalised sentence (see the module doc)."""
    text = " ".join(text.split())
    return tuple(clause_of(p, analyzer) for p in _CLAUSE_CUT.split(text) if p.strip())
