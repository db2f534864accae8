"""Web UI for kb: ask a question, read a short quoted answer and the cited passages.

Run with ``./run.sh`` (or ``streamlit run app.py``). The index is the folder or Milvus collection
(``milvus://HOST:PORT/COLLECTION``) named by the ``KB_INDEX`` environment variable (default
``index/``); it is opened once per process and index version with ``st.cache_resource`` and
shared, read-only, by all sessions.

All document text and queries are rendered escaped (see :mod:`kb.ui_helpers`): a passage that
contains HTML or Markdown shows as literal text.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

# The embedding engine's OpenMP threads sleep instead of spinning while they wait: on a small,
# shared machine spinning threads slow a query down several times (measured: 0.2 s vs 0.6 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

import kb  # noqa: E402
from kb.answer.check import build_evidence  # noqa: E402
from kb.answer.client import LLMSettings  # noqa: E402
from kb.answer.extract import MAX_QUESTION_CHARS, unknown_note  # noqa: E402
from kb.answer.generate import generate  # noqa: E402
from kb.answer.prompt import sources_from_hits  # noqa: E402
from kb.answer.stream import StreamCheck  # noqa: E402
from kb.cite import hit_location  # noqa: E402
from kb.errors import KBError  # noqa: E402
from kb.location import FolderLocation, Location, default_location, generation_of, ingest_any, open_index  # noqa: E402
from kb.records import Filters  # noqa: E402
from kb.search import MAX_QUERY_CHARS  # noqa: E402
from kb.ui_helpers import (  # noqa: E402
    CHECK_NOTICE,
    count_sv,
    escape_text,
    generated_html,
    llm_problem_sv,
    progress_sv,
    screen_text,
    untrusted_text,
    verdict_badge,
)
from kb.ui_page import PageData, page_data  # noqa: E402
from kb.ui_tabs import render_export, render_hits, render_years, year_notice  # noqa: E402

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
.kb-snippet {background: transparent; border-left: none; padding: 0.1rem 0; margin: 0;}
.kb-gap {color: #8a8a8a;}
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
.kb-table {border-collapse: collapse; font-size: 0.9rem; margin: 0.3rem 0 0.5rem 0; background: #fff;}
.kb-table th, .kb-table td {padding: 0.15rem 0.6rem; border-bottom: 1px solid #e3e6ea; vertical-align: top;}
.kb-table th {font-weight: 600; border-bottom: 2px solid #c9d3e0;}
.kb-table .kb-num {text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums;}
.kb-table tr.kb-quote {background: #dcebfa;}
.kb-table .kb-tnote {font-style: italic; color: #444;}
/* Streamlit's own English texts (the toolbar, the run status, "Press Enter to apply") are not shown */
[data-testid="stToolbar"], [data-testid="stStatusWidget"], [data-testid="InputInstructions"] {display: none;}
</style>
"""


def index_root() -> Location:
    """The index folder, or a ``milvus://`` address (``KB_INDEX``, default ``index/``)."""
    return default_location()


def corpus_dir() -> Path:
    """The report folder the build button indexes (``KB_CORPUS``, default ``corpus/``)."""
    return Path(os.environ.get("KB_CORPUS") or "corpus")


@st.cache_resource(show_spinner="Öppnar sökindexet …")
def load_index(root: str, generation: str) -> kb.KnowledgeBase:
    """The index, opened once per process and generation (a rebuild publishes a new generation)."""
    kbase = open_index(root)
    _ = kbase.embedder  # load the embedding model now, not on the first query
    return kbase


def current_generation_name(root: Location) -> str:
    """The live version of the index (folder generation or Milvus build id)."""
    return generation_of(root)


# -- index missing: offer to build ----------------------------------------------------------


