"""Web UI for kb: ask a question, read a short quoted answer and the cited passages.

Run with ``./run.sh`` (or ``streamlit run app.py``). The index is the folder or Milvus collection
(``milvus://HOST:PORT/COLLECTION``) named by the ``KB_INDEX`` environment variable (default
``index/``); it is opened once per process and index version with ``st.cache_resource`` and
shared, read-only, by all sessions.

All document text and queries are rendered escaped (see :mod:`kb.ui_helpers`): a passage that
contains HTML or Markdown shows as literal text.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

# The embedding engine's OpenMP threads sleep instead of spinning while they wait: on a small,
# shared machine spinning threads slow a query down several times (measured: 0.2 s vs 0.6 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

import kb  # noqa: E402
from kb.answer.check import build_evidence, check_answer  # noqa: E402
from kb.answer.client import LLMSettings  # noqa: E402
from kb.answer.extract import MAX_QUESTION_CHARS, QuestionError, ask, unknown_note  # noqa: E402
from kb.answer.generate import generate  # noqa: E402
from kb.answer.prompt import sources_from_hits  # noqa: E402
from kb.cite import chunk_location, hit_location  # noqa: E402
from kb.errors import IndexMissingError, KBError  # noqa: E402
from kb.location import default_location, generation_of, ingest_any, open_any  # noqa: E402
from kb.records import Filters, Hit  # noqa: E402
from kb.search import MAX_QUERY_CHARS  # noqa: E402
from kb.ui_helpers import (  # noqa: E402
    CHECK_NOTICE,
    ExportMeta,
    citation_parts,
    escape_text,
    export_csv,
    export_json,
    export_markdown,
    format_score,
    generated_html,
    group_by_year,
    highlight_html,
    hits_per_year,
    matching_terms,
    passage_html,
    screen_text,
    verdict_badge,
)

EXAMPLES = (
    "varför underskott inom LSS 2023",
    "sjukfrånvaro 2019",
    "hemtjänst och äldreomsorg",
)
CSS = """
<style>
.kb-passage {font-size: 0.95rem; line-height: 1.5; background: #fafafa; border-left: 3px solid #c9d3e0;
  padding: 0.5rem 0.8rem; margin: 0.2rem 0 0.4rem 0; overflow-wrap: anywhere;}
