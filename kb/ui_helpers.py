"""Pure helpers for the web UI (``app.py``): safe highlighting, citation parts and evidence export.

Everything that renders document text or a query returns HTML in which *all* of that text has
been escaped with :func:`html.escape` first; the only markup added is our own (``<mark>``,
``<span>``, ``<br>``). Markdown characters are encoded as entities too, so a passage holding
``**fet**`` or ``<script>`` shows as the literal characters wherever the HTML ends up.

Export formats (:func:`export_csv`, :func:`export_markdown`, :func:`export_json`) carry the
query, the time of export, the index version and, per selected hit, the full citation and the
passage text.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .answer.extract import NONE_NOTE, UNCERTAIN_NOTE
from .cite import hit_location
from .records import Hit
from .sanitize import csv_cell, md_inline, md_quote_line
from .text import TOKEN_PATTERN, tokenize

# PDF conversions write list bullets as private-use characters (U+F0B7, U+F0A7 …) that fonts show
# as boxes; on screen they become "•" (one character for one, so offsets hold; exports stay exact)
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
# HTML-special characters, and characters Markdown (or Streamlit's math/emoji syntax) would
# interpret, each replaced by a character reference
_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-!|~$:="}


_VERDICT_STYLE = {
    "uncertain": ("kb-verdict-uncertain", "background:#fff4e5;border-left:4px solid #d48806;"),
    "none": ("kb-verdict-none", "background:#f2f2f2;border-left:4px solid #888;"),
}


def verdict_badge(verdict: str) -> str:
    """The mark above an answer for its verdict (kb.answer.extract.VERDICTS), as HTML: "Osäkert –
    kontrollera källan" for an uncertain answer, "Rapporterna verkar inte besvara frågan." for
    none, nothing for a confident answer (or an unknown verdict)."""
    if verdict not in _VERDICT_STYLE:
        return ""
    cls, style = _VERDICT_STYLE[verdict]
    label = UNCERTAIN_NOTE if verdict == "uncertain" else NONE_NOTE
    return (f"<p class='kb-verdict {cls}' style='{style}padding:0.3rem 0.6rem;margin:0 0 0.4rem 0;"
            f"font-weight:600;'>{escape_text(label)}</p>")


def escape_text(text: str) -> str:
    """Escape ``text`` for HTML (as :func:`html.escape` does) and encode Markdown punctuation,
    so that it always shows as the literal characters."""
    return text.translate(_ESCAPES)


def matching_terms(analyzer, query: str) -> frozenset[str]:
    """The analysed terms to highlight for a query: its words' terms and their compound parts'.

    Acronym expansions of the glossary count only when they are one word (an acronym for its
    full form, "funktionshindrade" → LSS); the words of a multi-word full form ("lag", "stöd",
    "service" for LSS) would mark too much unrelated text.
    """
    terms = set()
    words = analyzer.query_words(query)  # the words the search used ("hur hög": not "hög")
    for w in words:
        terms.add(analyzer.term(w))
        terms.update(analyzer.term(p) for p in analyzer.split_compound(w))
    for exp in analyzer.expansions(words, [analyzer.term(w) for w in words]):
        toks = [t for t in tokenize(exp) if not analyzer.is_stopword(t)]
        if len(toks) == 1:
            terms.add(analyzer.term(toks[0]))
    return frozenset(terms)


def word_matches(analyzer, word: str, terms: frozenset[str]) -> bool:
    """True when a surface word, or one of its compound parts, has an analysed term among ``terms``."""
    w = word.lower()
    if analyzer.is_stopword(w):
        return False
    if analyzer.term(w) in terms:
        return True
    return any(analyzer.term(p) in terms for p in analyzer.split_compound(w))


def screen_text(text: str) -> str:
    """Text as shown on screen: private-use bullet characters from PDF conversions become "•"."""
    return _PRIVATE_USE.sub("•", text)


def highlight_html(text: str, analyzer, terms: frozenset[str], keep_lines: bool = True) -> str:
    """``text`` escaped, with words matching the query terms wrapped in ``<mark>``.

    Line breaks become ``<br>`` when ``keep_lines`` (passages keep the report's own lines),
    otherwise whitespace is collapsed. Private-use bullets show as "•" (:func:`screen_text`).
    """
    text = screen_text(text)
    if not keep_lines:
        text = " ".join(text.split())
    parts: list[str] = []
    pos = 0
    for m in TOKEN_PATTERN.finditer(text):
        if m.start() > pos:
            parts.append(escape_text(text[pos : m.start()]))
        word = m.group(0)
        if terms and word_matches(analyzer, word, terms):
            parts.append(f"<mark>{escape_text(word)}</mark>")
        else:
            parts.append(escape_text(word))
        pos = m.end()
    parts.append(escape_text(text[pos:]))
    out = "".join(parts)
    if keep_lines:
        out = out.replace("\r\n", "\n").replace("\n", "<br>")
    return out


def passage_html(text: str, quotes: Sequence[tuple[int, int, str]], analyzer, terms: frozenset[str]) -> str:
    """A passage as :func:`highlight_html`, with each quoted sentence (start, end in ``text``, its
    page or lines) wrapped in ``<span class='kb-quote'>`` and followed by where it is."""
    out: list[str] = []
    pos = 0
    for a, b, where in sorted(quotes):
        a, b = max(a, pos), min(b, len(text))
        if a >= b:
            continue
        label = f" <span class='kb-where'>({escape_text(where)})</span>" if where else ""
        out.append(highlight_html(text[pos:a], analyzer, terms))
        quoted = highlight_html(text[a:b], analyzer, terms)
        out.append(f"<span class='kb-quote' title='Citerad i svaret'>{quoted}</span>{label}")
        pos = b
    out.append(highlight_html(text[pos:], analyzer, terms))
    return "".join(out)


# -- citations ------------------------------------------------------------------------------


def citation_parts(hit: Hit) -> list[tuple[str, str]]:
    """Labelled citation fields for display, in Swedish, skipping unknown ones."""
    out = [("Rapport", hit.title)]
    if hit.organisation:
        out.append(("Organisation", hit.organisation))
    if hit.year is not None:
        out.append(("År", str(hit.year)))
    if hit.doc_type:
        out.append(("Typ", hit.doc_type))
    loc = hit_location(hit)
    if loc:
        out.append(("Plats", loc))
    if hit.section:
        out.append(("Avsnitt", hit.section))
    return out


def format_score(score: float) -> str:
    """A score with a decimal comma, as Swedish readers expect."""
    return f"{score:.4f}".replace(".", ",")


# -- cross-year view ------------------------------------------------------------------------


def hits_per_year(hits: Iterable[Hit]) -> dict[str, int]:
    """Number of hits per report year (``"okänt år"`` when a report has none), oldest first."""
    counts: dict[str, int] = {}
    for h in sorted(hits, key=lambda h: (h.year is None, h.year or 0)):
        key = str(h.year) if h.year is not None else "okänt år"
        counts[key] = counts.get(key, 0) + 1
    return counts


def group_by_year(hits: Iterable[Hit], per_year: int = 3) -> list[tuple[str, list[Hit]]]:
    """The best ``per_year`` hits of each report year, years in ascending order."""
    groups: dict[str, list[Hit]] = {}
    for h in sorted(hits, key=lambda h: h.rank):
        key = str(h.year) if h.year is not None else "okänt år"
        groups.setdefault(key, [])
        if len(groups[key]) < per_year:
            groups[key].append(h)
    return sorted(groups.items(), key=lambda kv: (kv[0] == "okänt år", kv[0]))


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
        lines.extend("> " + md_quote_line(line) if line.strip() else ">" for line in h.text.splitlines())
        if h.also_at:
            lines += ["", "Samma text även i: " + "; ".join(md_inline(a) for a in h.also_at)]
        lines += ["", f"Poäng: {h.score:.4f}", ""]
    return "\n".join(lines).rstrip() + "\n"


# -- generated answers ----------------------------------------------------------------------

CHECK_NOTICE = "Kontrollen visar att källan säger detta, inte att det är sant."


def generated_html(sentences: Sequence[Any], writing: bool = False) -> str:
    """A checked generated answer (kb.answer.check.CheckedSentence items) as an HTML list: each sentence
    with its [n] links, "ej belagt" when the check failed, and under it the source sentence it was
    aligned to. All text from the model and the documents is escaped."""
    items = []
    for s in sentences:
        refs = " ".join(f"<a class='kb-ref' href='#traff-{n}'>[{n}]</a>" for n in s.citations)
        flag = "" if s.supported else f"<span class='kb-flag' title='{escape_text(s.reason)}'>ej belagt</span>"
        quote = ""
        if s.evidence:
            ev = s.evidence[0]
            label = "Källan säger" if s.supported else "Närmaste mening i källan"
            shown = " ".join("".join(c for c in ev.text if c.isprintable() or c.isspace()).split())
            quote = f"<div class='kb-evidence'>{label} [{ev.hit}]: ”{escape_text(screen_text(shown))}”</div>"
        cls = "" if s.supported else " class='kb-unsupported'"
        items.append(f"<li{cls}>{escape_text(s.text)} {refs}{flag}{quote}</li>")
    more = "<li class='kb-unsupported'>skriver …</li>" if writing else ""
    return f"<ul class='kb-answer kb-generated'>{''.join(items)}{more}</ul>"
