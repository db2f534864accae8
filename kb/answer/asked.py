"""What a question asks for, and whether a sentence holds it. Pure functions over kb's analyser.

An answer must contain what was asked for: "Hur många elbilar köpte kommunen 2023?" is not answered
by "I kommunens budget för 2023 har styrelsen fått 27 stycken uppdrag.", however close the
embedder finds the two. :func:`asked_for` reads, by one rule for every question:

* the **head**: the first topic word after the phrase that asks (hur många / mycket / stor / hög …,
  vilken / vilket / vilka, vad kostade / kostar, antal / andel), skipping modifiers such as "nya" or
  "totala": "Hur många *elbilar* …", "Hur hög var *sjukfrånvaron* …", "Vilket *bemanningsföretag* …";
* the **rarest** topic word: the one with the highest IDF in the index (the question's most
  specific word, "vinterväghållning" in "Hur stora var kostnaderna för vinterväghållning 2019?").

Each asked-for word is *found* in a set of analysed terms (the sentence's own, or with its context:
the sentence before it, its passage's section names, its report's title) when its term is there, or
all of its compound parts are ("hemtjänsttimmar" in "timmar inom hemtjänst"), or all terms of one of its
glossary forms are ("HSL" in "hemsjukvård"): kb's own analysis, so inflected and definite forms match.

An amount question (:func:`figure_near`) also needs a figure that belongs to the thing: a number
that is not a year, within ``window`` words of an asked-for word in the sentence ("62 boendeplatser"),
or a table row that names it; a word for a sum of money ("prispengar", "kostnad") is answered by a
sum with a currency ("500 000 euro").
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..analyze import Analyzer
from ..text import is_year, tokenize
from .forms import answers_form, names_in

# the phrases that ask for a thing; the head is the first topic word after one
_ASKING = frozenset("""många mycket stor stort stora hög högt höga lång långa länge liten litet små låg lågt låga
    vilken vilket vilka kostade kostar kostnaden antal antalet andel andelen""".split())
# modifiers that stand between the asking phrase and its noun ("hur många nya …", "vilka totala …")
_MODIFIERS = frozenset("""ny nya nytt nye totala total totalt sammanlagda sammanlagt olika egna egen eget
    privat privata årliga årlig samtliga ytterligare fler flera färre extra""".split())

# words that shape a question but name nothing (the stop list keeps them as search terms)
_FUNCTION_WORDS = frozenset("""hos innan förrän längre fortfarande trots även också senast redan ännu igen
    cirka ca per samt enligt totalt ofta sätt ske skett del
    kronor kr mnkr mkr tkr miljon miljoner miljard miljarder tusen procent""".split())
# words for a sum of money: a sum with a currency ("500 000 euro", "15 mkr") is one of them
_MONEY = frozenset("""pengar belopp summa kostnad kostnader pris ersättning intäkt intäkter bidrag vinst""".split())
_CURRENCY = re.compile(r"\d(?:[\d \u00a0]*\d)?(?:[,.]\d+)?\s*(?:kr\b|kronor|mnkr|mkr|tkr|euro|€|sek\b|"
                       r"(?:miljon|miljoner|miljard|miljarder) (?:kr\b|kronor|euro))", re.I)


@dataclass(frozen=True)
class Asked:
    """What a question asks for: each asked-for word as typed with the term sets that count as it."""

    words: tuple[str, ...]
    forms: tuple[tuple[frozenset[str], ...], ...]  # per word: any one set wholly present finds it
    head: str | None = None  # the word after the asking phrase, when there is one

    def missing(self, terms: set[str] | frozenset[str]) -> tuple[str, ...]:
        """The asked-for words none of whose forms lies wholly in ``terms``."""
        return tuple(w for w, fs in zip(self.words, self.forms) if not any(f <= terms for f in fs))


def head_word(analyzer: Analyzer, question: str) -> str | None:
    """The first topic word after the phrase that asks ("hur många elbilar" -> "elbilar"), or None."""
    tokens = tokenize(question)
    for i, t in enumerate(tokens):
        if t not in _ASKING or (t in ("många", "mycket") and (not i or tokens[i - 1] != "hur")):
            continue
        for w in tokens[i + 1 :]:
            if w in _ASKING or w in _MODIFIERS or w in _FUNCTION_WORDS or analyzer.is_stopword(w) or w[0].isdigit():
                continue
            return w
    return None


def topic_words(analyzer: Analyzer, question: str) -> list[str]:
    """The question's own topic words (no years, numbers or function words), in order, once each."""
    return list(dict.fromkeys(w for w in analyzer.query_words(question)
                              if not w[0].isdigit() and w not in _FUNCTION_WORDS))


def word_forms(analyzer: Analyzer, word: str) -> tuple[frozenset[str], ...]:
    """The term sets that count as ``word``: its term, its compound parts, each glossary form."""
    forms = [frozenset({analyzer.term(word)})]
    parts = analyzer.split_compound(word)
    if parts:
        forms.append(frozenset(analyzer.term(p) for p in parts))
    for full in analyzer.expansions([word], [analyzer.term(word)]):
        terms = frozenset(analyzer.term(t) for t in tokenize(full) if not analyzer.is_stopword(t))
        if terms:
            forms.append(terms)
    return tuple(forms)


