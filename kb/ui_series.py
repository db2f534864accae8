"""The "Över åren" tab's series: a figure year by year as a chart and a table with its sources.

:func:`series_view` turns the series entries of a question (:func:`kb.series.series`) and the hits
shown on the page into a :class:`SeriesView`: a Vega-Lite chart spec (a point per year and value,
a line per metric, kind and report; ``st.vega_lite_chart`` draws it) and the HTML of a table with
one row per value, whose source links to the hit holding it (``#traff-N``, the hits' anchors in
app.py) and whose quote is numbered and shown below the table as the report's table row under its
header, laid out as a table (:func:`kb.ui_helpers.table_html`). Every text from a report is
escaped. Pure functions; no Streamlit here.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .records import Hit
from .series import SeriesEntry, render_rows
from .tables import find_tables
from .ui_helpers import escape_text, table_html

QUOTE_SEP = " / "  # kb.tables.row_quote joins a table's header and its row with it


@dataclass(frozen=True)
class SeriesView:
    chart: dict[str, Any]  # a Vega-Lite spec with its data
    table_html: str  # the values, their sources and the numbered quotes
    points: tuple[dict[str, object], ...]  # the chart's data: År, Tal, Värde, Serie


def report_of(citation: str) -> str:
    """The report's title of a series citation ("Verksamhetsberättelse 2023 – Leanlink, rad 4853")."""
    return citation.split(", ")[0]


def series_name(e: SeriesEntry) -> str:
    """One line of the chart: the metric, its kind and the report ("Total sjukfrånvaro · utfall · …")."""
    return f"{e.metric} · {e.kind} · {report_of(e.citation)}"


def chart_points(entries: Sequence[SeriesEntry]) -> list[dict[str, object]]:
    """A point per entry: its year (as text, so the axis shows 2023, not 2,023), number, value as
    written, and the line it belongs to (:func:`series_name`)."""
    return [{"År": str(e.year), "Tal": e.number, "Värde": e.value + (f" {e.unit}" if e.unit else ""),
             "Serie": series_name(e)} for e in entries]


def chart_spec(points: Sequence[dict[str, object]]) -> dict[str, Any]:
    """A Vega-Lite line chart with points: year on x (in order), number on y, a colour per line."""
    return {
        "data": {"values": list(points)},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "År", "type": "ordinal", "title": "År", "axis": {"labelAngle": 0}},
            "y": {"field": "Tal", "type": "quantitative", "title": "Värde"},
            "color": {"field": "Serie", "type": "nominal", "title": "Mått · slag · rapport",
                      "legend": {"orient": "bottom", "columns": 1, "labelLimit": 600}},
            "tooltip": [{"field": "År"}, {"field": "Värde"}, {"field": "Serie"}],
        },
    }


def hit_rank(e: SeriesEntry, hits: Sequence[Hit]) -> int | None:
    """The rank of the shown hit whose passage holds the entry's row or sentence (None: none does)."""
    for h in hits:
        if h.doc_id == e.doc_id and h.start <= e.start < h.end:
            return h.rank
    return None


def quote_html(quote: str) -> str:
    """A quote as shown: a table row under its header ("header / row") as a small table when the
    detector reads it as one, else the text; a sentence as text. Escaped."""
    if QUOTE_SEP in quote:
        header, row = quote.split(QUOTE_SEP, 1)
        text = f"{header}\n{row}\n"
        for t in find_tables(text):
            if t.rows:
                spans = [(r.start, r.end, "") for r in t.rows]
                return table_html(text, t, spans, None, frozenset())
        return (f"<table class='kb-table'><thead><tr><th>{escape_text(header)}</th></tr></thead>"
                f"<tbody><tr class='kb-quote'><td>{escape_text(row)}</td></tr></tbody></table>")
    return f"<p class='kb-passage'>{escape_text(quote)}</p>"


def table_rows_html(entries: Sequence[SeriesEntry], hits: Sequence[Hit], quote_no: dict[str, int]) -> str:
    """The values as an HTML table: År, Värde, Enhet, Slag, Mått, Källa (linked to its hit) and Citat
    (the number of its quote below)."""
    heads = ["År", "Värde", "Enhet", "Slag", "Mått", "Källa", "Citat"]
    out = ["<table class='kb-table kb-series'><thead><tr>"
           + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>"]
    for e, row in zip(entries, render_rows(entries)):
        rank = hit_rank(e, hits)
        link = (f" <a class='kb-ref' href='#traff-{rank}' title='Gå till träff {rank}'>[{rank}]</a>"
                if rank is not None else "")
        n = quote_no[e.quote]
        out.append(
            f"<tr><td>{row['År']}</td><td class='kb-num'>{escape_text(str(row['Värde']))}</td>"
            f"<td>{escape_text(str(row['Enhet']))}</td><td>{escape_text(str(row['Slag']))}</td>"
            f"<td>{escape_text(str(row['Mått']))}</td><td>{escape_text(str(row['Källa']))}{link}</td>"
            f"<td><a href='#citat-{n}'>({n})</a></td></tr>")
    return "".join(out) + "</tbody></table>"


def series_view(entries: Sequence[SeriesEntry], hits: Sequence[Hit]) -> SeriesView:
    """The chart and the table of a series (module docstring)."""
    quote_no: dict[str, int] = {}
    for e in entries:
        quote_no.setdefault(e.quote, len(quote_no) + 1)
    quotes = "".join(
        f"<div class='kb-series-quote' id='citat-{n}'><p class='kb-meta'>({n}) {escape_text(_source_of(entries, q))}"
        f"</p>{quote_html(q)}</div>" for q, n in quote_no.items())
    points = chart_points(entries)
    html = table_rows_html(entries, hits, quote_no) + quotes
    return SeriesView(chart_spec(points), html, tuple(points))


def _source_of(entries: Sequence[SeriesEntry], quote: str) -> str:
    return next(e.citation for e in entries if e.quote == quote)