def build_panel(root: Location, reason: str) -> None:
    where = "i mappen" if isinstance(root, FolderLocation) else "i Milvus-samlingen"
    st.error(
        f"Det finns inget användbart sökindex {where} "
        f"**{untrusted_text(str(root))}**. "
        "Sökindexet behöver byggas från rapporterna innan du kan söka."
    )
    with st.expander("Teknisk orsak"):
        st.caption(untrusted_text(reason))
    corpus = corpus_dir()
    if not corpus.is_dir():
        st.warning(f"Hittar ingen mapp med rapporter ({escape_text(str(corpus.resolve()))}).")
        return
    n = sum(1 for p in corpus.rglob("*") if p.suffix.lower() in (".pdf", ".txt", ".md"))
    files = "1 fil" if n == 1 else f"{n} filer"
    st.write(f"Rapporter att läsa in: {files} i mappen {escape_text(str(corpus))}. De fem medföljande rapporterna "
             "tar 4–5 minuter på en ledig dator med två kärnor, omkring 8 minuter när den är upptagen.")
    if st.button("Bygg sökindexet nu", type="primary"):
        from kb.ingest.build import BuildConfig

        bar = st.progress(0.0, text="Förbereder …")
        started: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            t0 = started.setdefault(stage, time.perf_counter())
            frac = done / total if total else 1.0
            bar.progress(min(1.0, frac), text=progress_sv(stage, done, total, time.perf_counter() - t0))

        try:
            report = ingest_any([corpus], root, BuildConfig(), progress=progress)
        except KBError as e:
            st.error(f"Det gick inte att bygga sökindexet: {untrusted_text(e)}")
            return
        except (OSError, ValueError) as e:  # e.g. a folder that cannot be read: a message, not a traceback
            st.error(f"Det gick inte att bygga sökindexet ({escape_text(type(e).__name__)}: {untrusted_text(e)}). "
                     "Kontrollera att mappen med rapporterna och indexmappen går att läsa och skriva.")
            return
        if report.refused:  # nothing could be read: nothing was published (kb.ingest.guard)
            st.error(f"Inget sökindex byggdes: ingen rapport kunde läsas in ({len(report.failed)} misslyckades). "
                     f"Teknisk orsak: {escape_text(report.refused)}")
            return
        bar.progress(1.0, text="Klart")
        st.success(f"Sökindexet är byggt: {count_sv(report.documents, 'rapport', 'rapporter')}, "
                   f"{count_sv(report.passages, 'passage', 'passager')}.")
        load_index.clear()
        st.rerun()


# -- sidebar --------------------------------------------------------------------------------


def sidebar(kbase: kb.KnowledgeBase) -> tuple[Filters, int]:
    """The filters as pills (their texts are ours; no "Select all"); years and the number of hits
    live in the URL (``?ar=2023&k=10``), so a search can be shared."""
    f = kbase.facets()
    titles = dict(f.documents)
    with st.sidebar:
        st.header("Avgränsa sökningen")
        st.caption("Inget val betyder alla.")
        years = st.pills("År", f.years, selection_mode="multi", key="ar", bind="query-params")
        orgs = st.pills("Organisation", f.organisations, selection_mode="multi", key="org", bind="query-params")
        types = st.pills("Typ av rapport", f.doc_types, selection_mode="multi", key="typ", bind="query-params")
        docs = st.pills("Rapport", list(titles), selection_mode="multi", format_func=lambda d: titles.get(d, d),
                        key="rapport", bind="query-params")
        n = st.slider("Antal träffar", 3, 30, 10, key="k", bind="query-params")
        st.divider()
        index_panel(kbase)
    return Filters(years=tuple(sorted(years or ())), organisations=tuple(orgs or ()), doc_types=tuple(types or ()),
                   doc_ids=tuple(docs or ())), n


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
        for d in kbase.facets().documents:
            st.caption(escape_text(d[1]))


def llm_status() -> str:
    """The language model server for generated answers, as shown in the index panel."""
    try:
        s = LLMSettings.from_env()
    except KBError as e:
        return f"felaktigt inställd ({untrusted_text(e)})"
    if s is None:
        return "av (KB_LLM_URL är inte satt)"
    return f"`{s.model.replace('`', '')}` på {escape_text(s.display_url())}"


# -- rendering ------------------------------------------------------------------------------


def render_answer(data: PageData) -> None:
    ans = data.answer
    st.subheader("Svar")
    if ans is None or ans.verdict == "none" or not ans.sentences:  # "uncertain": quoted below, marked for checking
        note = unknown_note(ans.unknown) if ans else ""  # the question's own tokens: letters and digits only
        st.info("Rapporterna säger inte tydligt svaret på frågan. " + (f"{note} " if note else "")
                + "Här nedan är de passager som ligger närmast – läs dem, de kan ändå innehålla det du söker.")
        return
    hits = {v.hit.rank: v.hit for v in data.hits}
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


def llm_switch() -> LLMSettings | None:
    """The switch for an answer written by a language model; its settings when it is on."""
    try:
        settings = LLMSettings.from_env()
    except KBError as e:
        st.caption(f"Språkmodellen är felaktigt inställd: {untrusted_text(e)}")
        return None
    if settings is None:
        st.caption("Svar skrivna av en språkmodell är avstängda. Sätt miljövariablerna KB_LLM_URL (adressen till en "
                   "OpenAI-kompatibel server) och KB_LLM_MODEL och starta om för att slå på dem.")
        return None
    on = st.toggle("Skriv ett svar med språkmodell", key="llm_on",
                   help=f"Modellen {settings.model} skriver ett kort svar ur träffarna; "
                        "varje mening kontrolleras mot källan.")
    return settings if on else None