def asked_for(analyzer: Analyzer, question: str, idf: Callable[[Sequence[str]], list[float]]) -> Asked:
    """The head and the rarest topic word of a question (one word when they coincide; none for a
    question without topic words). ``idf``: the index's IDF of analysed terms."""
    words = topic_words(analyzer, question)
    if not words:
        return Asked((), ())
    weights = idf([analyzer.term(w) for w in words])
    rarest = max(zip(weights, range(len(words))))[1]
    head = head_word(analyzer, question)
    chosen = list(dict.fromkeys([*([head] if head else []), words[rarest]]))
    return Asked(tuple(chosen), tuple(word_forms(analyzer, w) for w in chosen), head)


def figure_near(analyzer: Analyzer, asked: Asked, text: str, row: bool, window: int = 6) -> bool:
    """True when a sentence has a figure that belongs to an asked-for word: a number that is not a
    year within ``window`` words of it, or (a table row) a number anywhere in a row that names it."""
    tokens = tokenize(text)
    numbers = [i for i, t in enumerate(tokens) if t[0].isdigit() and not is_year(t)]
    if not numbers:
        return False
    wanted = frozenset().union(*(f for fs in asked.forms for f in fs))
    at = [i for i, t in enumerate(tokens) if not t[0].isdigit() and _terms(analyzer, t) & wanted]
    if row:
        return bool(at)
    return any(abs(i - j) <= window for i in at for j in numbers)


def _terms(analyzer: Analyzer, token: str) -> set[str]:
    return {analyzer.term(token), *(analyzer.term(p) for p in analyzer.split_compound(token))}


def required(asked: Asked, form: str) -> tuple[str, ...]:
    """The asked-for words that must stand in an answer to a question of this form: for an amount,
    the thing counted or measured and the rarest word; for a name or a time, the rarest word (the
    head, "företag" in "Vilket företag …", names a kind, and the answer gives one of it); for a
    cause, a yes/no or another question, none (their answers paraphrase: see docs/abstention.md)."""
    if form == "amount":
        return asked.words
    if form in ("name", "time"):
        return tuple(w for w in asked.words if w != asked.head)
    return ()


@dataclass(frozen=True)
class Lack:
    """What a sentence lacks of what its question asks for (each part counts 0–1)."""

    words: tuple[str, ...] = ()  # required words found neither in the sentence nor in its context
    share: float = 0.0  # their share of the required words
    kind: bool = False  # an amount without a figure of it, a name question without a new name, a time without a time
    year: str = ""  # a year asked about that the sentence is not about (see :func:`lack`)
    names: tuple[str, ...] = ()  # names the question gives that stand neither in the sentence nor its context
    names_share: float = 0.0  # their share of the question's names

    @property
    def total(self) -> float:
        return self.share + self.kind + bool(self.year) + self.names_share


def lack(analyzer: Analyzer, asked: Asked, form: str, question_terms: frozenset[str], sentence: str, kind: str,
         seen: frozenset[str], years: Sequence[int], earliest: int | None, names: Sequence[str] = (),
         report_year: int | None = None) -> Lack:
    """What an answer sentence lacks: ``seen`` is the terms of the sentence and of its context,
    ``question_terms`` the question's (a name already in the question is not an answer),
    ``years`` those the question names, ``earliest`` the year of the earliest report and
    ``report_year`` that of the sentence's report. A year asked about is lacking when it stands
    neither in the sentence nor its context and is before every report, or, for an amount (a
    figure for that year), is not the year of the sentence's report."""
    must = required(asked, form)
    sum_of_money = form == "amount" and bool(_CURRENCY.search(sentence))
    missing = tuple(w for w in asked.missing(seen) if w in must and not (sum_of_money and is_money(analyzer, w)))
    if form == "amount":
        no_kind = not (figure_near(analyzer, asked, sentence, kind == "row")
                       or (sum_of_money and any(is_money(analyzer, w) for w in must)))
    elif form == "name":
        no_kind = not [n for n in names_in(sentence) if analyzer.term(n.lower()) not in question_terms]
    elif form == "time":
        no_kind = not answers_form("time", kind, sentence)
    else:
        no_kind = False
    early = [y for y in years if str(y) not in seen and ((earliest is not None and y < earliest) or (
        form == "amount" and report_year is not None and y != report_year))]
    gone = tuple(n for n in names if not any(f <= seen for f in word_forms(analyzer, n.lower())))
    return Lack(missing, len(missing) / len(must) if must else 0.0, no_kind, str(early[0]) if early else "",
                gone, len(gone) / len(names) if names else 0.0)


def is_money(analyzer: Analyzer, word: str) -> bool:
    """True for a word for a sum of money, or a compound ending in one ("prispengar", "driftkostnad")."""
    stem = analyzer.term(word)
    return any(stem.endswith(analyzer.term(m)) for m in _MONEY)
