"""The "Över åren" tab's series (kb.ui_series): its chart and table, pure and in the app
(streamlit.testing.v1.AppTest on a small hash-embedder index)."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb.ingest.build import BuildConfig, build_index
from kb.records import Hit
from kb.series import SeriesEntry
from kb.ui_series import chart_points, quote_html, series_view

APP = Path(__file__).resolve().parent.parent / "app.py"
DOC = (
    " Personal\n"
    "Leanlink redovisar personalstatistik för hela förvaltningen nedan i tabellform.\n\n"
    "Personal 2019 2020 2021 2022 2023\n"
    "Antal tillsvidareanställda 2185 2249 2267 2377 2488\n"
    "Total sjukfrånvaro 7.9 10.6 9.8 10.5 9.7\n"
    "Män 6,1 7,0 6,5 7,7 7,2\n\n"
    "Kommentar\n\nSjukfrånvaron har minskat under året jämfört med föregående år.\n"
)
QUOTE = "Personal 2019 2020 2021 / Total sjukfrånvaro 7.9 10.6 9.8"


def entry(year: int, value: str, quote: str = QUOTE, start: int = 100) -> SeriesEntry:
    return SeriesEntry("Total sjukfrånvaro", year, value, float(value.replace(",", ".")), "%", "utfall", quote,
                       "d", start, start + 40, "Verksamhetsberättelse 2023 – Leanlink, rad 5")


def hit(rank: int, start: int, end: int) -> Hit:
    return Hit(rank=rank, chunk_id=f"d:{rank}", doc_id="d", title="T", score=1.0, text="x", start=start, end=end,
               page=None, page_end=None, line_start=1, line_end=2, section=None, year=2023, organisation=None,
               doc_type=None, citation="T")


def test_points_chart_and_table_link_each_value_to_its_hit_and_quote():
    es = [entry(2019, "7.9"), entry(2020, "10.6"), entry(2021, "9.8", "Total <b>sjuk</b> 9.8 år 2021", 900)]
    v = series_view(es, [hit(1, 0, 500), hit(2, 500, 800)])
    assert [p["År"] for p in chart_points(es)] == ["2019", "2020", "2021"]
    assert v.chart["data"]["values"] == list(v.points) and v.chart["encoding"]["x"]["field"] == "År"
    assert {p["Serie"] for p in v.points} == {"Total sjukfrånvaro · utfall · Verksamhetsberättelse 2023 – Leanlink"}
    assert v.table_html.count("href='#traff-1'") == 2 and "#traff-2" not in v.table_html
    assert v.table_html.count("href='#citat-1'") == 2 and "id='citat-2'" in v.table_html
    assert "<b>sjuk</b>" not in v.table_html and "&#60;b&#62;sjuk" in v.table_html


def test_a_quoted_row_is_shown_under_its_header_as_a_table():
    t = quote_html(QUOTE)
    assert t.startswith("<table class='kb-table'>") and "<th class='kb-num'>2020</th>" in t
    assert "<tr class='kb-quote'><td>Total sjukfrånvaro</td><td class='kb-num'>7.9</td>" in t
    assert quote_html("Sjukfrånvaron var 7,9 % <i>2019</i>.").startswith("<p class='kb-passage'>Sjukfrånvaron")


@pytest.fixture
def series_index(tmp_path) -> Path:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "leanlink-verksamhetsberattelse-2023.txt").write_text(DOC, encoding="utf-8")
    root = tmp_path / "idx"
    build_index([corpus], root, BuildConfig(embedder="hash:64"))
    return root


def test_the_years_tab_draws_the_chart_and_the_table(monkeypatch, series_index):
    monkeypatch.setenv("KB_INDEX", str(series_index))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    at.text_input(key="q").set_value("Hur har den totala sjukfrånvaron utvecklats 2021–2023?").run()
    assert not at.exception, at.exception
    charts = at.get("vega_lite_chart")
    specs = [json.loads(c.proto.spec) for c in charts]
    lines = [s for s in specs if s.get("mark", {}).get("type") == "line"]
    assert len(lines) == 1 and lines[0]["encoding"]["x"]["field"] == "År", specs
    import pyarrow as pa

    points = pa.ipc.open_stream(charts[0].proto.data.data).read_all().to_pylist()
    assert [(p["År"], p["Tal"]) for p in points] == [("2021", 9.8), ("2022", 10.5), ("2023", 9.7)]
    tables = [html.unescape(h.value) for h in at.get("html") if "kb-series" in h.value]
    assert len(tables) == 1
    t = tables[0]
    for year, value in ((2021, "9.8"), (2022, "10.5"), (2023, "9.7")):
        assert f"<tr><td>{year}</td><td class='kb-num'>{value}</td>" in t
    assert "href='#traff-" in t and "<th class='kb-num'>2019</th>" in t