def render_generated(kbase: kb.KnowledgeBase, data: PageData, settings: LLMSettings) -> None:
    """The generated answer (kb.answer.generate), streamed sentence by sentence into its own area,
    each sentence checked against the passages it cites; unsupported ones are marked "ej belagt".
    Called after the hits are drawn, so they stay on the page while it streams. The result is kept
    per question, so other clicks do not ask again."""
    sources = sources_from_hits(tuple(v.hit for v in data.hits))
    key = (data.query, settings.url, settings.model, tuple(s.text for s in sources))
    st.subheader("Svar skrivet av språkmodell")
    box = st.empty()
    cached = st.session_state.get("llm_answer")
    if cached is not None and cached[0] == key:
        gen = cached[1]
    else:
        checker, shown = StreamCheck(build_evidence(sources, kbase.analyzer), kbase.analyzer), [-1]

        def on_text(text: str) -> None:
            done = checker.update(text)  # each completed sentence checked once, not the whole answer again
            if len(done) != shown[0]:
                shown[0] = len(done)
                box.html(generated_html(done, writing=True))

        box.html(generated_html((), writing=True))
        gen = generate(settings, data.query, sources, kbase.analyzer, on_text)
        st.session_state["llm_answer"] = (key, gen)
    if gen.error:
        box.warning(f"{llm_problem_sv(gen.error)} Teknisk orsak: {untrusted_text(gen.error)}")
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


def set_query(q: str) -> None:
    st.session_state["q"] = q


def search_box() -> str:
    """The question box with a "Sök" button beside it; the question lives in the URL (``?q=…``)."""
    box, button = st.columns([8, 1], vertical_alignment="bottom")
    query = box.text_input("Fråga eller sökord", key="q", bind="query-params", max_chars=MAX_QUERY_CHARS,
                           placeholder="Skriv en fråga, t.ex. ”varför underskott inom LSS 2023”")
    button.button("Sök", type="primary", key="sok", use_container_width=True)
    return (query or "").strip()


def cached_page(kbase: kb.KnowledgeBase, query: str, filters: Filters, k: int) -> PageData:
    """The page data for this question, kept per session so a click elsewhere does not search again."""
    use_years = bool(st.session_state.get("use_query_years", True))
    key = (kbase.generation, query, filters, k, use_years)
    kept = st.session_state.get("page")
    if kept is not None and kept[0] == key:
        return kept[1]
    with st.spinner("Söker …"):
        data = page_data(kbase, query, filters, k, use_years)
    st.session_state["page"] = (key, data)
    return data


def render_page(kbase: kb.KnowledgeBase, data: PageData) -> None:
    """The answer, an area for a generated answer, then the tabs with the hits (a new question opens
    on the hits), the cross-year view and the export; the generated answer streams in last."""
    year_notice(data)
    if data.problem:
        st.warning(QUESTION_PROBLEMS[data.problem])
        return
    if not data.hits:
        st.subheader("Svar")
        st.warning("Inga träffar. Pröva andra ord, eller ta bort avgränsningar i sidomenyn.")
        return
    render_answer(data)
    generated = st.container()
    with generated:
        settings = llm_switch()
    tabs_key = "flikar-" + hashlib.sha1(repr((data.query, data.filters, data.k)).encode()).hexdigest()[:12]
    tab_hits, tab_years, tab_export = st.tabs(
        [f"Träffar ({len(data.hits)})", "Över åren", "Exportera underlag"], key=tabs_key)
    with tab_hits:
        render_hits(data)
    with tab_years:
        render_years(data)
    with tab_export:
        render_export(data)
    if settings is not None:
        with generated:
            render_generated(kbase, data, settings)


def main() -> None:
    st.set_page_config(page_title="Sök i Linköpings rapporter", page_icon="🔎", layout="wide")
    st.html(CSS)
    st.title("Sök i Linköpings rapporter")
    st.caption("Verksamhetsberättelser, budgetar och uppföljningar. Svaren citeras ordagrant med källa.")

    root = index_root()
    try:
        kbase = load_index(str(root), current_generation_name(root))
    except KBError as e:  # IndexMissingError included
        build_panel(root, str(e))
        return

    filters, n_hits = sidebar(kbase)
    query = search_box()
    if not query:
        st.write("Exempel på frågor:")
        cols = st.columns(len(EXAMPLES))
        for col, ex in zip(cols, EXAMPLES):
            col.button(ex, on_click=set_query, args=(ex,), key=f"ex:{ex}")
        return
    render_page(kbase, cached_page(kbase, query, filters, n_hits))


main()
