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

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .answer.extract import NONE_NOTE, UNCERTAIN_NOTE
from .cite import hit_location
from .records import Hit
from .reflow import reflow
from .sanitize import one_line, redact
from .sentences import split_spans
from .tables import Table, find_tables
from .text import TOKEN_PATTERN, tokenize
from .ui_export import ExportMeta, export_csv, export_json, export_markdown, export_rows

__all__ = ["ExportMeta", "export_csv", "export_json", "export_markdown", "export_rows"]  # kept here for callers

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


# every printable ASCII character that is not a letter or digit, as a character reference
_PUNCTUATION = {c: f"&#{c};" for c in range(0x21, 0x7F) if not chr(c).isalnum()}
UNTRUSTED_CHARS = 600


def untrusted_text(text: object) -> str:
    """Text from outside kb (a server's error message, an exception's text) for any Streamlit element
    that renders Markdown (``st.warning``, ``st.caption`` …) or HTML: configured secrets redacted
    (:func:`kb.sanitize.redact`), one line without control characters, at most :data:`UNTRUSTED_CHARS`
    characters, and every ASCII punctuation character as a character reference, so that no Markdown,
    HTML, link, image or autolink (``www.…``, ``http://…``, ``a@b.se``) can form: it shows as written."""
    s = one_line(redact(text))
    if len(s) > UNTRUSTED_CHARS:
        s = s[: UNTRUSTED_CHARS - 1] + "…"
    return s.translate(_PUNCTUATION)


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


def prose_html(text: str, quotes: Sequence[tuple[int, int, str]], analyzer, terms: frozenset[str]) -> str:
    """Text for reading (:func:`kb.reflow.reflow`: lines of a sentence joined, line-break hyphens
    dropped) as :func:`highlight_html`, with each quoted sentence (start, end in ``text``, which may
    reach outside it; its page or lines, "" for none) wrapped in ``<span class='kb-quote'>`` and
    followed by where it is. Quotes and highlights land on the same words as in ``text``."""
    r = reflow(text)
    out: list[str] = []
    pos = 0
    for a, b, where in sorted(quotes):
        a, b = r.span(max(a, 0), min(b, len(text)))
        a = max(a, pos)
        if a >= b:
            continue
        label = f" <span class='kb-where'>({escape_text(where)})</span>" if where else ""
        out.append(highlight_html(r.text[pos:a], analyzer, terms))
        quoted = highlight_html(r.text[a:b], analyzer, terms)
        out.append(f"<span class='kb-quote' title='Citerad i svaret'>{quoted}</span>{label}")
        pos = b
    out.append(highlight_html(r.text[pos:], analyzer, terms))
    return "".join(out)


def table_html(text: str, table: Table, quotes: Sequence[tuple[int, int, str]], analyzer, terms: frozenset[str]) -> str:
    """A table of ``text`` (:func:`kb.tables.find_tables`) as an HTML table: the header's columns,
    one row per data row (label, then values right-aligned), a quoted row marked; lines between rows
    that are no rows (a sub-heading) as a row of their own. Every cell is escaped."""
    n = max([len(table.header.columns)] + [len(r.cells) for r in table.rows])
    heads = [c.text for c in table.header.columns] + [""] * (n - len(table.header.columns))
    out = ["<table class='kb-table'><thead><tr><th></th>"
           + "".join(f"<th class='kb-num'>{escape_text(h)}</th>" for h in heads) + "</tr></thead><tbody>"]
    pos = table.header.end
    for r in table.rows:
        between = " ".join(text[pos : r.start].split())
        if between:
            note = highlight_html(between, analyzer, terms)
            out.append(f"<tr><td colspan='{n + 1}' class='kb-tnote'>{note}</td></tr>")
        quoted = any(a < r.end and b > r.start for a, b, _ in quotes)
        if r.mapped:
            cells = [c.text for c in r.cells] + [""] * (n - len(r.cells))
            values = "".join(f"<td class='kb-num'>{escape_text(c)}</td>" for c in cells)
        else:  # values the detector could not place in columns: shown as written, in one cell
            raw = " ".join(text[r.start : r.end].split())
            raw = raw[len(r.label):].strip() if raw.startswith(r.label) else " ".join(c.text for c in r.cells)
            values = f"<td colspan='{n}' class='kb-num'>{escape_text(raw)}</td>"
        cls = " class='kb-quote'" if quoted else ""
        out.append(f"<tr{cls}><td>{highlight_html(r.label, analyzer, terms)}</td>{values}</tr>")
        pos = r.end
    return "".join(out) + "</tbody></table>"


