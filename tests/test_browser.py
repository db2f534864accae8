"""End to end in a real browser: `streamlit run app.py` as a subprocess, driven with Playwright
and the system's headless Chromium. Screenshots go to artifacts/ (git-ignored)."""
from __future__ import annotations

import os

# as app.py does: the embedding engine's OpenMP threads sleep rather than spin while waiting, so
# timings hold on a machine shared with other work (set before the engine is first loaded)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import csv
import io
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from kb.ingest.build import BuildConfig, build_index

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LSS = "varför underskott inom LSS 2023"
EVIL = "<script>window.__pwned=1</script>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not start at {url}")


def _serve(index: Path, log: Path, **env_extra: str) -> Iterator[str]:
    """Start `streamlit run app.py` on a free port for ``index``; always stopped afterwards."""
    port = _free_port()
    env = {**os.environ, "KB_INDEX": str(index), **env_extra}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def real_server(real_index, tmp_path_factory) -> Iterator[str]:
    yield from _serve(real_index, tmp_path_factory.mktemp("st") / "streamlit.log")


@pytest.fixture(scope="module")
def evil_server(tmp_path_factory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("evil")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "elak-rapport-2022.txt").write_text(
        f" Ekonomi\nRapporten innehåller {EVIL} och **fet** text om underskott inom LSS.\n", encoding="utf-8")
    (corpus / "vanlig-rapport-2021.txt").write_text(" Ekonomi\nEtt vanligt underskott inom hemtjänsten.\n",
                                                    encoding="utf-8")
    build_index([corpus], base / "index", BuildConfig(embedder="hash:64"))
    yield from _serve(base / "index", base / "streamlit.log")


@pytest.fixture
def page(browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="sv-SE")
    p = ctx.new_page()
    p.set_default_timeout(60_000)
    try:
        yield p
    finally:
        ctx.close()


def _search(page: Page, url: str, query: str) -> None:
    page.goto(url)
    box = page.get_by_label("Fråga eller sökord")
    expect(box).to_be_visible(timeout=90_000)
    box.fill(query)
    box.press("Enter")
    expect(page.locator(".kb-cite").first).to_be_visible(timeout=90_000)
    page.wait_for_load_state("networkidle")


def test_question_answer_citation_and_export(page: Page, real_server: str):
    page.goto(real_server)
    expect(page.get_by_role("button", name=LSS)).to_be_visible(timeout=90_000)  # example questions
    page.screenshot(path=str(ARTIFACTS / "start.png"), full_page=False)
    t0 = time.perf_counter()
    _search(page, real_server, LSS)
    first_paint = time.perf_counter() - t0
    answer = page.locator(".kb-answer")
    expect(answer).to_be_visible()
    text = answer.inner_text()
    assert "personlig assistans" in text.lower() or "gruppbost" in text.lower(), text
    marker = page.locator(".kb-answer .kb-ref").first.inner_text()  # e.g. "[2]"
    assert marker.startswith("[") and marker.endswith("]")
    n = marker.strip("[]")
    assert page.locator(".kb-answer a.kb-ref").first.get_attribute("href") == f"#traff-{n}"
    cited = page.locator(f"#traff-{n}")
    expect(cited).to_contain_text("Kommunstyrelsen")
    expect(cited).to_contain_text("2023")
    meta = cited.locator("xpath=following-sibling::p[1]")
    expect(meta).to_contain_text("Kommunstyrelsen")
    expect(page.locator(".kb-passage mark").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=False)

    # context of the first hit
    page.get_by_text("Visa hela passagen och sammanhanget").first.click()
    expect(page.get_by_text("Denna träff").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "context.png"), full_page=False)

    # evidence export: choose two hits, download CSV and JSON
    boxes = page.locator("[data-testid=stCheckbox]", has_text="Välj för export")
    boxes.nth(0).click()
    boxes.nth(1).click()
    page.get_by_role("tab", name="Exportera underlag").click()
    expect(page.get_by_text("2 träffar är valda och exporteras")).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Ladda ner CSV").click()
    assert dl.value.suggested_filename == "underlag.csv"
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_bytes().decode("utf-8"), newline="")))
    assert len(rows) == 2
    assert all(r["query"] == LSS and r["citation"] and r["text"] for r in rows)
    assert any("Kommunstyrelsen" in r["citation"] and "underskott" in r["text"].lower() for r in rows)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Ladda ner JSON").click()
    data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert data["query"] == LSS and len(data["hits"]) == 2
    assert all(h["citation"] and h["text"] for h in data["hits"])
    assert data["index_version"].startswith("gen-")
    page.screenshot(path=str(ARTIFACTS / "export.png"), full_page=False)

    page.get_by_role("tab", name="Över åren").click()
    expect(page.get_by_text("fördelade på rapportens år")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "years.png"), full_page=False)
    assert first_paint < 60


