"""The result tabs of the UI (app.py), drawn with Streamlit from a :class:`kb.ui_page.PageData`: the
compact hit list, the years tab ("Över åren": the series chart and the hits per year) and the export
tab. They only render: everything shown was gathered by :func:`kb.ui_page.page_data` before.
All document text goes through the escaping helpers of :mod:`kb.ui_helpers`.
"""
from __future__ import annotations

import streamlit as st

from .cite import chunk_location, hit_location
from .records import Hit
from .ui_helpers import (
    ExportMeta,
    chosen_sv,
    citation_parts,
    count_sv,
    escape_text,
    export_csv,
    export_json,
    export_markdown,
    format_score,
    group_by_year,
    hits_per_year,
    passage_html,
    snippet_html,
    snippet_spans,
)
from .ui_page import HitView, PageData
from .ui_series import series_view


def meta_html(hit: Hit) -> str:
    parts = [p for label, p in citation_parts(hit) if label != "Rapport"]
    return " · ".join(escape_text(p) for p in parts)


def render_hit(view: HitView, data: PageData, top_score: float) -> None:
    """One hit, compact: its title line and citation, the sentences that match (quotes marked); the
    whole passage with its neighbours in an expander."""
    hit, analyzer, terms = view.hit, data.analyzer, data.terms

    def local(c) -> list[tuple[int, int, str]]:
        return [(a - c.start, b - c.start, where) for a, b, where in view.quotes]

    with st.container(border=True):
        head, pick = st.columns([6, 1])
        with head:
            st.html(
                f"<p class='kb-cite' id='traff-{hit.rank}'>[{hit.rank}] {escape_text(hit.title)}</p>"
                f"<p class='kb-meta'>{meta_html(hit)}</p>"
            )
        with pick:
            st.checkbox("Välj för export", key=f"sel:{hit.chunk_id}")
        spans = snippet_spans(hit.text, analyzer, terms, local(hit))
        snippet = snippet_html(hit.text, spans, local(hit), analyzer, terms)
        st.html(f"<div class='kb-passage kb-snippet'>{snippet}</div>")
        if hit.also_at:
            others = "; ".join(escape_text(a) for a in hit.also_at)
            st.html(f"<p class='kb-meta'>Samma text finns även i: {others}</p>")
        with st.expander("Visa hela passagen och sammanhanget"):
            for label, c in view.context:
                cls = "kb-passage kb-current" if c.chunk_id == hit.chunk_id else "kb-passage"
                # a quote that begins in the passage before (kb.answer.extract.reach_back) or ends in the one
                # after (a lead-in's list, kb.answer.extract.list_after) is marked there too
                marked = passage_html(c.text, [(a, b, "") for a, b, _ in local(c)], analyzer, terms)
                where = escape_text(chunk_location(c))
                st.html(f"<p class='kb-meta'>{label} · {where}</p><div class='{cls}'>{marked}</div>")
            rel = hit.score / top_score if top_score else 0.0
            st.caption(f"Poäng {format_score(hit.score)} (relevans {rel:.0%} av bästa träffen)".replace("%", " %"))
            if view.pdf is not None:
                page = f", se {hit_location(hit)}" if hit.page is not None else ""
                st.download_button(f"Ladda ner rapporten (PDF{page})", data=view.pdf.read_bytes,
                                   file_name=view.pdf.name, mime="application/pdf", key=f"pdf:{hit.chunk_id}",
                                   on_click="ignore")


def render_hits(data: PageData) -> None:
    secs = f"{data.seconds:.2f}".replace(".", ",")
    st.html(
        f"<p class='kb-meta kb-timing'>{count_sv(len(data.hits), 'träff', 'träffar')} för ”{escape_text(data.query)}” "
        f"på {secs} s. Ord från frågan är <mark>markerade</mark>. Kryssa i <i>Välj för export</i> och öppna fliken "
        "<i>Exportera underlag</i> för att spara träffar med källhänvisning.</p>"
    )
    top = data.hits[0].hit.score
    for view in data.hits:
        render_hit(view, data, top)


def render_series(data: PageData) -> None:
    """The figure the question asks about, year by year: a chart and its values with sources (kb.ui_series)."""
    view = series_view(data.series, [v.hit for v in data.hits])
    st.markdown("**Siffran år för år**")
    st.vega_lite_chart(view.chart, width="stretch")
    st.html(view.table_html)
    st.caption("Värdena är avlästa ur rapporternas tabeller; citaten visar raden under sin rubrik. "
               "Rapporter kan ange olika värden för samma år (utfall, budget, plan).")