def passage_html(text: str, quotes: Sequence[tuple[int, int, str]], analyzer, terms: frozenset[str]) -> str:
    """A passage for reading: its prose as :func:`prose_html`, its tables as :func:`table_html`."""
    out: list[str] = []
    pos = 0

    def prose(a: int, b: int) -> None:
        local = [(qa - a, qb - a, where if qb <= b or b == len(text) else "") for qa, qb, where in quotes]
        if text[a:b].strip():
            out.append(prose_html(text[a:b], local, analyzer, terms))

    for t in find_tables(text):
        prose(pos, t.header.start)
        out.append(table_html(text, t, quotes, analyzer, terms))
        pos = t.end
    prose(pos, len(text))
    return "".join(out)


def snippet_spans(text: str, analyzer, terms: frozenset[str], quotes: Sequence[tuple[int, int, str]] = (),
                  n: int = 3, whole: int = 360) -> list[tuple[int, int]]:
    """The parts of a passage a result list shows: the whole of a short passage, else its ``n``
    evidence units (:func:`kb.sentences.split_spans`) that hold a quote or the most query words
    (the first two when none does), in order; neighbouring units are one span."""
    if len(text) <= whole:
        return [(0, len(text))]
    units = split_spans(text)

    def score(a: int, b: int) -> int:
        words = {w.lower() for w in TOKEN_PATTERN.findall(text[a:b])}
        quoted = any(qa < b and qb > a for qa, qb, _ in quotes)
        return 100 * quoted + sum(1 for w in words if word_matches(analyzer, w, terms))

    scored = [(score(u.start, u.end), i) for i, u in enumerate(units)]
    best = sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))[:n]
    picked = sorted(i for _, i in best) or list(range(min(2, len(units))))
    tables = [(t.header.start, t.end) for t in find_tables(text)]
    spans: list[tuple[int, int]] = []
    for i in picked:
        a, b = units[i].start, units[i].end
        a, b = next(((ta, tb) for ta, tb in tables if ta < b and tb > a), (a, b))  # a table is shown whole
        if spans and not text[spans[-1][1] : a].strip():  # next to (or inside) the one before
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
        else:
            spans.append((a, b))
    return spans


def snippet_html(text: str, spans: Sequence[tuple[int, int]], quotes: Sequence[tuple[int, int, str]],
                 analyzer, terms: frozenset[str]) -> str:
    """The chosen parts of a passage (:func:`snippet_spans`) as :func:`passage_html`, "…" between and
    around them where text is left out."""
    gap = " <span class='kb-gap'>…</span> "
    parts = []
    for a, b in spans:
        local = [(qa - a, qb - a, where) for qa, qb, where in quotes]
        parts.append(passage_html(text[a:b], local, analyzer, terms))
    lead = gap.lstrip() if spans and text[: spans[0][0]].strip() else ""
    tail = gap.rstrip() if spans and text[spans[-1][1] :].strip() else ""
    return lead + gap.join(parts) + tail


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


# -- Swedish wording ------------------------------------------------------------------------


def number_sv(n: int) -> str:
    """An integer as Swedish text: groups of three digits with a (no-break) space, "4 951"."""
    return f"{n:,}".replace(",", "\u00a0")


def count_sv(n: int, one: str, many: str) -> str:
    """"1 träff", "2 träffar": a count with the right form of the noun."""
    return f"{number_sv(n)} {one if n == 1 else many}"


def chosen_sv(n: int) -> str:
    """"1 träff är vald", "3 träffar är valda"."""
    return f"{count_sv(n, 'träff', 'träffar')} {'är vald' if n == 1 else 'är valda'}"


def duration_sv(seconds: float) -> str:
    """A remaining time as a Swedish reader says it: "under en minut", "ungefär 4 minuter"."""
    minutes = round(seconds / 60)
    if seconds < 60:
        return "under en minut"
    return "ungefär 1 minut" if minutes <= 1 else f"ungefär {minutes} minuter"


