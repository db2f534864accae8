"""kb.ui_build: the build run.sh starts says in Swedish how long a first build takes, shows one
progress line per stage with one count, and what the index holds."""
from __future__ import annotations

import io
from pathlib import Path

from kb.ingest.build import BuildConfig
from kb.ui_build import FIRST_BUILD, main

HASH = BuildConfig(embedder="hash:64")


def test_first_build_then_up_to_date(small_corpus: Path, tmp_path: Path):
    out = io.StringIO()
    assert main([str(small_corpus), str(tmp_path / "idx")], out, HASH) == 0
    text = out.getvalue()
    assert text.startswith(FIRST_BUILD) and "4–5 minuter" in FIRST_BUILD and "8 minuter" in FIRST_BUILD
    embed = [ln for ln in text.splitlines() if "Bäddar in passager och evidensmeningar" in ln]
    totals = {ln.rsplit(" av ", 1)[1].split()[0] for ln in embed}
    assert embed and len(totals) == 1  # one count from start to end
    assert embed[-1].startswith("[" + "#" * 24 + "]")
    assert "Sökindexet är byggt: 2 rapporter" in text
    again = io.StringIO()
    assert main([str(small_corpus), str(tmp_path / "idx")], again, HASH) == 0
    assert "Sökindexet är aktuellt: 2 rapporter" in again.getvalue() and FIRST_BUILD not in again.getvalue()


def test_errors_are_one_swedish_line(tmp_path: Path):
    out = io.StringIO()
    assert main([str(tmp_path), "milvus://"], out, HASH) == 2
    assert out.getvalue().startswith("run.sh: sökindexet kunde inte byggas: ") and out.getvalue().count("\n") == 1
    assert main(["bara-en"], io.StringIO()) == 2
