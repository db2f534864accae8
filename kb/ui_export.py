"""Evidence export of the web UI: CSV, JSON and Markdown.

Each format carries the query, the time of export, the index version and, per selected hit, the
full citation and the passage. CSV and JSON keep the passage's exact text (``document_text[start:end]``,
the offsets cite it); Markdown is for reading: the passage reflowed (:func:`kb.reflow.reflow`) and its
tables (:func:`kb.tables.find_tables`) as Markdown tables, every value escaped (:mod:`kb.sanitize`).
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .records import Hit
from .reflow import reflow
from .sanitize import csv_cell, md_inline, md_quote_line
from .tables import Table, find_tables

# PDF conversions write list bullets as private-use characters that fonts show as boxes (as on screen)
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")

# -- evidence export ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportMeta:
    """What an evidence export is about: the query, when it was made, and from which index."""

    query: str
    exported_at: str
    index_version: str
    index_created: str | None = None
    filters: str = ""

    @classmethod
    def now(cls, query: str, index_version: str, index_created: str | None = None, filters: str = "") -> ExportMeta:
        ts = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        return cls(query, ts, index_version, index_created, filters)


EXPORT_FIELDS = (
    "rank", "citation", "title", "organisation", "year", "doc_type", "page", "line_start", "line_end",
    "section", "score", "doc_id", "chunk_id", "also_at", "text",
)


def export_rows(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    rows = []
    for h in hits:
        d = h.to_json()
        rows.append({k: d.get(k) for k in EXPORT_FIELDS})
    return rows


def export_json(meta: ExportMeta, hits: Sequence[Hit], answer: Sequence[dict] = ()) -> str:
    doc = {
        "query": meta.query,
        "exported_at": meta.exported_at,
        "index_version": meta.index_version,
        "index_created": meta.index_created,
        "filters": meta.filters,
        "answer": list(answer),
        "hits": export_rows(hits),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def export_csv(meta: ExportMeta, hits: Sequence[Hit]) -> str:
    """One row per hit; query, export time and index version repeated on each row (easy to merge).
    Every text cell passes :func:`kb.sanitize.csv_cell`, so none is read as a formula."""
    buf = io.StringIO()
    fields = ("query", "exported_at", "index_version", *EXPORT_FIELDS)
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\r\n")
    w.writeheader()
    for row in export_rows(hits):
        row = {**row, "also_at": " | ".join(row["also_at"] or ())}
        row = {"query": meta.query, "exported_at": meta.exported_at, "index_version": meta.index_version, **row}
        w.writerow({k: csv_cell(v) for k, v in row.items()})  # no cell runs as a formula
    return buf.getvalue()


def export_markdown(meta: ExportMeta, hits: Sequence[Hit], answer: Sequence[dict] = ()) -> str:
    """Evidence as Markdown. Every value from a document or the user (query, titles, citations,
    sentences, passage text) is escaped (:mod:`kb.sanitize`): raw HTML shows as text and a line
    break in a title cannot start a heading."""
    lines = [
        "# Underlag från rapportsökning",
        "",
        f"- **Fråga:** {md_inline(meta.query)}",
        f"- **Exporterad:** {md_inline(meta.exported_at)}",
        f"- **Indexversion:** {md_inline(meta.index_version)}"
        + (f" (byggt {md_inline(meta.index_created)})" if meta.index_created else ""),
    ]
    if meta.filters:
        lines.append(f"- **Avgränsningar:** {md_inline(meta.filters)}")
    if answer:
        lines += ["", "## Svar (citerade meningar)", ""]
        lines += [f"- {md_inline(a['sentence'])} [{int(a['hit_rank'])}]" for a in answer]
    lines += ["", "## Källor", ""]
    for h in hits:
        lines.append(f"### [{h.rank}] {md_inline(h.citation)}")
        lines.append("")
        lines.extend("> " + line if line else ">" for line in passage_markdown(h.text))
        if h.also_at:
            lines += ["", "Samma text även i: " + "; ".join(md_inline(a) for a in h.also_at)]
        lines += ["", f"Poäng: {h.score:.4f}", ""]
    return "\n".join(lines).rstrip() + "\n"


def table_markdown(text: str, table: Table) -> list[str]:
    """A table of ``text`` as Markdown lines: its header's columns, then each row's label and values
    (numbers right-aligned; values the detector could not place in columns as written, in the first
    value column); every cell escaped."""
    n = max([len(table.header.columns)] + [len(r.cells) for r in table.rows])
    heads = [c.text for c in table.header.columns] + [""] * (n - len(table.header.columns))
    out = ["| " + " | ".join([""] + [md_inline(h) for h in heads]) + " |", "|---|" + "---:|" * n]
    for r in table.rows:
        if r.mapped:
            cells = [c.text for c in r.cells]
        else:
            raw = " ".join(text[r.start : r.end].split())
            cells = [raw[len(r.label):].strip() if raw.startswith(r.label) else " ".join(c.text for c in r.cells)]
        cells += [""] * (n - len(cells))
        out.append("| " + " | ".join(md_inline(x) for x in [r.label, *cells]) + " |")
    return out


def passage_markdown(text: str) -> list[str]:
    """A passage as Markdown lines for reading (blank lines between paragraphs): prose reflowed,
    tables as Markdown tables, a table's lines that are not rows as text after it."""
    out: list[str] = []

    def prose(a: int, b: int) -> None:
        body = PRIVATE_USE.sub("•", reflow(text[a:b]).text)
        if body.strip():
            out.extend([*(md_quote_line(x) for x in body.split("\n")), ""])

    pos = 0
    for t in find_tables(text):
        prose(pos, t.header.start)
        out.extend([*table_markdown(text, t), ""])
        rest = [text[a:b] for a, b in zip([t.header.end, *(r.end for r in t.rows)], [r.start for r in t.rows])]
        if any(x.strip() for x in rest):  # lines between rows that are no rows (a sub-heading, a wrapped label)
            out.extend([md_quote_line(" ".join(x.split())) for x in rest if x.strip()] + [""])
        pos = t.end
    prose(pos, len(text))
    while out and not out[-1]:
        out.pop()
    return out
