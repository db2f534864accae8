"""Figures a report states for a year: from its tables (:mod:`kb.tables`) and, later, its sentences.

:func:`table_figures` turns every cell of a table that is mapped to a column with a year, holds a
number and is not an Avvikelse (budget minus outcome, no figure for a year) into a
:class:`Figure` whose quote is the table's header and the row ("Personal 2019 2020 … / Total
sjukfrånvaro 7.9 10.6 …"), so a reader can tell which value belongs to which year. A row whose
mapping is not certain gives no figure. Pure functions of a document's text.
"""
from __future__ import annotations

from dataclasses import dataclass

from .tables import find_tables, row_quote

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


def table_figures(doc_id: str, text: str) -> list[Figure]:
    """The figures of every table of a document text, in document order."""
    out = []
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


def document_figures(doc_id: str, text: str) -> list[Figure]:
    """Every figure of a document text."""
    return table_figures(doc_id, text)