def render_years(data: PageData) -> None:
    if data.series:
        render_series(data)
    if not data.years:
        st.write("Inga träffar att visa per år.")
        return
    st.caption(f"De {len(data.years)} bästa passagerna för frågan, utan att något år prioriteras, "
               "fördelade på rapportens år.")
    counts = hits_per_year(data.years)
    import pandas as pd

    st.bar_chart(pd.DataFrame({"År": list(counts), "Träffar": list(counts.values())}), x="År", y="Träffar",
                 x_label="Rapportår", y_label="Antal träffar", horizontal=True, height=90 + 45 * len(counts))
    for year, hs in group_by_year(data.years, per_year=3):
        st.markdown(f"**{escape_text(year)}** – {count_sv(counts[year], 'träff', 'träffar')}, de bästa:")
        for h in hs:
            spans = snippet_spans(h.text, data.analyzer, data.terms, n=2)
            st.html(f"<p class='kb-meta'><b>{escape_text(h.title)}</b> · {meta_html(h)}</p>"
                    f"<div class='kb-passage'>{snippet_html(h.text, spans, (), data.analyzer, data.terms)}</div>")


def render_export(data: PageData) -> None:
    hits = tuple(v.hit for v in data.hits)
    chosen = [h for h in hits if st.session_state.get(f"sel:{h.chunk_id}")]
    if chosen:
        st.write(f"{chosen_sv(len(chosen))} och exporteras: " + ", ".join(f"[{h.rank}]" for h in chosen))
    else:
        chosen = list(hits)
        st.write("Inga träffar är valda – alla träffar exporteras. "
                 "Kryssa i *Välj för export* vid en träff för att välja.")
    st.html("<ul class='kb-meta'>"
            + "".join(f"<li>[{h.rank}] {escape_text(h.citation)}</li>" for h in chosen) + "</ul>")
    f = data.filters
    fdesc = "; ".join(
        f"{name}: {', '.join(map(str, vals))}"
        for name, vals in (("år", f.years), ("organisation", f.organisations), ("typ", f.doc_types),
                           ("rapport", f.doc_ids))
        if vals
    )
    meta = ExportMeta.now(data.query, data.index_version, data.index_created, fdesc)
    answer_rows = data.answer.to_json() if data.answer is not None else []
    c1, c2, c3 = st.columns(3)
    c1.download_button("Ladda ner CSV", export_csv(meta, chosen), file_name="underlag.csv", mime="text/csv",
                       key="dl_csv", on_click="ignore", use_container_width=True)
    c2.download_button("Ladda ner Markdown", export_markdown(meta, chosen, answer_rows), file_name="underlag.md",
                       mime="text/markdown", key="dl_md", on_click="ignore", use_container_width=True)
    c3.download_button("Ladda ner JSON", export_json(meta, chosen, answer_rows), file_name="underlag.json",
                       mime="application/json", key="dl_json", on_click="ignore", use_container_width=True)
    st.caption("Exporten innehåller frågan, tidpunkt, indexversion, fullständig källhänvisning och passagens text "
               "(i CSV och JSON exakt som i rapporten, i Markdown ombruten för läsning).")


def year_notice(data: PageData) -> None:
    """Explain how years named in the question are used; the switch is read before the search."""
    info, filters = data.info, data.filters
    if not info.years:
        return
    years = ", ".join(map(str, info.years))
    if filters.years:
        st.caption(f"Frågan nämner {years}, men årsvalet i sidomenyn gäller: bara rapporter om "
                   f"{', '.join(map(str, filters.years))} visas.")
        return
    use = st.checkbox(f"Använd året i frågan ({years})", value=True, key="use_query_years",
                      help="Träffar ur rapporter om det året visas först. Inga träffar döljs.")
    if use:
        msg = f"Frågan nämner {years}: träffar ur rapporter om {years} visas först (andra år visas också)."
    else:
        msg = f"Året {years} i frågan används inte för att sortera träffarna."
    if data.missing_years:
        msg += f" Det finns inga rapporter om {', '.join(map(str, data.missing_years))} i sökindexet."
    st.caption(msg + " Välj år i sidomenyn för att bara se vissa år.")
