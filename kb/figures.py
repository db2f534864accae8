"""Figures a report states for a year: from its tables (:mod:`kb.tables`) and its sentences.

:func:`table_figures` turns every cell of a table that is mapped to a column with a year, holds a
number and is not an Avvikelse (budget minus outcome, no figure for a year) into a
:class:`Figure` whose quote is the table's header and the row ("Personal 2019 2020 … / Total
sjukfrånvaro 7.9 10.6 …"), so a reader can tell which value belongs to which year. A row whose
mapping is not certain gives no figure.

:func:`sentence_figures` reads figures with a unit (%, procent, mnkr, tkr, år, st) from the
sentences of running text, and gives one a year only when the sentence says which:

* a year right after the value ("63.7 % 2022", "64,8 år under 2022", "68.8% augusti 2023");
* a year inside the same bracket ("(för 2018 uppgick underskottet till -37,7 mnkr)");
* the report's year for the first other value when the sentence speaks of the present:
  "Nuvarande …", "i år", "Årets …" ("Nuvarande pensionsålder är 65,2 år, jämfört med 64,8 år
  under 2022" gives 65,2 for the report's year and 64,8 for 2022).

Any other value gets no figure (its year is not certain). The label of a sentence figure is the
sentence's words before the value (generic verbs left out), its kind "okänd". Pure functions of a
document's text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .sentences import sentence_text, split_spans
from .tables import find_tables, parse_number, row_quote
from .text import YEAR_PATTERN

KINDS = ("utfall", "budget", "plan", "prognos", "mål", "okänd")


@dataclass(frozen=True)
class Figure:
    """One value for one year: ``value`` as written, ``quote`` the text it comes from (it holds
    ``value``), ``start``/``end`` the row's or sentence's place in the document."""

    doc_id: str
    label: str
    year: int
    value: str
    number: float
    unit: str | None
    kind: str
    quote: str
    start: int
    end: int
    source: str = "table"  # "table" or "sentence"


def table_figures(doc_id: str, text: str) -> list[Figure]:
    """The figures of every table of a document text, in document order."""
    out: list[Figure] = []
    for table in find_tables(text):
        for row in table.rows:
            if not row.mapped:
                continue
            quote = row_quote(table, row, text)
            for cell in row.cells:
                if cell.year is None or cell.number is None or cell.kind not in KINDS:
                    continue
                value = cell.text.split(" %")[0].replace("*)", "").rstrip("*") if cell.text.endswith("%") else cell.text
                out.append(Figure(doc_id, row.label, cell.year, value, cell.number, cell.unit, cell.kind,
                                  quote, row.start, row.end))
    return out


_MONTHS = "januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december"
_VALUE = re.compile(r"(?<![\w,.])(?P<v>[-−]?\d{1,3}(?:[ \u00a0]\d{3})+(?:,\d+)?|[-−]?\d+(?:[,.]\d+)?)\s?"
                    r"(?P<u>%|procent|mnkr|mkr|tkr|år|st)(?!\w)")
_AFTER = re.compile(rf"^[\s,]*(?:(?:under|i|år|för|{_MONTHS})\s+)?(?P<y>(?:199\d|20[0-4]\d))(?!\d)")
_PRESENT = re.compile(r"\b(nuvarande|i år|årets)\b", re.IGNORECASE)
_SKIP_WORDS = frozenset(["är", "var", "uppgår", "uppgick", "slutar", "slutade", "på", "ett", "en", "om", "till", "med",
                         "har", "hade", "blev", "ligger", "låg", "jämfört", "nuvarande", "årets"])


def _label(before: str) -> str:
    """The words of a sentence before a value, from its last clause, generic verbs left out."""
    clause = re.split(r"[;:(]|,\s", before)[-1]
    return " ".join(w for w in clause.split() if w.lower() not in _SKIP_WORDS and not re.search(r"\d", w))


def figures_in_sentence(sentence: str, report_year: int | None) -> list[tuple[int, str, str, str]]:
    """(year, value, unit, label) of each value with a unit whose year the sentence states
    (module docstring); the sentence's first such value names the metric for all of them."""
    out: list[tuple[int, str, str, str]] = []
    present_used = not (report_year and _PRESENT.search(sentence))
    for m in _VALUE.finditer(sentence):
        value, unit = m.group("v"), m.group("u")
        if YEAR_PATTERN.fullmatch(value) or parse_number(value) is None:
            continue
        after = _AFTER.match(sentence[m.end():])
        open_at = sentence.rfind("(", 0, m.start())
        inside = open_at > sentence.rfind(")", 0, m.start())
        year = int(after.group("y")) if after else None
        if year is None and inside:
            bracket_years = YEAR_PATTERN.findall(sentence[open_at : m.start()])
            year = int(bracket_years[-1]) if bracket_years else None
        if year is None and not present_used and not inside:
            year, present_used = report_year, True
        if year is not None:  # one sentence, one metric: later values take the first one's label
            label = out[0][3] if out else _label(sentence[: open_at if inside else m.start()])
            out.append((year, value, unit, label))
    return out


def sentence_figures(doc_id: str, text: str, report_year: int | None) -> list[Figure]:
    """The figures of the sentences and bullets of a document's running text (kb's one sentence
    splitter, :func:`kb.sentences.split_spans`), outside its tables."""
    tables = [(t.start, t.end) for t in find_tables(text)]
    out: list[Figure] = []
    for sp in split_spans(text):
        if sp.kind not in ("text", "bullet") or any(x <= sp.start < y for x, y in tables):
            continue
        quote = sentence_text(text[sp.start : sp.end])
        if not _VALUE.search(quote):
            continue
        for year, value, unit, label in figures_in_sentence(quote, report_year):
            number = parse_number(value)
            if number is not None and label:
                out.append(Figure(doc_id, label, year, value, number, unit, "okänd", quote, sp.start, sp.end,
                                  "sentence"))
    return out


def document_figures(doc_id: str, text: str, report_year: int | None = None, sentences: bool = True) -> list[Figure]:
    """Every figure of a document text: its tables', then (``sentences``) its sentences'."""
    return table_figures(doc_id, text) + (sentence_figures(doc_id, text, report_year) if sentences else [])
