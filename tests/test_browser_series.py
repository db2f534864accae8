"""The "Över åren" tab's series in a real browser (Playwright and the system's headless Chromium,
as tests/test_browser.py): the chart is drawn and the table's sources go to their hits.
Screenshots go to artifacts/ (git-ignored). Slow: it uses the real index."""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402
from test_browser import ARTIFACTS, _search, _serve, browser, page  # noqa: E402, F401

QUESTION = "Total sjukfrånvaro för Verksamhetsstöd och service år för år 2019–2023?"


@pytest.fixture(scope="module")
def series_server(real_index, tmp_path_factory) -> Iterator[str]:
    yield from _serve(real_index, tmp_path_factory.mktemp("st-series") / "streamlit.log")


def test_the_years_tab_shows_the_series_chart_and_its_sources(page: Page, series_server: str):  # noqa: F811
    _search(page, series_server, QUESTION)
    page.get_by_role("tab", name="Över åren").click()
    expect(page.get_by_text("Siffran år för år")).to_be_visible()
    chart = page.locator("[data-testid=stVegaLiteChart]").first
    expect(chart).to_be_visible()
    expect(chart.locator("canvas, svg").first).to_be_visible()
    table = page.locator("table.kb-series")
    expect(table).to_be_visible()
    for value in ("3,8", "4,7", "4,6", "7,0", "6,3"):  # the service unit's total sickness absence 2019–2023
        expect(table).to_contain_text(value)
    link = table.locator("a.kb-ref").first
    href = link.get_attribute("href")
    assert href and href.startswith("#traff-")
    assert page.locator(href).count() == 1
    quote = page.locator(".kb-series-quote table.kb-table").first
    expect(quote).to_contain_text("Total sjukfrånvaro")
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "series-chart.png"), full_page=False)
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "series-table.png"), full_page=False)
    assert Path(ARTIFACTS / "series-table.png").stat().st_size > 0
