"""Reading the sources in a real browser (issue 26): `streamlit run app.py` on small hash-embedder
indexes (fast loop) and on the real index (slow), driven with Playwright and the system's headless
Chromium. Screenshots go to artifacts/ (git-ignored): look at them."""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import re  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import llmfake  # noqa: E402
import pytest  # noqa: E402
from conftest import SMALL_DOCS  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _serve  # noqa: E402

from kb.ingest.build import BuildConfig, build_index  # noqa: E402

TABLE_DOC = (
    " Personal\n"
    "Sjukfrånvaron minskade under året enligt tabellen nedan.\n\n"
    "Personal\tUtfall 2021\tUtfall 2022\tUtfall 2023\n"
    "Total sjukfrånvaro\t8,0 %\t7,5 %\t6,9 %\n"
    "Antal anställda\t2 417\t2 390\t2 402\n"
)
# Streamlit's own English texts that must not reach the page (widgets, toolbar, status, hints)
ENGLISH = ("Select all", "Press Enter", "Deploy", "Running", "Stop", "Choose an option", "No results",
           "Clear all", "Rerun", "Settings", "Search")


@pytest.fixture(scope="module")
def chromium():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(chromium) -> Iterator[Page]:
    """A page at 1400 × 1000 px, Swedish locale."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="sv-SE")
    p = ctx.new_page()
    p.set_default_timeout(60_000)
    try:
        yield p
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def slow_model() -> Iterator[llmfake.FakeLLM]:
    """A model server that writes "mer " every 0.4 s and never finishes (the answer times out)."""
    with llmfake.FakeLLM("trickle", delay=0.4) as fake:
        yield fake


@pytest.fixture(scope="module")
def small_server(tmp_path_factory, slow_model) -> Iterator[str]:
    base = tmp_path_factory.mktemp("reading")
    corpus = base / "corpus"
    corpus.mkdir()
    for name, text in SMALL_DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / "leanlink-personalrapport-2023.txt").write_text(TABLE_DOC, encoding="utf-8")
    build_index([corpus], base / "index", BuildConfig(embedder="hash:64"))
    yield from _serve(base / "index", base / "streamlit.log", KB_LLM_URL=slow_model.url, KB_LLM_MODEL="fake",
                      KB_LLM_TIMEOUT="8")


def _hits(page: Page) -> None:
    expect(page.locator(".kb-cite").first).to_be_visible(timeout=90_000)
    expect(page.get_by_label("Fråga eller sökord")).to_be_visible(timeout=60_000)  # widgets drawn, not placeholders
    expect(page.get_by_role("button", name="Sök", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Välj för export").first).to_be_visible(timeout=60_000)
    page.wait_for_load_state("networkidle")


def _ask(page: Page, query: str, enter: bool = True) -> None:
    box = page.get_by_label("Fråga eller sökord")
    box.fill(query)
    if enter:
        box.press("Enter")
    else:
        page.get_by_role("button", name="Sök", exact=True).click()
    expect(page.locator(".kb-timing", has_text=f"”{query}”")).to_be_visible(timeout=60_000)


def test_a_shared_url_opens_on_the_answer(page: Page, small_server: str):
    page.goto(small_server + "/?q=varf%C3%B6r+underskott+inom+LSS&ar=2019&k=5")
    _hits(page)
    expect(page.locator(".kb-answer")).to_contain_text("personlig")
    expect(page.get_by_label("Fråga eller sökord")).to_have_value("varför underskott inom LSS")
    cites = page.locator(".kb-cite").all_inner_texts()
    assert cites and all("2019" in t for t in cites), cites  # the year filter from the URL holds
    page.screenshot(path=str(ARTIFACTS / "reading-url.png"))
    # a question asked on the page goes into the URL
    _ask(page, "hemtjänst kostnader", enter=False)
    assert "q=hemtj%C3%A4nst+kostnader" in page.url or "q=hemtj%C3%A4nst%20kostnader" in page.url, page.url


def test_a_passage_reads_as_text_and_a_table_as_a_table(page: Page, small_server: str):
    page.goto(small_server)
    _ask(page, "personalomsättning hemtjänst personlig assistans")
    text = page.locator(".kb-passage").all_inner_texts()
    joined = "\n".join(text)
    assert "hemtjänstverksamheten" in joined and "hemtjänst-" not in joined, joined
    assert "personlig assistans där ersättningen" in joined.replace("\n", "¶"), joined  # no break inside
    page.screenshot(path=str(ARTIFACTS / "reading-passage.png"))
    _ask(page, "sjukfrånvaro antal anställda")
    table = page.locator("table.kb-table").first
    expect(table).to_be_visible()
    expect(table.locator("th").nth(1)).to_have_text("Utfall 2021")
    cell = table.locator("td.kb-num", has_text="2 417")
    expect(cell).to_be_visible()
    assert cell.evaluate("e => getComputedStyle(e).textAlign") == "right"
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "reading-table.png"))


def test_a_new_question_opens_on_its_hits(page: Page, small_server: str):
    page.goto(small_server)
    _ask(page, "sjukfrånvaro")
    page.get_by_role("tab", name="Exportera underlag").click()
    expect(page.get_by_role("button", name="Ladda ner CSV")).to_be_visible()
    _ask(page, "underskott inom LSS")
    expect(page.locator("[role=tab][aria-selected=true]")).to_have_text(re.compile(r"^Träffar"))
    expect(page.locator(".kb-cite").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "reading-new-question.png"))


def test_no_english_widget_text(page: Page, small_server: str):
    page.goto(small_server)
    _ask(page, "underskott inom LSS")
    page.get_by_text("Visa hela passagen och sammanhanget").first.click()
    shown = page.locator("body").inner_text()
    found = [w for w in ENGLISH if w in shown]
    assert not found, found
    labels = page.locator("[data-testid=stWidgetLabel], button, [role=tab]").all_inner_texts()
    english = [x for x in labels if re.search(r"\b(the|all|select|search|clear|enter|choose)\b", x, re.I)]
    assert not english, english
    page.screenshot(path=str(ARTIFACTS / "reading-swedish.png"))


def test_hits_stay_while_a_slow_model_writes(page: Page, small_server: str, slow_model):
    page.goto(small_server)
    _ask(page, "varför underskott inom LSS")
    page.get_by_text("Skriv ett svar med språkmodell").click()
    writing = page.locator(".kb-generated", has_text="skriver")
    expect(writing).to_be_visible(timeout=30_000)
    # while the model writes: the quoted answer, the tabs and the hits are on the page
    expect(page.locator(".kb-answer").first).to_be_visible()
    expect(page.get_by_role("tab", name=re.compile("^Träffar"))).to_be_visible()
    assert page.locator(".kb-cite").count() >= 2 and page.locator(".kb-cite").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "reading-streaming.png"))
    expect(page.get_by_text("Språkmodellen kunde inte svara")).to_be_visible(timeout=30_000)  # it never finishes
    expect(page.locator(".kb-cite").first).to_be_visible()


def test_the_lss_url_answers_on_the_real_index(page: Page, real_index: Path, tmp_path: Path):
    gen = _serve(real_index, tmp_path / "streamlit.log")
    url = next(gen)
    try:
        page.goto(url + "/?q=varf%C3%B6r+underskott+inom+LSS+2023")
        _hits(page)
        expect(page.locator(".kb-answer")).to_contain_text("assistans")
        tops = page.locator(".kb-cite").evaluate_all("es => es.map(e => e.getBoundingClientRect().top)")
        assert len(tops) == 10 and tops[-1] - tops[0] < 3300, tops  # ten hits in about three screens
        page.screenshot(path=str(ARTIFACTS / "reading-lss.png"))
        shown = "\n".join(page.locator(".kb-passage").all_inner_texts())
        broken = re.findall(r"\w+- (?!och|eller|samt|till|som)[a-zåäö]\w*", shown)  # "re- dovisar"; not "löne- och"
        assert not broken, broken
    finally:
        gen.close()