BUILD_STAGES = {"read": "Läser rapporterna", "embed": "Bäddar in passager och evidensmeningar",
                "write": "Skriver passager"}


def progress_sv(stage: str, done: int, total: int, seconds: float) -> str:
    """The build progress line: what is done, "x av y" in one count, and (after 10 s of embedding)
    the time left at the rate so far. Passages are embedded before the shorter evidence sentences,
    so the rate rises as it goes and the time left is an upper bound."""
    text = f"{BUILD_STAGES.get(stage, stage)}: {number_sv(done)} av {number_sv(total)}"
    if stage == "embed" and 0 < done < total and seconds >= 10:
        text += f" – {duration_sv(seconds / done * (total - done))} kvar"
    return text


def llm_problem_sv(error: str) -> str:
    """A language model server's failure (:class:`kb.errors.LLMError`'s message, in English for the
    command line) said in Swedish for the page; the message itself goes in a "Teknisk orsak" detail."""
    if "no complete answer within" in error:
        why = "servern svarade inte färdigt i tid"
    elif "cannot reach" in error:
        why = "servern går inte att nå"
    else:
        why = "servern gav ett fel"
    return f"Språkmodellen kunde inte svara ({why}), så svaret ovan är bara citerat ur rapporterna."


REASONS_SV = (  # the checker's reasons (kb.answer.check, English for the JSON and the command line), by prefix
    ("negated, but the aligned source sentence is not", "nekar, men meningen i källan gör det inte"),
    ("drops a negation of the aligned source sentence", "tappar en negation i källans mening"),
    ("direction words not in the aligned source clause", "riktningsord som inte står i källans mening"),
    ("numbers not in the aligned source sentence", "siffror som inte står i källans mening"),
    ("cites no source", "hänvisar inte till någon källa"),
    ("cites a source that was not given", "hänvisar till en källa som inte gavs"),
    ("holds bidirectional control characters", "innehåller styrtecken för skrivriktning"),
    ("nothing to check", "inget att kontrollera"),
    ("no words to find a source sentence by", "inga ord att hitta en mening i källan med"),
    ("no sentence of the cited sources says this", "ingen mening i källorna säger detta"),
    ("words not in the aligned source sentence", "ord som inte står i källans mening"),
)


def reason_sv(reason: str) -> str:
    """Why a generated sentence is not supported, in Swedish (the quoted words and figures kept)."""
    for en, sv in REASONS_SV:
        if reason.startswith(en):
            return sv + reason[len(en):]
    return "kunde inte beläggas i källan"


# -- generated answers ----------------------------------------------------------------------

CHECK_NOTICE = "Kontrollen visar att källan säger detta, inte att det är sant."


def generated_html(sentences: Sequence[Any], writing: bool = False) -> str:
    """A checked generated answer (kb.answer.check.CheckedSentence items) as an HTML list: each sentence
    with its [n] links, "ej belagt" when the check failed, and under it the source sentence it was
    aligned to. All text from the model and the documents is escaped."""
    items = []
    for s in sentences:
        refs = " ".join(f"<a class='kb-ref' href='#traff-{n}'>[{n}]</a>" for n in s.citations)
        why = escape_text(reason_sv(s.reason))
        flag = "" if s.supported else f"<span class='kb-flag' title='{why}'>ej belagt</span>"
        quote = ""
        if s.evidence:
            ev = s.evidence[0]
            label = "Källan säger" if s.supported else "Närmaste mening i källan"
            shown = " ".join("".join(c for c in ev.text if c.isprintable() or c.isspace()).split())
            quote = (f"<div class='kb-evidence' style='font-size:0.9em;color:#555'>{label} [{ev.hit}]: "
                     f"”{escape_text(screen_text(shown))}”</div>")
        cls = "" if s.supported else " class='kb-unsupported'"
        items.append(f"<li{cls}>{escape_text(s.text)} {refs}{flag}{quote}</li>")
    more = "<li class='kb-unsupported'>skriver …</li>" if writing else ""
    return f"<ul class='kb-answer kb-generated'>{''.join(items)}{more}</ul>"