.kb-passage.kb-current {border-left-color: #2f6fb3; background: #f2f7fc;}
.kb-passage mark {background: #ffe58a; padding: 0 1px; border-radius: 2px;}
.kb-cite {font-size: 1.02rem; font-weight: 600; margin: 0;}
.kb-meta {color: #555; font-size: 0.88rem; margin: 0.1rem 0 0.2rem 0;}
.kb-answer {font-size: 1.05rem; line-height: 1.55; margin: 0 0 0.4rem 0; background: #eef5fc;
  border: 1px solid #c9dcf0; border-radius: 0.5rem; padding: 0.7rem 1rem 0.7rem 2.2rem;}
.kb-answer li {margin: 0.2rem 0 0.35rem 0;}
.kb-ref {font-weight: 600; color: #2f6fb3; white-space: nowrap; text-decoration: none;}
.kb-src {color: #555; font-size: 0.88rem;}
.kb-unsupported {color: #8a8a8a;}
.kb-flag {font-size: 0.8rem; font-weight: 600; color: #9a3412; background: #ffedd5; border-radius: 0.3rem;
  padding: 0 0.35rem; margin-left: 0.3rem; white-space: nowrap;}
.kb-quote {background: #dcebfa; border-bottom: 2px solid #2f6fb3; padding: 0 1px;}
.kb-where {color: #2f6fb3; font-size: 0.85rem; white-space: nowrap;}
</style>
"""


def index_root() -> Path | str:
    """The index folder, or a ``milvus://`` address (``KB_INDEX``, default ``index/``)."""
    return default_location()


def corpus_dir() -> Path:
    """The report folder the build button indexes (``KB_CORPUS``, default ``corpus/``)."""
    return Path(os.environ.get("KB_CORPUS") or "corpus")


@st.cache_resource(show_spinner="Öppnar sökindexet …")
def load_index(root: str, generation: str) -> kb.KnowledgeBase:
    """The index, opened once per process and generation (a rebuild publishes a new generation)."""
    kbase = open_any(root)
    _ = kbase.embedder  # load the embedding model now, not on the first query
    return kbase


def current_generation_name(root: Path | str) -> str:
    """The live version of the index (folder generation or Milvus build id)."""
    return generation_of(root)


# -- index missing: offer to build ----------------------------------------------------------


def build_panel(root: Path | str, reason: str) -> None:
    st.error(
        f"Det finns inget användbart sökindex {'i mappen' if isinstance(root, Path) else 'i Milvus-samlingen'} "
        f"**{escape_text(str(root))}**. "
        "Sökindexet behöver byggas från rapporterna innan du kan söka."
    )
    st.caption(f"Teknisk orsak: {escape_text(reason)}")
    corpus = corpus_dir()
    if not corpus.is_dir():
        st.warning(f"Hittar ingen mapp med rapporter ({escape_text(str(corpus.resolve()))}).")
        return
    n = sum(1 for p in corpus.rglob("*") if p.suffix.lower() in (".pdf", ".txt", ".md"))
    files = "1 fil" if n == 1 else f"{n} filer"
    st.write(f"Rapporter att läsa in: {files} i mappen {escape_text(str(corpus))}. Det tar en till några minuter.")
    if st.button("Bygg sökindexet nu", type="primary"):
        from kb.ingest.build import BuildConfig

        bar = st.progress(0.0, text="Förbereder …")
        labels = {"read": "Läser rapporterna", "embed": "Analyserar passager", "write": "Skriver passager"}

        def progress(stage: str, done: int, total: int) -> None:
            frac = done / total if total else 1.0
            bar.progress(min(1.0, frac), text=f"{labels.get(stage, stage)}: {done} av {total}")

        try:
            report = ingest_any([corpus], root, BuildConfig(), progress=progress)
        except KBError as e:
            st.error(f"Det gick inte att bygga sökindexet: {escape_text(str(e))}")
            return
        except (OSError, ValueError) as e:  # e.g. a folder that cannot be read: a message, not a traceback
            st.error(f"Det gick inte att bygga sökindexet ({escape_text(type(e).__name__)}: {escape_text(str(e))}). "
                     "Kontrollera att mappen med rapporterna och indexmappen går att läsa och skriva.")
            return
        if report.refused:  # nothing could be read: nothing was published (kb.ingest.guard)
            st.error(f"Inget sökindex byggdes: ingen rapport kunde läsas in ({len(report.failed)} misslyckades). "
                     f"Teknisk orsak: {escape_text(report.refused)}")
            return
        bar.progress(1.0, text="Klart")
        st.success(f"Sökindexet är byggt: {report.documents} rapporter, {report.passages} passager.")
        load_index.clear()
        st.rerun()


# -- sidebar --------------------------------------------------------------------------------


def sidebar(kbase: kb.KnowledgeBase) -> tuple[Filters, int]:
    f = kbase.facets()
    titles = dict(f["documents"])
    with st.sidebar:
        st.header("Avgränsa sökningen")
        years = st.multiselect("År", f["years"], key="f_years", placeholder="Alla år")
        orgs = st.multiselect("Organisation", f["organisations"], key="f_orgs", placeholder="Alla organisationer")
        types = st.multiselect("Typ av rapport", f["doc_types"], key="f_types", placeholder="Alla typer")
        docs = st.multiselect(
            "Rapport", list(titles), format_func=lambda d: titles.get(d, d), key="f_docs", placeholder="Alla rapporter"
        )
        n = st.slider("Antal träffar", 3, 30, 10, key="f_k")
        st.divider()
        index_panel(kbase)
    return Filters(years=tuple(years), organisations=tuple(orgs), doc_types=tuple(types), doc_ids=tuple(docs)), n


def index_panel(kbase: kb.KnowledgeBase) -> None:
    s = kbase.stats()
    with st.expander("Om sökindexet", expanded=False):
        created = (s.get("created") or "okänt").replace("T", " ")
        st.markdown(
            f"- Rapporter: **{s['documents']}**\n"
            f"- Passager: **{s['passages']}**\n"
            f"- Språkmodell: `{s['embedder']}`\n"
            f"- Byggt: {escape_text(created)}\n"
            f"- Version: `{s['generation']}`\n"
            f"- Textgenerering: {llm_status()}"
        )
        for d in kbase.facets()["documents"]:
            st.caption(escape_text(d[1]))


# -- rendering ------------------------------------------------------------------------------


def meta_html(kbase: kb.KnowledgeBase, hit: Hit) -> str:
    parts = [p for label, p in citation_parts(hit) if label != "Rapport"]
    return " · ".join(escape_text(p) for p in parts)


def render_answer(kbase: kb.KnowledgeBase, ans, hits: dict[int, Hit], confident: bool) -> None:
    st.subheader("Svar")
    if ans.verdict == "none" or not ans.sentences:  # "uncertain": quoted below, marked for checking
        note = unknown_note(ans.unknown)  # the question's own tokens: letters and digits only, no Markdown
        st.info("Rapporterna säger inte tydligt svaret på frågan. " + (f"{note} " if note else "")
                + "Här nedan är de passager som ligger närmast – läs dem, de kan ändå innehålla det du söker.")
        return
    items = []
    for s in ans.sentences:
        h = hits.get(s.hit_rank)
        where = s.where or (hit_location(h) if h else "")
        src = f" <span class='kb-src'>({escape_text(h.title)}, {escape_text(where)})</span>" if h else ""
        items.append(
            f"<li>”{escape_text(screen_text(s.sentence))}” <a class='kb-ref' href='#traff-{s.hit_rank}' "
            f"title='Gå till träff {s.hit_rank}'>[{s.hit_rank}]</a>{src}</li>"
        )
    st.html(f"{verdict_badge(ans.verdict)}<ul class='kb-answer'>{''.join(items)}</ul>")
    st.caption("Meningarna är citerade ordagrant ur rapporterna och markerade i träffarna nedan; "
               "siffran i hakparentes går till träffen.")
    if not ans.calibrated:
        st.caption("Obs: indexets inbäddningsmodell har ingen kalibrerad gräns för osäkra svar, så ett svar "
                   "visas även när rapporterna kanske inte besvarar frågan.")


def llm_status() -> str:
    """The language model server for generated answers, as shown in the index panel."""
    try:
        s = LLMSettings.from_env()
    except KBError as e:
        return f"felaktigt inställd ({escape_text(str(e))})"
    if s is None:
        return "av (KB_LLM_URL är inte satt)"
    return f"`{s.model.replace('`', '')}` på {escape_text(s.display_url())}"


def render_generated(kbase: kb.KnowledgeBase, result) -> None:
    """The switch for an answer written by a language model (kb.answer.generate). It streams in sentence by
    sentence, each sentence checked against the passages it cites before it is shown; unsupported
    ones are marked "ej belagt". The result is kept per question, so other clicks do not ask again."""
    try:
        settings = LLMSettings.from_env()
    except KBError as e:
        st.caption(f"Språkmodellen är felaktigt inställd: {escape_text(str(e))}")
        return
    if settings is None:
        st.caption("Svar skrivna av en språkmodell är avstängda. Sätt miljövariablerna KB_LLM_URL (adressen till en "
                   "OpenAI-kompatibel server) och KB_LLM_MODEL och starta om för att slå på dem.")
        return
    if not st.toggle("Skriv ett svar med språkmodell", key="llm_on",
                     help=f"Modellen {settings.model} skriver ett kort svar ur träffarna; "
                          "varje mening kontrolleras mot källan."):
        return
    sources = sources_from_hits(result.hits)
    key = (result.query, settings.url, settings.model, tuple(s.text for s in sources))

    st.subheader("Svar skrivet av språkmodell")
    box = st.empty()
    cached = st.session_state.get("llm_answer")
    if cached is not None and cached[0] == key:
        gen = cached[1]
    else:
        evidence, shown = build_evidence(sources, kbase.analyzer), [-1]

        def on_text(text: str) -> None:
            done = check_answer(text, evidence, kbase.analyzer, complete_only=True)
            if len(done) != shown[0]:
                shown[0] = len(done)
                box.html(generated_html(done, writing=True))

        box.html(generated_html((), writing=True))
        gen = generate(settings, result.query, sources, kbase.analyzer, on_text)
        st.session_state["llm_answer"] = (key, gen)
    if gen.error:
        box.warning(f"Språkmodellen kunde inte svara, så svaret ovan är bara citerat ur rapporterna. "
                    f"Teknisk orsak: {gen.error}")
        return
    box.html(generated_html(gen.sentences, writing=False))
    if gen.fallback:
        st.info("Ingen mening i språkmodellens svar kunde beläggas i källorna. Använd det citerade svaret ovan.")
    else:
        st.caption(f"Skrivet av {escape_text(gen.model)}. Varje mening är kontrollerad mot källan i hakparentesen: "
                   "ord, siffror, årtal, negationer och riktningsord måste stå i meningen under den. Meningar märkta "
                   f"”ej belagt” kunde inte beläggas. {CHECK_NOTICE}")


QUESTION_PROBLEMS = {
    "empty": "Skriv en fråga först, t.ex. ”varför underskott inom LSS 2023”.",
    "no_words": "Frågan innehåller inga ord att söka på (bara vanliga småord eller ett årtal). "
                "Skriv vad du vill veta något om, t.ex. ”sjukfrånvaro 2023”.",
    "too_long": f"Frågan är för lång. Skriv en kortare fråga, högst {MAX_QUESTION_CHARS} tecken.",
}


def render_hit(kbase: kb.KnowledgeBase, hit: Hit, terms: frozenset[str], top_score: float, quotes=()) -> None:
    """One hit; ``quotes``: the answer's sentences from it as (start, end, where) in the document."""

    def local(c) -> list[tuple[int, int, str]]:
        return [(a - c.start, b - c.start, where) for a, b, where in quotes]

    with st.container(border=True):
        head, pick = st.columns([5, 1])
        with head:
            st.html(
                f"<p class='kb-cite' id='traff-{hit.rank}'>[{hit.rank}] {escape_text(hit.title)}</p>"
                f"<p class='kb-meta'>{meta_html(kbase, hit)}</p>"
            )
        with pick:
            st.checkbox("Välj för export", key=f"sel:{hit.chunk_id}")
        st.html(f"<div class='kb-passage'>{passage_html(hit.text, local(hit), kbase.analyzer, terms)}</div>")
        rel = hit.score / top_score if top_score else 0.0
        st.caption(f"Poäng {format_score(hit.score)} (relevans {rel:.0%} av bästa träffen)")
        if hit.also_at:
            st.html(
                "<p class='kb-meta'>Samma text finns även i: "
                + "; ".join(escape_text(a) for a in hit.also_at)
                + "</p>"
            )
        with st.expander("Visa sammanhang"):
            for c in kbase.neighbours(hit.chunk_id, before=1, after=1):
                cls = "kb-passage kb-current" if c.chunk_id == hit.chunk_id else "kb-passage"
                where = chunk_location(c)
                label = "Denna träff" if c.chunk_id == hit.chunk_id else ("Före" if c.start < hit.start else "Efter")
                # a quote that begins in the passage before (kb.answer.extract.reach_back) or ends in the one
                # after (a lead-in's list, kb.answer.extract.list_after) is marked there too
                marked = passage_html(c.text, [(a, b, "") for a, b, _ in local(c)], kbase.analyzer, terms)
                st.html(f"<p class='kb-meta'>{label} · {escape_text(where)}</p><div class='{cls}'>{marked}</div>")
        doc = kbase.document(hit.doc_id)
        path = Path(doc.path)
        if path.suffix.lower() == ".pdf" and path.is_file():
            page = f", se {hit_location(hit)}" if hit.page is not None else ""
            st.download_button(
                f"Ladda ner rapporten (PDF{page})",
                data=lambda p=path: p.read_bytes(),
                file_name=path.name,
                mime="application/pdf",
                key=f"pdf:{hit.chunk_id}",
                on_click="ignore",
            )


def render_years(kbase: kb.KnowledgeBase, query: str, filters: Filters) -> None:
    wide = kbase.search(query, k=30, filters=filters, use_query_years=False)
    if not wide.hits:
        st.write("Inga träffar att visa per år.")
        return
    st.caption(
        "De 30 bästa passagerna för frågan, utan att något år prioriteras, fördelade på rapportens år."
    )
    counts = hits_per_year(wide.hits)
    import pandas as pd

    st.bar_chart(pd.DataFrame({"År": list(counts), "Träffar": list(counts.values())}), x="År", y="Träffar",
                 x_label="Rapportår", y_label="Antal träffar", horizontal=True, height=90 + 45 * len(counts))
    for year, hs in group_by_year(wide.hits, per_year=3):
        st.markdown(f"**{escape_text(year)}** – {counts[year]} träffar, de bästa:")
        for h in hs:
            shown = h.text[:400] + (' …' if len(h.text) > 400 else '')
            st.html(
                f"<p class='kb-meta'><b>{escape_text(h.title)}</b> · {meta_html(kbase, h)}</p>"
                f"<div class='kb-passage'>"
                f"{highlight_html(shown, kbase.analyzer, matching_terms(kbase.analyzer, query))}</div>"
            )


def render_export(kbase: kb.KnowledgeBase, query: str, hits: tuple[Hit, ...], ans, filters: Filters) -> None:
    chosen = [h for h in hits if st.session_state.get(f"sel:{h.chunk_id}")]
    if chosen:
        st.write(f"{len(chosen)} valda träffar exporteras: " + ", ".join(f"[{h.rank}]" for h in chosen))
    else:
        chosen = list(hits)
        st.write("Inga träffar är valda – alla träffar exporteras. "
                 "Kryssa i *Välj för export* vid en träff för att välja.")
    st.html("<ul class='kb-meta'>"
            + "".join(f"<li>[{h.rank}] {escape_text(h.citation)}</li>" for h in chosen) + "</ul>")
    s = kbase.stats()
    version = f"{s['generation']}"
    fdesc = "; ".join(
        f"{name}: {', '.join(map(str, vals))}"
        for name, vals in (("år", filters.years), ("organisation", filters.organisations),
                           ("typ", filters.doc_types), ("rapport", filters.doc_ids))
        if vals
    )
    meta = ExportMeta.now(query, version, s.get("created"), fdesc)
    answer_rows = ans.to_json() if ans is not None else []
    c1, c2, c3 = st.columns(3)
    c1.download_button("Ladda ner CSV", export_csv(meta, chosen), file_name="underlag.csv", mime="text/csv",
                       key="dl_csv", on_click="ignore", use_container_width=True)
    c2.download_button("Ladda ner Markdown", export_markdown(meta, chosen, answer_rows), file_name="underlag.md",
                       mime="text/markdown", key="dl_md", on_click="ignore", use_container_width=True)
    c3.download_button("Ladda ner JSON", export_json(meta, chosen, answer_rows), file_name="underlag.json",
                       mime="application/json", key="dl_json", on_click="ignore", use_container_width=True)
    st.caption("Exporten innehåller frågan, tidpunkt, indexversion, fullständig källhänvisning och passagens text.")


def year_notice(kbase: kb.KnowledgeBase, info, filters: Filters) -> bool:
    """Explain how years named in the question are used; return whether to use them."""
    if not info.years:
        return True
    years = ", ".join(map(str, info.years))
    if filters.years:
        st.caption(f"Frågan nämner {years}, men årsvalet i sidomenyn gäller: bara rapporter om "
                   f"{', '.join(map(str, filters.years))} visas.")
        return True
    use = st.checkbox(f"Använd året i frågan ({years})", value=True, key="use_query_years",
                      help="Träffar ur rapporter om det året visas först. Inga träffar döljs.")
    known = set(kbase.facets()["years"])
    missing = [y for y in info.years if y not in known]
    if use:
        msg = f"Frågan nämner {years}: träffar ur rapporter om {years} visas först (andra år visas också)."
    else:
        msg = f"Året {years} i frågan används inte för att sortera träffarna."
    if missing:
        msg += f" Det finns inga rapporter om {', '.join(map(str, missing))} i sökindexet."
    st.caption(msg + " Välj år i sidomenyn för att bara se vissa år.")
    return use


def set_query(q: str) -> None:
    st.session_state["query"] = q


def main() -> None:
    st.set_page_config(page_title="Sök i Linköpings rapporter", page_icon="🔎", layout="wide")
    st.html(CSS)
    st.title("Sök i Linköpings rapporter")
    st.caption("Verksamhetsberättelser, budgetar och uppföljningar. Svaren citeras ordagrant med källa.")

    root = index_root()
    try:
        kbase = load_index(str(root), current_generation_name(root))
    except IndexMissingError as e:
        build_panel(root, str(e))
        return
    except KBError as e:
        build_panel(root, str(e))
        return

    filters, n_hits = sidebar(kbase)
    query = st.text_input(
        "Fråga eller sökord",
        key="query",
        max_chars=MAX_QUERY_CHARS,
        placeholder="Skriv en fråga, t.ex. ”varför underskott inom LSS 2023”, och tryck Enter",
    )
    query = (query or "").strip()
    if not query:
        st.write("Exempel på frågor:")
        cols = st.columns(len(EXAMPLES))
        for col, ex in zip(cols, EXAMPLES):
            col.button(ex, on_click=set_query, args=(ex,), key=f"ex:{ex}")
        return

    info = kbase.interpret(query)
    use_years = year_notice(kbase, info, filters)
    t0 = time.perf_counter()
    try:
        result, ans = ask(kbase, query, k=n_hits, filters=filters, use_query_years=use_years)
    except QuestionError as e:
        st.warning(QUESTION_PROBLEMS[e.reason])
        return
    elapsed = time.perf_counter() - t0
    st.session_state["last_latency"] = elapsed

    if not result.hits:
        st.subheader("Svar")
        st.warning("Inga träffar. Pröva andra ord, eller ta bort avgränsningar i sidomenyn.")
        return

    by_rank = {h.rank: h for h in result.hits}
    render_answer(kbase, ans, by_rank, ans.confident)
    render_generated(kbase, result)

    terms = matching_terms(kbase.analyzer, query)
    tab_hits, tab_years, tab_export = st.tabs([f"Träffar ({len(result.hits)})", "Över åren", "Exportera underlag"])
    with tab_hits:
        secs = f"{elapsed:.2f}".replace(".", ",")
        st.html(
            f"<p class='kb-meta kb-timing'>{len(result.hits)} träffar för ”{escape_text(query)}” på {secs} s. "
            "Ord från frågan är <mark>markerade</mark>. Kryssa i <i>Välj för export</i> och öppna fliken "
            "<i>Exportera underlag</i> för att spara träffar med källhänvisning.</p>"
        )
        top = result.hits[0].score
        for h in result.hits:
            quotes = [(s.start, s.end, s.where) for s in ans.sentences if s.hit_rank == h.rank]
            render_hit(kbase, h, terms, top, quotes)
    with tab_years:
        render_years(kbase, query, filters)
    with tab_export:
        render_export(kbase, query, result.hits, ans, filters)


main()