def test_injected_script_is_shown_as_text(page: Page, evil_server: str):
    _search(page, evil_server, "script fet underskott")
    passage = page.locator(".kb-passage", has_text="__pwned").first
    expect(passage).to_be_visible()
    shown = passage.inner_text()
    assert EVIL in shown and "**fet**" in shown
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator(".kb-passage strong, .kb-passage b, .kb-passage script").count() == 0
    page.screenshot(path=str(ARTIFACTS / "escaped.png"), full_page=False)


def test_each_query_in_the_page_reports_its_own_time(page: Page, real_server: str):
    """Four queries in a row each get their own results line with the server's time ("… på 0,02 s.").
    The times are written to artifacts/latency.json for reading; speed is not asserted here (a
    timed test fails when another process takes the CPU): benchmarks measure speed (bench/)."""
    _search(page, real_server, "sjukfrånvaro 2019")
    box = page.get_by_label("Fråga eller sökord")
    round_trips, server = [], []
    for q in ("hemtjänstens kostnader", "personalomsättning 2019", LSS, "sjukfrånvaro 2019"):
        box.fill(q)
        t = time.perf_counter()
        box.press("Enter")
        timing = page.locator(".kb-timing", has_text=f"”{q}”")
        expect(timing).to_be_visible(timeout=60_000)
        round_trips.append(time.perf_counter() - t)
        # "10 träffar för ”…” på 0,02 s." – the time the server spent on search and answer
        server.append(float(timing.inner_text().rsplit(" på ", 1)[1].split(" s")[0].replace(",", ".")))
    (ARTIFACTS / "latency.json").write_text(json.dumps({"server_s": server, "round_trip_s": round_trips}))
    assert len(server) == 4 and all(x >= 0 for x in server), server


def test_build_button_when_there_is_no_index(page: Page, tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leanlink-verksamhetsberattelse-2019.txt").write_text(
        " Ekonomi\nLeanlink redovisar ett underskott inom LSS-verksamheten. Underskottet beror på personlig\n"
        "assistans där ersättningen inte täcker kostnaderna.\n", encoding="utf-8")
    gen = _serve(tmp_path / "index", tmp_path / "streamlit.log", KB_CORPUS=str(corpus))
    url = next(gen)
    try:
        page.goto(url)
        expect(page.get_by_text("Det finns inget användbart sökindex")).to_be_visible(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / "no-index.png"), full_page=False)
        page.get_by_role("button", name="Bygg sökindexet nu").click()
        box = page.get_by_label("Fråga eller sökord")
        expect(box).to_be_visible(timeout=120_000)
        assert (tmp_path / "index" / "CURRENT").is_file()
        box.fill("varför underskott inom LSS")
        box.press("Enter")
        # the new index answers (a quoted sentence of the one report) and shows the passage
        expect(page.locator(".kb-answer")).to_contain_text("underskott inom LSS", timeout=60_000)
        expect(page.locator(".kb-passage").first).to_contain_text("ersättningen inte täcker")
    finally:
        gen.close()
